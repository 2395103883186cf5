/**
 * What the status writers' tests share: a KubeApi whose leases live in memory and whose status
 * patches of one resource are recorded and applied to the fake kube's cache, as the watch would echo
 * them back (a merge patch: a `null` field is removed); the leader's status writer over that fake,
 * as replica "me"; and an object's status as the cache holds it.
 */
import { Effect, Layer } from "effect"
import { GatewayConfig } from "../../src/config.ts"
import { KubeApi, KubeApiError, type KubeApiShape, type Lease } from "../../src/kube/api.ts"
import type { KubeObject } from "../../src/kube/client.ts"
import { makeProviderHealth, ProviderHealth } from "../../src/providers/health.ts"
import { ProviderRegistry } from "../../src/providers/registry.ts"
import { Redactor } from "../../src/redact.ts"
import * as ProviderStatus from "../../src/status/provider-status.ts"
import { ToolLoop } from "../../src/tools/service.ts"
import { testConfig } from "./config.ts"
import { fakeKubeClient, type FakeKubeHandle } from "./fake-kube.ts"
import { memoryLeases } from "./memory-leases.ts"

export type Patch = { readonly name: string; readonly status: Record<string, unknown> }
type WithStatus = { status?: Record<string, unknown> }

/** The resources whose status the tests watch being written. */
export type Written = "tools" | "clientPolicies"

export const memoryStatusApi = (leases: Map<string, Lease>, patches: Array<Patch>, fake: FakeKubeHandle, written: Written): KubeApiShape => {
  const patch = (ns: string, name: string, status: Record<string, unknown>) =>
    Effect.suspend(() => {
      patches.push({ name, status })
      const current = fake[written].cache.items().find((o) => o.metadata?.name === name && o.metadata.namespace === ns)
      if (current === undefined) return Effect.fail(new KubeApiError({ message: "not found", status: 404 }))
      const merged = Object.fromEntries(Object.entries({ ...(current as WithStatus).status, ...status }).filter(([, v]) => v !== null))
      return fake[written].upsert({ ...current, status: merged } as KubeObject)
    })
  return {
    reviewToken: () => Effect.die("unused"),
    reviewAccess: () => Effect.die("unused"),
    patchProviderStatus: () => Effect.void,
    patchToolStatus: written === "tools" ? patch : () => Effect.void,
    patchClientPolicyStatus: written === "clientPolicies" ? patch : () => Effect.void,
    ...memoryLeases(leases)
  }
}

/** The leader's status writer (Providers, Tools, ClientPolicies) over the fake kube, as replica "me". */
export const statusWriter = (api: KubeApiShape, fake: FakeKubeHandle) =>
  ProviderStatus.layer.pipe(
    Layer.provideMerge(ProviderRegistry.layer),
    Layer.provideMerge(ToolLoop.layer),
    Layer.provideMerge(fakeKubeClient(fake)),
    Layer.provide(Layer.succeed(KubeApi, api)),
    Layer.provide(Layer.effect(ProviderHealth, makeProviderHealth)),
    Layer.provide(GatewayConfig.layer(testConfig({ podName: "me" }))),
    Layer.provide(Redactor.layerFresh)
  )

export const statusIn = (fake: FakeKubeHandle, written: Written, name: string) =>
  (fake[written].cache.items().find((o) => o.metadata?.name === name) as WithStatus | undefined)?.status
