import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { GatewayConfig } from "../../src/config.ts"
import { testConfig } from "../support/config.ts"
import { KubeApi, type KubeApiShape, type Lease } from "../../src/kube/api.ts"
import { electLeader } from "../../src/status/leader.ts"
import * as ProviderStatus from "../../src/status/provider-status.ts"
import { readyCondition, statusPatch } from "../../src/status/provider-status.ts"
import { makeProviderHealth, ProviderHealth } from "../../src/providers/health.ts"
import { buildSnapshot, ProviderRegistry } from "../../src/providers/registry.ts"
import { eventually } from "../support/eventually.ts"
import { memoryLeases } from "../support/memory-leases.ts"
import { FakeKube, fakeKubeLayer, provider, secret } from "../support/fake-kube.ts"
import { Redactor } from "../../src/redact.ts"
import { ToolLoop } from "../../src/tools/service.ts"

/** Leases and status patches in memory, with a Lease store shared by several "replicas". */
const memoryApi = (leases: Map<string, Lease>, patches: Array<{ name: string; status: Record<string, unknown> }>): KubeApiShape => {
  return {
    reviewToken: () => Effect.die("unused"),
    reviewAccess: () => Effect.die("unused"),
    patchProviderStatus: (_ns, name, status) => Effect.sync(() => void patches.push({ name, status })),
    patchToolStatus: () => Effect.void,
    patchClientPolicyStatus: () => Effect.void,
    ...memoryLeases(leases)
  }
}

describe("Provider status", () => {
  const snapshot = buildSnapshot(
    [provider("ok", { type: "mock" }), provider("nokey", { type: "openai", secretRef: { name: "s" } })],
    [],
    "default"
  )

  it("derives the Ready condition, upstream auth failures included", () => {
    expect(readyCondition("ok", snapshot, new Map())).toEqual({ status: "True", reason: "Ready", message: "Provider is ready" })
    expect(readyCondition("nokey", snapshot, new Map())).toMatchObject({ status: "False", reason: "SecretNotFound" })
    expect(readyCondition("ok", snapshot, new Map([["ok", { status: 401 }]]))).toMatchObject({ status: "False", reason: "UpstreamAuthFailed" })
    expect(readyCondition("unknown", snapshot, new Map())).toBeUndefined()
  })

  it("patches only on change, keeping lastTransitionTime when the status did not flip", () => {
    const want = { status: "False" as const, reason: "SecretNotFound", message: "m" }
    const first = statusPatch(undefined, want, 3, "t1")!
    expect(first).toMatchObject({ ready: false, message: "m", lastValidated: "t1" })
    expect(first["conditions"]).toEqual([{ type: "Ready", status: "False", reason: "SecretNotFound", message: "m", lastTransitionTime: "t1", observedGeneration: 3 }])
    expect(statusPatch(first, want, 3, "t2")).toBeUndefined()
    const reason2 = statusPatch(first, { ...want, reason: "SecretKeyMissing" }, 3, "t3")!
    expect((reason2["conditions"] as Array<{ lastTransitionTime: string }>)[0]!.lastTransitionTime).toBe("t1")
  })
})

describe("leader election", () => {
  it.live("exactly one of two replicas leads", () =>
    Effect.gen(function*() {
      const leases = new Map<string, Lease>()
      const api = memoryApi(leases, [])
      const options = { namespace: "ns", leaseName: "l", durationSeconds: 1, renewEvery: 50 }
      const a = yield* electLeader(api, { ...options, identity: "a" })
      const b = yield* electLeader(api, { ...options, identity: "b" })
      yield* Effect.sleep(200)
      const leaders = [yield* a.isLeader, yield* b.isLeader]
      expect(leaders.filter(Boolean)).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.live("a released Lease is taken at once by the next replica", () =>
    Effect.gen(function*() {
      const leases = new Map<string, Lease>()
      const api = memoryApi(leases, [])
      const options = { namespace: "ns", leaseName: "l", durationSeconds: 30, renewEvery: 50 }
      yield* Effect.scoped(Effect.gen(function*() {
        const a = yield* electLeader(api, { ...options, identity: "a" })
        yield* eventually(() => leases.get("l")?.holder === "a")
        expect(yield* a.isLeader).toBe(true)
      }))
      expect(leases.get("l")?.holder).toBe("") // handed over on shutdown
      const b = yield* electLeader(api, { ...options, identity: "b" })
      yield* eventually(() => leases.get("l")?.holder === "b")
      expect(yield* b.isLeader).toBe(true)
    }).pipe(Effect.scoped))
})

describe("status writer", () => {
  it.live("only the leader writes, only on change", () =>
    Effect.gen(function*() {
      const leases = new Map<string, Lease>()
      const patches: Array<{ name: string; status: Record<string, unknown> }> = []
      const api = memoryApi(leases, patches)
      // another replica holds the Lease: nothing is written
      leases.set(ProviderStatus.leaseName, { holder: "other", renewedAt: Date.now() + 60_000, durationSeconds: 60, resourceVersion: "x" })
      const writer = (identity: string) =>
        ProviderStatus.layer.pipe(
          Layer.provideMerge(ProviderRegistry.layer),
          Layer.provideMerge(ToolLoop.layer),
          Layer.provideMerge(fakeKubeLayer([provider("p", { type: "openai", secretRef: { name: "s" } })])),
          Layer.provide(Layer.succeed(KubeApi, api)),
          Layer.provide(Layer.effect(ProviderHealth, makeProviderHealth)),
          Layer.provide(GatewayConfig.layer(testConfig({ podName: identity }))),
          Layer.provide(Redactor.layerFresh)
        )
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(writer("me"))
        yield* Effect.sleep(400)
      }))
      expect(patches).toEqual([])

      leases.clear()
      yield* Effect.scoped(Effect.gen(function*() {
        const ctx = yield* Layer.build(writer("me"))
        yield* eventually(() => patches.length === 1, 15_000, "first status write")
        expect(patches[0]).toMatchObject({ name: "p", status: { ready: false, conditions: [{ reason: "SecretNotFound" }] } })
        const fake = Context.get(ctx, FakeKube)
        yield* fake.secrets.upsert(secret("s", { "api-key": "k" }))
        yield* eventually(() => patches.length === 2, 15_000, "second status write")
        expect(patches[1]).toMatchObject({ name: "p", status: { ready: true, conditions: [{ reason: "Ready" }] } })
      }))
    }))
})
