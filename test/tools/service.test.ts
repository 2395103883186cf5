import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { GatewayConfig, type GatewayConfigShape } from "../../src/config.ts"
import { testConfig } from "../support/config.ts"
import type { Conversation } from "../../src/ir/conversation.ts"
import type { StreamEvent } from "../../src/ir/response.ts"
import type { KubeObject } from "../../src/kube/client.ts"
import { ToolLoop } from "../../src/tools/service.ts"
import { eventually } from "../support/eventually.ts"
import { FakeKube, fakeKubeLayer, makeFakeKube, secret } from "../support/fake-kube.ts"
import { KubeClient } from "../../src/kube/client.ts"
import { makeMemoryCache } from "../../src/kube/memory-cache.ts"
import { Redactor } from "../../src/redact.ts"

const tool = (name: string): KubeObject => ({
  apiVersion: "core.orka.ai/v1alpha1",
  kind: "Tool",
  metadata: { name, namespace: "default" },
  spec: { description: `the ${name} tool`, http: { url: "https://tools.test/run" } }
} as KubeObject)

const conversation: Conversation = { model: "m", system: [], messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }], tools: [], extensions: {} }

const runner = (config: Partial<GatewayConfigShape>, initial: ReadonlyArray<KubeObject>) =>
  ToolLoop.layer.pipe(Layer.provideMerge(fakeKubeLayer(initial)), Layer.provide(GatewayConfig.layer(testConfig(config))), Layer.provide(Redactor.layerFresh))

/** The tool names offered to the model on one request. */
const offered = Effect.gen(function*() {
  const { loop } = yield* ToolLoop
  let names: ReadonlyArray<string> = []
  const model = (c: Conversation) => {
    names = c.tools.map((t) => t.name)
    return Stream.fromIterable<StreamEvent>([{ type: "start", id: "1", model: "m" }, { type: "finish", reason: "end_turn", usage: { inputTokens: 1, outputTokens: 1 } }])
  }
  yield* Stream.runDrain(Stream.unwrap(loop(conversation, model)))
  return names
})

describe("ToolLoop", () => {
  it.live("offers the built-ins and the Tool resources of the moment", () =>
    Effect.gen(function*() {
      expect(yield* offered).toEqual(["web_fetch", "code_exec", "file_read", "file_write", "ticket"])
      const fake = yield* FakeKube
      yield* fake.tools.upsert(tool("late"))
      let names: ReadonlyArray<string> = []
      yield* eventually(() => names.includes("late"), 2000, "late tool offered").pipe(
        Effect.raceFirst(Effect.forever(Effect.tap(offered, (n) => Effect.sync(() => void (names = n)))))
      )
    }).pipe(Effect.provide(runner({}, [tool("ticket")]))))

  it.live("offers web_search once its backend's key is in the Secret", () =>
    Effect.gen(function*() {
      expect(yield* offered).not.toContain("web_search")
      const fake = yield* FakeKube
      yield* fake.secrets.upsert(secret("search", { brave: "b-key" }))
      let names: ReadonlyArray<string> = []
      yield* eventually(() => names.includes("web_search"), 2000, "web_search offered").pipe(
        Effect.raceFirst(Effect.forever(Effect.tap(offered, (n) => Effect.sync(() => void (names = n)))))
      )
    }).pipe(Effect.provide(runner({ webSearchBackend: "brave", webSearchSecret: { name: "search", key: "brave" } }, []))))

  it.live("offers a SearXNG backend without a key", () =>
    Effect.gen(function*() {
      expect(yield* offered).toContain("web_search")
    }).pipe(Effect.provide(runner({ webSearchBackend: "searxng", webSearchUrl: "http://searxng.test/search" }, []))))
})

describe("ToolLoop without the Tool CRD", () => {
  // a cluster without the CRD: the Tools cache never syncs
  const unsynced = Layer.unwrap(Effect.gen(function*() {
    const fake = yield* makeFakeKube()
    const tools = yield* makeMemoryCache
    return Layer.succeed(KubeClient, { providers: fake.providers.cache, secrets: fake.secrets.cache, tools: tools.cache, clientPolicies: fake.clientPolicies.cache })
  }))
  const layer = ToolLoop.layer.pipe(Layer.provideMerge(unsynced), Layer.provide(GatewayConfig.layer(testConfig({}))), Layer.provide(Redactor.layerFresh))

  it.live("waits for the first load only in the first seconds, then offers the built-ins at once", () =>
    Effect.gen(function*() {
      const first = performance.now()
      expect(yield* offered).toEqual(["web_fetch", "code_exec", "file_read", "file_write"])
      expect(performance.now() - first).toBeLessThan(3_000)
      const second = performance.now()
      expect(yield* offered).toEqual(["web_fetch", "code_exec", "file_read", "file_write"])
      expect(performance.now() - second).toBeLessThan(500)
    }).pipe(Effect.provide(layer)))
})
