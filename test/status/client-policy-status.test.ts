import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { KubeApiError, type KubeApiShape, type Lease } from "../../src/kube/api.ts"
import type { KubeObject } from "../../src/kube/client.ts"
import { decodeClientPolicies } from "../../src/kube/client-policy.ts"
import { clientPolicyStatus, clientPolicyStatusPatch } from "../../src/status/client-policy-status.ts"
import { eventually } from "../support/eventually.ts"
import { type FakeKubeHandle, makeFakeKube } from "../support/fake-kube.ts"
import * as ProviderStatus from "../../src/status/provider-status.ts"
import { memoryStatusApi, type Patch, statusIn, statusWriter } from "../support/status-api.ts"

const policy = (name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject => ({
  apiVersion: "gateway.orka.ai/v1alpha1",
  kind: "ClientPolicy",
  metadata: { name, namespace: "default", generation: 1 },
  spec,
  ...(status === undefined ? {} : { status })
} as KubeObject)

const team = policy("team", { subjects: [{ serviceAccount: "team-a/*" }], scope: "shared", limits: { tokensPerDay: 1000 } })
const twoKinds = policy("two-kinds", { subjects: [{ user: "alice", group: "devs" }], limits: { requestsPerMinute: 10 } })
const noLimits = policy("no-limits", { subjects: [{ user: "alice" }], limits: {} })

const memoryApi = (leases: Map<string, Lease>, patches: Array<Patch>, fake: FakeKubeHandle) => memoryStatusApi(leases, patches, fake, "clientPolicies")
const statusOf = (fake: FakeKubeHandle, name: string) => statusIn(fake, "clientPolicies", name)

describe("clientPolicyStatus", () => {
  it("says a policy that decodes applies, and why another does not", () => {
    const { invalid } = decodeClientPolicies([team, twoKinds, noLimits], "default")
    expect(clientPolicyStatus("team", invalid)).toEqual({ valid: true, reason: "Valid", message: "policy applies" })
    expect(clientPolicyStatus("two-kinds", invalid)).toEqual({
      valid: false,
      reason: "InvalidSpec",
      message: "spec.subjects.0: exactly one of serviceAccount, group or user is required"
    })
    expect(clientPolicyStatus("no-limits", invalid)).toMatchObject({ valid: false, reason: "InvalidSpec", message: expect.stringContaining("at least one limit") })
  })

  it("names the Providers a valid policy lists that do not exist", () => {
    expect(clientPolicyStatus("team", new Map(), ["calude"])).toEqual({
      valid: true,
      reason: "Valid",
      message: "policy applies; no Provider is named calude (yet): it limits no request to those"
    })
  })
})

describe("clientPolicyStatusPatch", () => {
  const valid = { valid: true, reason: "Valid", message: "policy applies" }
  const invalid = { valid: false, reason: "InvalidSpec", message: "spec.limits: at least one limit is required" }

  it("writes valid, message and the Ready condition", () => {
    expect(clientPolicyStatusPatch(undefined, valid, 2, "t1")).toEqual({
      valid: true,
      message: "policy applies",
      conditions: [{ type: "Ready", status: "True", reason: "Valid", message: "policy applies", lastTransitionTime: "t1", observedGeneration: 2 }]
    })
    expect(clientPolicyStatusPatch(undefined, invalid, undefined, "t1")).toEqual({
      valid: false,
      message: invalid.message,
      conditions: [{ type: "Ready", status: "False", reason: "InvalidSpec", message: invalid.message, lastTransitionTime: "t1" }]
    })
  })

  it("patches only on change, keeping lastTransitionTime unless the status flipped", () => {
    const first = clientPolicyStatusPatch(undefined, invalid, 1, "t1")!
    expect(clientPolicyStatusPatch(first, invalid, 1, "t2")).toBeUndefined()
    const other = clientPolicyStatusPatch(first, { ...invalid, message: "m" }, 1, "t3")!
    expect(other).toMatchObject({ message: "m", conditions: [{ status: "False", message: "m", lastTransitionTime: "t1" }] })
    const flipped = clientPolicyStatusPatch(other, valid, 1, "t4")!
    expect(flipped).toMatchObject({ valid: true, conditions: [{ status: "True", lastTransitionTime: "t4" }] })
    expect(clientPolicyStatusPatch({ ...flipped, valid: false }, valid, 1, "t5")).toMatchObject({ valid: true })
  })
})

describe("ClientPolicy status writer", () => {
  it.live("the leader reports each policy, follows an edit and does not rewrite a correct status", () =>
    Effect.gen(function*() {
      const correct = policy("correct", { subjects: [{ user: "bob" }], limits: { concurrentRequests: 2 } }, {
        valid: true,
        message: "policy applies",
        conditions: [{ type: "Ready", status: "True", reason: "Valid", message: "policy applies", lastTransitionTime: "2026-01-01T00:00:00Z" }]
      })
      const fake = yield* makeFakeKube([team, twoKinds, correct])
      const patches: Array<Patch> = []
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(statusWriter(memoryApi(new Map(), patches, fake), fake))
        yield* eventually(() => patches.length >= 2, 15_000, "first ClientPolicy status writes")
        expect(statusOf(fake, "team")).toMatchObject({ valid: true, message: "policy applies", conditions: [{ type: "Ready", status: "True", reason: "Valid" }] })
        expect(statusOf(fake, "two-kinds")).toMatchObject({
          valid: false,
          message: "spec.subjects.0: exactly one of serviceAccount, group or user is required",
          conditions: [{ status: "False", reason: "InvalidSpec" }]
        })
        expect(patches.map((p) => p.name).sort()).toEqual(["team", "two-kinds"]) // "correct" already said so

        // the author fixes the policy: a change of the ClientPolicy cache alone triggers the reconcile
        yield* fake.clientPolicies.upsert({ ...twoKinds, spec: { subjects: [{ user: "alice" }], limits: { requestsPerMinute: 10 } }, status: statusOf(fake, "two-kinds") } as KubeObject)
        yield* eventually(() => statusOf(fake, "two-kinds")?.["valid"] === true, 15_000, "fixed policy valid")
        expect(statusOf(fake, "two-kinds")).toMatchObject({ message: "policy applies", conditions: [{ status: "True", reason: "Valid" }] })

        const settled = patches.length
        yield* Effect.sleep(600)
        expect(patches).toHaveLength(settled)
      }))
      expect(patches).toHaveLength(3)
    }))

  it.live("says so in its status when a policy names a Provider that does not exist", () =>
    Effect.gen(function*() {
      const mock = { apiVersion: "core.orka.ai/v1alpha1", kind: "Provider", metadata: { name: "mock", namespace: "default" }, spec: { type: "mock" } } as KubeObject
      const typo = policy("typo", { subjects: [{ user: "bob" }], providers: ["mock", "calude"], limits: { requestsPerMinute: 5 } })
      const fake = yield* makeFakeKube([mock, typo])
      const patches: Array<Patch> = []
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(statusWriter(memoryApi(new Map(), patches, fake), fake))
        yield* eventually(() => patches.length >= 1, 15_000, "the ClientPolicy status write")
        expect(statusOf(fake, "typo")).toMatchObject({ valid: true, message: "policy applies; no Provider is named calude (yet): it limits no request to those" })
      }))
    }))

  it.live("does not write again while its write has not echoed back yet", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeKube([team])
      const patches: Array<Patch> = []
      const noEcho: KubeApiShape = {
        ...memoryApi(new Map(), patches, fake),
        patchClientPolicyStatus: (_ns, name, status) => Effect.sync(() => void patches.push({ name, status }))
      }
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(statusWriter(noEcho, fake))
        yield* eventually(() => patches.length === 1, 15_000, "first write")
        yield* fake.clientPolicies.upsert(policy("unrelated", { subjects: [{ user: "x" }], limits: { tokensPerDay: 1 }, scope: "caller" }))
        yield* eventually(() => patches.length === 2, 15_000, "the other policy's write")
        yield* Effect.sleep(500)
      }))
      expect(patches.map((p) => p.name)).toEqual(["team", "unrelated"])
    }))

  it.live("a replica that does not lead writes nothing", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeKube([team, twoKinds])
      const patches: Array<Patch> = []
      const leases = new Map<string, Lease>([[ProviderStatus.leaseName, {
        holder: "other",
        renewedAt: Date.now() + 60_000,
        durationSeconds: 60,
        resourceVersion: "x"
      }]])
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(statusWriter(memoryApi(leases, patches, fake), fake))
        yield* fake.clientPolicies.upsert(noLimits)
        yield* Effect.sleep(500)
      }))
      expect(patches).toEqual([])
    }))

  it.live("a failed write is logged and retried, not fatal", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeKube([team])
      const patches: Array<Patch> = []
      const api = memoryApi(new Map(), patches, fake)
      let attempts = 0
      const flaky: KubeApiShape = {
        ...api,
        patchClientPolicyStatus: (ns, name, status) =>
          ++attempts === 1 ? Effect.fail(new KubeApiError({ message: "boom", status: 500 })) : api.patchClientPolicyStatus(ns, name, status)
      }
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(statusWriter(flaky, fake))
        yield* eventually(() => attempts >= 1, 15_000, "first attempt")
        yield* fake.clientPolicies.upsert(noLimits) // the next change (or the periodic tick) tries again
        yield* eventually(() => statusOf(fake, "team")?.["valid"] === true, 15_000, "retried write")
      }))
      expect(patches.map((p) => p.name).sort()).toEqual(["no-limits", "team"])
    }))
})
