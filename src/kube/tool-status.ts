/**
 * Keeps each Tool's status honest, in Orka's shape (`available`, `lastCheck`, `error`,
 * `conditions[Ready]`): what `buildToolSnapshot` says of it. Written through the status subresource
 * by the Provider status leader (provider-status.ts runs the one leader loop), and only when what it
 * would write differs from what the object already says.
 */
import { Effect } from "effect"
import { buildToolSnapshot, type ToolSnapshot } from "../tools/registry.ts"
import type { KubeApiShape } from "./api.ts"
import type { KubeClientShape, KubeObject } from "./client.ts"

/** What a Tool's status should say. */
export interface ToolWant {
  readonly available: boolean
  /** the reason of the Ready condition: `Available`, or why the Tool cannot run */
  readonly reason: string
  readonly message: string
}

interface ObservedToolStatus {
  readonly available?: boolean
  readonly error?: string
  readonly conditions?: ReadonlyArray<{ type?: string; status?: string; reason?: string; message?: string; lastTransitionTime?: string }>
}

type ToolObject = KubeObject & { readonly status?: ObservedToolStatus; readonly metadata?: { readonly generation?: number } }

/** What the status of Tool `name` should say, or undefined when the snapshot does not know it. */
export const toolStatus = (name: string, snapshot: ToolSnapshot): ToolWant | undefined => {
  const problem = snapshot.unusable.get(name)
  if (problem !== undefined) return { available: false, reason: problem.reason, message: problem.message }
  if (snapshot.usable.some((u) => u.tool.metadata.name === name)) {
    return { available: true, reason: "Available", message: "Tool is available" }
  }
  return undefined
}

/**
 * The status to merge-patch, or undefined when the object already says this. `error` is set to
 * `null` (removed, in a merge patch) when the Tool is available.
 */
export const toolStatusPatch = (
  observed: ObservedToolStatus | undefined,
  want: ToolWant,
  generation: number | undefined,
  now: string
): Record<string, unknown> | undefined => {
  const status = want.available ? "True" : "False"
  const error = want.available ? undefined : want.message
  const current = observed?.conditions?.find((c) => c.type === "Ready")
  const observedError = observed?.error === "" ? undefined : observed?.error
  const same = current?.status === status && current.reason === want.reason && current.message === want.message &&
    observed?.available === want.available && observedError === error
  if (same) return undefined
  const transitioned = current?.status !== status
  const others = (observed?.conditions ?? []).filter((c) => c.type !== "Ready")
  return {
    available: want.available,
    lastCheck: now,
    error: error ?? null,
    conditions: [...others, {
      type: "Ready",
      status,
      reason: want.reason,
      message: want.message,
      lastTransitionTime: transitioned || current?.lastTransitionTime === undefined ? now : current.lastTransitionTime,
      ...(generation === undefined ? {} : { observedGeneration: generation })
    }]
  }
}

const echoWindow = 30_000

/**
 * The Tool half of the leader's reconcile: patches every Tool whose status differs. Only the leader
 * runs it; failures are logged, never fatal.
 */
export const makeToolStatusWriter = (api: KubeApiShape, kube: KubeClientShape, namespace: string): Effect.Effect<void> => {
  // What was last written per Tool: the watch echoes a write back a moment later, and until then the
  // cached object still shows the old status.
  const written = new Map<string, { readonly want: string; readonly at: number }>()
  const recentlyWritten = (name: string, want: ToolWant) => {
    const last = written.get(name)
    return last !== undefined && last.want === JSON.stringify(want) && Date.now() - last.at < echoWindow
  }

  return Effect.gen(function*() {
    for (const [name, last] of written) if (Date.now() - last.at >= echoWindow) written.delete(name)
    const objects = kube.tools.items() as ReadonlyArray<ToolObject>
    const snapshot = buildToolSnapshot(objects, kube.secrets.items(), namespace)
    const now = new Date().toISOString()
    for (const object of objects) {
      const name = object.metadata?.name
      if (name === undefined) continue
      const want = toolStatus(name, snapshot)
      if (want === undefined) continue
      const patch = toolStatusPatch(object.status, want, object.metadata?.generation, now)
      if (patch === undefined || recentlyWritten(name, want)) continue
      yield* api.patchToolStatus(object.metadata?.namespace ?? namespace, name, patch).pipe(
        Effect.tap(() => Effect.sync(() => written.set(name, { want: JSON.stringify(want), at: Date.now() }))),
        Effect.tap(() =>
          Effect.logInfo("tool status written").pipe(Effect.annotateLogs({ tool: name, available: want.available, reason: want.reason }))
        ),
        Effect.catch((e) => Effect.logWarning("tool status not written").pipe(Effect.annotateLogs({ tool: name, error: e.message })))
      )
    }
  })
}
