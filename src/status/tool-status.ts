/**
 * Keeps each Tool's status honest, in Orka's shape (`available`, `lastCheck`, `error`,
 * `conditions[Ready]`): what the tool loop's snapshot says of it. Written through the status subresource
 * by the Provider status leader (provider-status.ts runs the one leader loop), and only when what it
 * would write differs from what the object already says.
 */
import * as Effect from "effect/Effect"
import type { ToolSnapshot } from "../tools/custom-tools.ts"
import type { KubeApiShape } from "../kube/api.ts"
import type { KubeClientShape } from "../kube/client.ts"
import { type ObservedConditions, type ReadyCondition, readySays, withReady } from "./ready-condition.ts"
import { makeStatusWriter, type StatusObject } from "./status-writer.ts"

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

type ToolObject = StatusObject<ObservedToolStatus>

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
 * runs it.
 */
export const makeToolStatusWriter = (
  api: KubeApiShape,
  kube: KubeClientShape,
  namespace: string,
  /** what the tool loop offers now, and why not the others */
  tools: () => ToolSnapshot
): Effect.Effect<void> => {
  const write = makeStatusWriter({
    kind: "tool",
    field: "tool",
    namespace,
    patch: toolStatusPatch,
    write: api.patchToolStatus,
    said: (want: ToolWant) => ({ available: want.available, reason: want.reason })
  })
  return Effect.suspend(() => {
    const snapshot = tools()
    return write(kube.tools.items() as ReadonlyArray<ToolObject>, (name) => toolStatus(name, snapshot))
  })
}
