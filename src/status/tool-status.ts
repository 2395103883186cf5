/**
 * Keeps each Tool's status honest, in Orka's shape (`available`, `lastCheck`, `error`,
 * `conditions[Ready]`): what the tool loop's snapshot says of it. Written through the status subresource
 * by the Provider status leader (provider-status.ts runs the one leader loop), and only when what it
 * would write differs from what the object already says.
 */
import { Effect } from "effect"
import type { ToolSnapshot } from "../tools/custom-tools.ts"
import type { KubeApiShape } from "../kube/api.ts"
import type { KubeClientShape, KubeObject } from "../kube/client.ts"
import { makeEchoGuard, type ObservedConditions, type ReadyCondition, readySays, withReady } from "./ready-condition.ts"

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
  readonly conditions?: ObservedConditions
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
  const ready: ReadyCondition = { status: want.available ? "True" : "False", reason: want.reason, message: want.message }
  const error = want.available ? undefined : want.message
  const observedError = observed?.error === "" ? undefined : observed?.error
  const same = readySays(observed?.conditions, ready) && observed?.available === want.available && observedError === error
  if (same) return undefined
  return {
    available: want.available,
    lastCheck: now,
    error: error ?? null,
    conditions: withReady(observed?.conditions, ready, generation, now)
  }
}

/**
 * The Tool half of the leader's reconcile: patches every Tool whose status differs. Only the leader
 * runs it; failures are logged, never fatal.
 */
export const makeToolStatusWriter = (
  api: KubeApiShape,
  kube: KubeClientShape,
  namespace: string,
  /** what the tool loop offers now, and why not the others */
  tools: () => ToolSnapshot
): Effect.Effect<void> => {
  const written = makeEchoGuard()

  return Effect.gen(function*() {
    const objects = kube.tools.items() as ReadonlyArray<ToolObject>
    const snapshot = tools()
    const now = new Date().toISOString()
    for (const object of objects) {
      const name = object.metadata?.name
      if (name === undefined) continue
      const want = toolStatus(name, snapshot)
      if (want === undefined) continue
      const patch = toolStatusPatch(object.status, want, object.metadata?.generation, now)
      if (patch === undefined || written.recent(name, want)) continue
      yield* api.patchToolStatus(object.metadata?.namespace ?? namespace, name, patch).pipe(
        Effect.tap(() => Effect.sync(() => written.wrote(name, want))),
        Effect.tap(() =>
          Effect.logInfo("tool status written").pipe(Effect.annotateLogs({ tool: name, available: want.available, reason: want.reason }))
        ),
        Effect.catch((e) => Effect.logWarning("tool status not written").pipe(Effect.annotateLogs({ tool: name, error: e.message })))
      )
    }
  })
}
