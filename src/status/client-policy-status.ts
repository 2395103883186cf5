/**
 * Tells each ClientPolicy's author whether it applies (`valid`, `message`, `conditions[Ready]`): a
 * policy that does not decode is ignored by the limits, and says why here. Written through the
 * status subresource by the Provider status leader (provider-status.ts runs the one leader loop),
 * and only when what it would write differs from what the object already says.
 */
import * as Effect from "effect/Effect"
import type { KubeApiShape } from "../kube/api.ts"
import type { KubeClientShape } from "../kube/client.ts"
import { decodeClientPolicies } from "../kube/client-policy.ts"
import { type ObservedConditions, type ReadyCondition, readySays, withReady } from "./ready-condition.ts"
import { makeStatusWriter, type StatusObject } from "./status-writer.ts"

/** What a ClientPolicy's status should say. */
export interface PolicyWant {
  readonly valid: boolean
  /** the reason of the Ready condition: `Valid` or `InvalidSpec` */
  readonly reason: string
  readonly message: string
}

interface ObservedPolicyStatus {
  readonly valid?: boolean
  readonly message?: string
  readonly conditions?: ObservedConditions
}

type PolicyObject = StatusObject<ObservedPolicyStatus>

/**
 * What the status of ClientPolicy `name` should say, from the decoder's verdict; `unknown`: the
 * Providers it names that do not exist (a typo would make it apply to nothing, silently).
 */
export const clientPolicyStatus = (name: string, invalid: ReadonlyMap<string, string>, unknown: ReadonlyArray<string> = []): PolicyWant => {
  const problem = invalid.get(name)
  if (problem !== undefined) return { valid: false, reason: "InvalidSpec", message: problem }
  return unknown.length === 0
    ? { valid: true, reason: "Valid", message: "policy applies" }
    : { valid: true, reason: "Valid", message: `policy applies; no Provider is named ${unknown.join(", ")} (yet): it limits no request to those` }
}

/** The status to merge-patch, or undefined when the object already says this. */
export const clientPolicyStatusPatch = (
  observed: ObservedPolicyStatus | undefined,
  want: PolicyWant,
  generation: number | undefined,
  now: string
): Record<string, unknown> | undefined => {
  const ready: ReadyCondition = { status: want.valid ? "True" : "False", reason: want.reason, message: want.message }
  const same = readySays(observed?.conditions, ready) && observed?.valid === want.valid && observed.message === want.message
  if (same) return undefined
  return { valid: want.valid, message: want.message, conditions: withReady(observed?.conditions, ready, generation, now) }
}

/**
 * The ClientPolicy part of the leader's reconcile: patches every policy whose status differs. Only
 * the leader runs it.
 */
export const makeClientPolicyStatusWriter = (
  api: KubeApiShape,
  kube: KubeClientShape,
  namespace: string,
  /** the Providers that exist, ready or not */
  providers: () => ReadonlySet<string>
): Effect.Effect<void> => {
  const write = makeStatusWriter({
    kind: "client policy",
    field: "policy",
    namespace,
    patch: clientPolicyStatusPatch,
    write: api.patchClientPolicyStatus,
    said: (want: PolicyWant) => ({ valid: want.valid, reason: want.reason })
  })
  return Effect.suspend(() => {
    const objects = kube.clientPolicies.items() as ReadonlyArray<PolicyObject>
    const { invalid, valid } = decodeClientPolicies(objects, namespace)
    const known = providers()
    const unknown = new Map(valid.map((p) => [p.name, (p.spec.providers ?? []).filter((name) => !known.has(name))]))
    return write(objects, (name) => clientPolicyStatus(name, invalid, unknown.get(name)))
  })
}
