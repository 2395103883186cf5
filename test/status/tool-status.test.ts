import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { KubeApiError, type KubeApiShape, type Lease } from "../../src/kube/api.ts"
import type { KubeObject } from "../../src/kube/client.ts"
import { toolStatus, toolStatusPatch } from "../../src/status/tool-status.ts"
import { buildToolSnapshot } from "../../src/tools/custom-tools.ts"
import { eventually } from "../support/eventually.ts"
import { type FakeKubeHandle, makeFakeKube, secret } from "../support/fake-kube.ts"
import * as ProviderStatus from "../../src/status/provider-status.ts"
import { memoryStatusApi, type Patch, statusIn, statusWriter } from "../support/status-api.ts"

const tool = (name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject => ({
  apiVersion: "core.orka.ai/v1alpha1",
  kind: "Tool",
  metadata: { name, namespace: "default", generation: 1 },
  spec,
  ...(status === undefined ? {} : { status })
} as KubeObject)

const open = tool("open", { description: "no auth", http: { url: "https://a.test" } })
const keyed = tool("keyed", { description: "auth", http: { url: "https://b.test", authSecretRef: { name: "s", key: "token" } } })
const mcp = tool("mcp", { description: "mcp", mcp: { substrateActor: { templateRef: { name: "x" } } } })

const memoryApi = (leases: Map<string, Lease>, patches: Array<Patch>, fake: FakeKubeHandle) => memoryStatusApi(leases, patches, fake, "tools")
const statusOf = (fake: FakeKubeHandle, name: string) => statusIn(fake, "tools", name)

describe("toolStatus", () => {
  const snapshot = buildToolSnapshot([open, keyed, mcp, tool("nokey", { description: "auth", http: { url: "https://c.test", authSecretRef: { name: "t", key: "k" } } })], [
    secret("t", { other: "x" })
  ], "default")

  it("says available for a usable Tool and why the others cannot run", () => {
    expect(toolStatus("open", snapshot)).toEqual({ available: true, reason: "Available", message: "Tool is available" })
    expect(toolStatus("keyed", snapshot)).toEqual({ available: false, reason: "SecretNotFound", message: "Secret default/s not found" })
    expect(toolStatus("nokey", snapshot)).toMatchObject({ available: false, reason: "SecretKeyMissing" })
    expect(toolStatus("mcp", snapshot)).toEqual({ available: false, reason: "Unsupported", message: "MCP tools are not supported yet" })
    expect(toolStatus("unknown", snapshot)).toBeUndefined()
  })

  it("invalid Tools are reported as InvalidSpec", () => {
    const invalid = buildToolSnapshot([tool("broken", { http: { url: "https://d.test" } }), tool("nohttp", { description: "d" })], [], "default")
    expect(toolStatus("broken", invalid)).toMatchObject({ available: false, reason: "InvalidSpec" })
    expect(toolStatus("nohttp", invalid)).toEqual({ available: false, reason: "InvalidSpec", message: "invalid spec: http or an MCP workspace backend is required" })
  })
})

describe("toolStatusPatch", () => {
  const missing = { available: false, reason: "SecretNotFound", message: "Secret default/s not found" }
  const available = { available: true, reason: "Available", message: "Tool is available" }

  it("writes available, lastCheck, error and the Ready condition", () => {
    expect(toolStatusPatch(undefined, missing, 2, "t1")).toEqual({
      available: false,
      lastCheck: "t1",
      error: "Secret default/s not found",
      conditions: [{ type: "Ready", status: "False", reason: "SecretNotFound", message: "Secret default/s not found", lastTransitionTime: "t1", observedGeneration: 2 }]
    })
    expect(toolStatusPatch(undefined, available, undefined, "t1")).toEqual({
      available: true,
      lastCheck: "t1",
      error: null,
      conditions: [{ type: "Ready", status: "True", reason: "Available", message: "Tool is available", lastTransitionTime: "t1" }]
    })
  })

  it("patches only on change, keeping lastTransitionTime unless the status flipped", () => {
    const first = toolStatusPatch(undefined, missing, 1, "t1")!
    expect(toolStatusPatch(first, missing, 1, "t2")).toBeUndefined()
    const keyMissing = toolStatusPatch(first, { ...missing, reason: "SecretKeyMissing", message: "m" }, 1, "t3")!
    expect(keyMissing).toMatchObject({ error: "m", lastCheck: "t3", conditions: [{ reason: "SecretKeyMissing", lastTransitionTime: "t1" }] })
    const flipped = toolStatusPatch(keyMissing, available, 1, "t4")!
    expect(flipped).toMatchObject({ available: true, error: null, conditions: [{ status: "True", lastTransitionTime: "t4" }] })
  })

  it("an empty or absent error counts as no error, and other conditions are kept", () => {
    const observed = {
      available: true,
      error: "",
      conditions: [
        { type: "Other", status: "True" },
        { type: "Ready", status: "True", reason: "Available", message: "Tool is available", lastTransitionTime: "t0" }
      ]
    }
    expect(toolStatusPatch(observed, available, 1, "t1")).toBeUndefined()
    const { error: _error, ...noError } = observed
    expect(toolStatusPatch(noError, available, 1, "t1")).toBeUndefined()
    expect(toolStatusPatch({ ...observed, available: false }, available, 1, "t1")).toMatchObject({
      conditions: [{ type: "Other" }, { type: "Ready", lastTransitionTime: "t0" }]
    })
    expect(toolStatusPatch(observed, missing, 1, "t1")!["conditions"]).toHaveLength(2)
  })
})

describe("Tool status writer", () => {
  it.live("the leader reports each Tool, follows its Secret and does not rewrite a correct status", () =>
    Effect.gen(function*() {
      const correct = tool("correct", { description: "ok", http: { url: "https://e.test" } }, {
        available: true,
        lastCheck: "2026-01-01T00:00:00Z",
        conditions: [{ type: "Ready", status: "True", reason: "Available", message: "Tool is available", lastTransitionTime: "2026-01-01T00:00:00Z" }]
      })
      const fake = yield* makeFakeKube([open, keyed, mcp, correct])
      const patches: Array<Patch> = []
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(statusWriter(memoryApi(new Map(), patches, fake), fake))
        yield* eventually(() => patches.length >= 3, 15_000, "first Tool status writes")
        expect(statusOf(fake, "open")).toMatchObject({ available: true, conditions: [{ type: "Ready", status: "True", reason: "Available" }] })
        expect(statusOf(fake, "open")?.["error"]).toBeUndefined()
        expect(statusOf(fake, "keyed")).toMatchObject({
          available: false,
          error: "Secret default/s not found",
          conditions: [{ status: "False", reason: "SecretNotFound" }]
        })
        expect(statusOf(fake, "mcp")).toMatchObject({
          available: false,
          error: "MCP tools are not supported yet",
          conditions: [{ status: "False", reason: "Unsupported" }]
        })
        expect(patches.map((p) => p.name).sort()).toEqual(["keyed", "mcp", "open"]) // "correct" already said so

        yield* fake.secrets.upsert(secret("s", { token: "t-1" }))
        yield* eventually(() => statusOf(fake, "keyed")?.["available"] === true, 15_000, "keyed available")
        expect(statusOf(fake, "keyed")).toMatchObject({ conditions: [{ status: "True", reason: "Available" }] })
        expect(statusOf(fake, "keyed")?.["error"]).toBeUndefined()

        // the writes echoed back through the cache: nothing more to write
        const settled = patches.length
        yield* Effect.sleep(600)
        expect(patches).toHaveLength(settled)
      }))
      expect(patches).toHaveLength(4)
    }))

  it.live("does not write again while its write has not echoed back yet", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeKube([open])
      const patches: Array<Patch> = []
      const api = memoryApi(new Map(), patches, fake)
      const noEcho: KubeApiShape = { ...api, patchToolStatus: (_ns, name, status) => Effect.sync(() => void patches.push({ name, status })) }
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(statusWriter(noEcho, fake))
        yield* eventually(() => patches.length === 1, 15_000, "first write")
        yield* fake.secrets.upsert(secret("unrelated", { a: "b" })) // another reconcile, the cache still shows no status
        yield* Effect.sleep(500)
      }))
      expect(patches.map((p) => p.name)).toEqual(["open"])
    }))

  it.live("a replica that does not lead writes nothing", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeKube([open, keyed, mcp])
      const patches: Array<Patch> = []
      const leases = new Map<string, Lease>([[ProviderStatus.leaseName, {
        holder: "other",
        renewedAt: Date.now() + 60_000,
        durationSeconds: 60,
        resourceVersion: "x"
      }]])
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(statusWriter(memoryApi(leases, patches, fake), fake))
        yield* fake.tools.upsert(tool("late", { description: "d", http: { url: "https://f.test" } }))
        yield* Effect.sleep(500)
      }))
      expect(patches).toEqual([])
    }))

  it.live("a failed write is logged and retried, not fatal", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeKube([open])
      const patches: Array<Patch> = []
      const api = memoryApi(new Map(), patches, fake)
      let attempts = 0
      const flaky: KubeApiShape = {
        ...api,
        patchToolStatus: (ns, name, status) =>
          ++attempts === 1 ? Effect.fail(new KubeApiError({ message: "boom", status: 500 })) : api.patchToolStatus(ns, name, status)
      }
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(statusWriter(flaky, fake))
        yield* eventually(() => attempts >= 1, 15_000, "first attempt")
        // the next change (or the periodic tick) tries again
        yield* fake.secrets.upsert(secret("unrelated", { a: "b" }))
        yield* eventually(() => statusOf(fake, "open")?.["available"] === true, 15_000, "retried write")
      }))
      expect(patches).toHaveLength(1)
    }))
})
