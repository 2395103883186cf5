/**
 * Keeps each Provider's status honest, in Orka's shape (`ready`, `lastValidated`, `message`,
 * `conditions[Ready]`), written through the status subresource by the leader only, and only when
 * what it would write differs from what the object already says. The same leader loop writes the
 * status of Tools (tool-status.ts) and ClientPolicies (client-policy-status.ts).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { GatewayConfig } from "../config.ts"
import { ProviderHealth } from "../providers/health.ts"
import { ProviderRegistry, type RegistrySnapshot } from "../providers/registry.ts"
import { KubeApi } from "../kube/api.ts"
import { KubeClient } from "../kube/client.ts"
import { makeClientPolicyStatusWriter } from "./client-policy-status.ts"
import { electLeader } from "./leader.ts"
import { type ObservedConditions, type ReadyCondition, readySays, withReady } from "./ready-condition.ts"
import { makeStatusWriter, type StatusObject } from "./status-writer.ts"
import { ToolLoop } from "../tools/service.ts"
import { makeToolStatusWriter } from "./tool-status.ts"

interface ObservedStatus {
  readonly ready?: boolean
  readonly message?: string
  readonly conditions?: ObservedConditions
}

/** What the Ready condition of `name` should say. */
export const readyCondition = (
  name: string,
  snapshot: RegistrySnapshot,
  authFailures: ReadonlyMap<string, { readonly status: number }>
): ReadyCondition | undefined => {
  const broken = snapshot.notReady.get(name)
  if (broken !== undefined) return { status: "False", reason: broken.reason, message: broken.message }
  if (!snapshot.ready.has(name)) return undefined
  const failure = authFailures.get(name)
  if (failure !== undefined) {
    return {
      status: "False",
      reason: "UpstreamAuthFailed",
      message: `the provider rejected the gateway's API key (HTTP ${failure.status}); check the Secret`
    }
  }
  return { status: "True", reason: "Ready", message: "Provider is ready" }
}

/** The status to merge-patch, or undefined when the object already says this. */
export const statusPatch = (
  observed: ObservedStatus | undefined,
  want: ReadyCondition,
  generation: number | undefined,
  now: string
): Record<string, unknown> | undefined => {
  const same = readySays(observed?.conditions, want) && observed?.ready === (want.status === "True") &&
    observed.message === want.message
  if (same) return undefined
  return {
    ready: want.status === "True",
    message: want.message,
    lastValidated: now,
    conditions: withReady(observed?.conditions, want, generation, now)
  }
}

export const leaseName = "orka-gateway-leader"

/** Runs for the life of the layer: elects a leader, and the leader reconciles on every change. */
export const layer = Layer.effectDiscard(Effect.gen(function*() {
  const api = yield* KubeApi
  const kube = yield* KubeClient
  const registry = yield* ProviderRegistry
  const health = yield* ProviderHealth
  const config = yield* GatewayConfig
  const tools = yield* ToolLoop
  const leadership = yield* electLeader(api, {
    namespace: config.namespace,
    leaseName,
    identity: config.podName,
    durationSeconds: 15,
    renewEvery: 5_000
  })

  const writeProviders = makeStatusWriter({
    kind: "provider",
    field: "provider",
    namespace: config.namespace,
    patch: statusPatch,
    write: api.patchProviderStatus,
    said: (want: ReadyCondition) => ({ ready: want.status, reason: want.reason })
  })
  const reconcileTools = makeToolStatusWriter(api, kube, config.namespace, tools.snapshot)
  const reconcilePolicies = makeClientPolicyStatusWriter(api, kube, config.namespace, () => {
    const { notReady, ready } = registry.snapshot()
    return new Set([...ready.keys(), ...notReady.keys()])
  })

  const reconcile = Effect.gen(function*() {
    if (!(yield* leadership.isLeader)) return
    const snapshot = registry.snapshot()
    const authFailures = health.authFailures()
    yield* writeProviders(kube.providers.items() as ReadonlyArray<StatusObject<ObservedStatus>>, (name) => readyCondition(name, snapshot, authFailures))
    yield* reconcileTools
    yield* reconcilePolicies
  })

  // Changes trigger a reconcile; a periodic one covers a leadership change and lost writes.
  yield* registry.synced.pipe(Effect.andThen(Stream.mergeAll([leadership.changes.pipe(Stream.as(undefined)), kube.providers.changes, kube.secrets.changes, kube.tools.changes, kube.clientPolicies.changes, health.changes, Stream.fromSchedule(Schedule.spaced("10 seconds")).pipe(Stream.as(undefined))], { concurrency: "unbounded" }).pipe(
    Stream.debounce("200 millis"),
    Stream.runForEach(() => reconcile)
  )), Effect.forkScoped)
}))
