/**
 * The provider backends against scripted upstreams speaking the real wire formats, through the real
 * Upstream (undici, retries, status mapping).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Redacted, Stream } from "effect"
import { GatewayConfig } from "../../src/config.ts"
import { type GatewayError, gatewayError } from "../../src/errors.ts"
import { testConfig } from "../support/config.ts"
import type { Conversation } from "../../src/ir/conversation.ts"
import { encodeRequest as anthropicRequest } from "../../src/dialect/anthropic/provider.ts"
import { encodeRequest as openaiRequest } from "../../src/dialect/openai/provider.ts"
import type { BackendFactory } from "../../src/llm/backend.ts"
import { backendFactories, supportsStreamOptions } from "../../src/llm/backends.ts"
import { mockBackend } from "../../src/llm/mock.ts"
import { Upstream } from "../../src/llm/upstream.ts"
import { Redactor } from "../../src/redact.ts"
import { CurrentRequest } from "../../src/request-note.ts"
import type { ResolvedProvider } from "../../src/providers/provider.ts"
import { startScriptedUpstream } from "../support/scripted-upstream.ts"

const { anthropic: anthropicBackend, "azure-openai": azureOpenAIBackend, openai: openaiBackend } = backendFactories

const conversation = (over: Partial<Conversation> = {}): Conversation => ({
  model: "model-x",
  system: [],
  messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }],
  tools: [],
  extensions: {},
  ...over
})

const provider = (type: ResolvedProvider["type"], baseURL: string): ResolvedProvider => ({
  name: "p1",
  namespace: "default",
  type,
  baseURL,
  apiKey: Redacted.make("sk-test"),
  defaultModel: undefined,
  models: [],
  azure: type === "azure-openai" ? { deploymentName: "dep", apiVersion: "2024-10-21" } : undefined,
  createdAt: undefined,
  toolsDefault: undefined,
  responsesAPI: false,
  fallbacks: [],
  rateLimit: {},
  maxOutputTokens: { all: undefined, byModel: {} }
})

const upstreamLayer = Upstream.layer.pipe(
  Layer.provide(GatewayConfig.layer(testConfig({ retryMaxWait: 500 }))),
  Layer.provide(Redactor.layerFresh)
)

const withBackend = <A, E>(factory: BackendFactory, use: (b: ReturnType<BackendFactory>) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const upstream = yield* Upstream
    return yield* use(factory(upstream, { defaultMaxTokens: 1000 }))
  }).pipe(Effect.provide(upstreamLayer))

const collect = <E>(s: Stream.Stream<unknown, E>) => Stream.runCollect(s)

describe("anthropic backend", () => {
  it("encodes tool turns, choices and sampling the Messages way", () => {
    const body = anthropicRequest(conversation({
      system: [{ type: "text", text: "sys" }],
      messages: [
        { role: "user", content: [{ type: "text", text: "" }, { type: "text", text: "q" }, { type: "image", source: { kind: "url", url: "https://x/y.png" } }] },
        { role: "assistant", content: [{ type: "thinking", text: "unsigned" }, { type: "tool_call", id: "c1", name: "f", arguments: "not json" }] },
        { role: "user", content: [{ type: "text", text: "after" }, { type: "tool_result", callId: "c1", content: [{ type: "text", text: "r" }], isError: true }] }
      ],
      tools: [{ name: "f", parameters: { type: "object" } }],
      toolChoice: { type: "tool", name: "f" },
      parallelToolCalls: false,
      user: "u",
      extensions: { anthropic: { top_k: 5, thinking: { type: "enabled", budget_tokens: 100 } } }
    }), 1000, true)
    expect(body).toEqual({
      top_k: 5,
      thinking: { type: "enabled", budget_tokens: 100 },
      model: "model-x",
      system: "sys",
      messages: [
        { role: "user", content: [{ type: "text", text: "q" }, { type: "image", source: { type: "url", url: "https://x/y.png" } }] },
        { role: "assistant", content: [{ type: "tool_use", id: "c1", name: "f", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "c1", content: [{ type: "text", text: "r" }], is_error: true }, { type: "text", text: "after" }] }
      ],
      max_tokens: 1000,
      tools: [{ name: "f", input_schema: { type: "object" } }],
      tool_choice: { type: "tool", name: "f", disable_parallel_tool_use: true },
      metadata: { user_id: "u" },
      stream: true
    })
  })

  it("thinks for a reasoning effort within half of max_tokens, without temperature; not when forced to a tool or asked itself", () => {
    const asked = (over: Partial<Conversation>, maxTokens = 20_000) => anthropicRequest(conversation({ reasoningEffort: "high", temperature: 0.3, topP: 0.5, ...over }), maxTokens, false)
    expect(asked({})).toMatchObject({ thinking: { type: "enabled", budget_tokens: 10_000 }, max_tokens: 20_000 })
    expect(asked({})).not.toHaveProperty("temperature")
    expect(asked({})).not.toHaveProperty("top_p")
    expect(asked({ reasoningEffort: "low", maxTokens: 64_000 })).toMatchObject({ thinking: { budget_tokens: 2048 }, max_tokens: 64_000 })
    expect(asked({ reasoningEffort: "minimal" })).toMatchObject({ temperature: 0.3 })
    expect(asked({}, 1500)).not.toHaveProperty("thinking")
    expect(asked({ tools: [{ name: "f", parameters: {} }], toolChoice: { type: "required" } })).not.toHaveProperty("thinking")
    expect(asked({ extensions: { anthropic: { thinking: { type: "disabled" } } } })).toMatchObject({ thinking: { type: "disabled" } })
  })

  it.live("decodes a streamed answer split across reads, with thinking, tools and usage", () =>
    Effect.gen(function*() {
      const up = yield* Effect.promise(() => startScriptedUpstream())
      const thinking = [
        `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":7,"cache_read_input_tokens":2,"output_tokens":1}}}\n\n`,
        `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}\n\n`,
        `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}\n\n`,
        `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}\n\n`,
        `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
        `event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}\n\n`,
        `event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":"}}\n\n`,
        `event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}\n\n`,
        `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":12}}\n\n`,
        `event: message_stop\ndata: {"type":"message_stop"}\n\n`
      ].join("")
      up.script({ sse: thinking })
      const events = yield* withBackend(anthropicBackend, (b) => collect(b.stream(conversation(), provider("anthropic", up.url))))
      expect(events).toEqual([
        { type: "start", id: "msg_1", model: "claude", usage: { inputTokens: 7, outputTokens: 1, cacheReadTokens: 2 } },
        { type: "thinking", text: "hm" },
        { type: "thinking", text: "", signature: "sig" },
        { type: "tool_call_start", index: 0, id: "toolu_1", name: "f" },
        { type: "tool_call_delta", index: 0, arguments: "{\"a\":" },
        { type: "tool_call_delta", index: 0, arguments: "1}" },
        { type: "finish", reason: "tool_use", usage: { inputTokens: 7, outputTokens: 12, cacheReadTokens: 2 } }
      ])
      expect(up.requests[0]!.body.stream).toBe(true)
      yield* Effect.promise(() => up.close())
    }))

  it.live("fails on an error event, on a truncated stream, and decodes whole messages", () =>
    Effect.gen(function*() {
      const up = yield* Effect.promise(() => startScriptedUpstream())
      const p = provider("anthropic", up.url)
      up.script({ answer: { text: ["a"] }, failAfter: 3 })
      const overloaded = yield* withBackend(anthropicBackend, (b) => Effect.flip(collect(b.stream(conversation(), p))))
      expect(overloaded).toMatchObject({ kind: "overloaded", message: "provider p1: Overloaded" })

      up.script({ sse: `event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1}}}\n\n` })
      const truncated = yield* withBackend(anthropicBackend, (b) => Effect.flip(collect(b.stream(conversation(), p))))
      expect(truncated).toMatchObject({ kind: "upstream" })
      expect(truncated.message).toContain("ended before the answer was complete")

      up.script({ answer: { text: ["whole"], toolCalls: [{ id: "t", name: "f", fragments: ["{\"x\":2}"] }], inputTokens: 3, outputTokens: 4 } })
      const completion = yield* withBackend(anthropicBackend, (b) => b.complete(conversation(), p))
      expect(completion).toMatchObject({
        content: [{ type: "text", text: "whole" }, { type: "tool_call", id: "t", name: "f", arguments: "{\"x\":2}" }],
        finishReason: "tool_use",
        usage: { inputTokens: 3, outputTokens: 4 }
      })
      yield* Effect.promise(() => up.close())
    }))
})

describe("openai and azure-openai backends", () => {
  it("encodes tool results as tool messages before the user's words, and max tokens per server", () => {
    const c = conversation({
      system: [{ type: "text", text: "a" }, { type: "text", text: "b" }],
      messages: [
        { role: "assistant", content: [{ type: "tool_call", id: "c1", name: "f", arguments: "{}" }] },
        { role: "user", content: [{ type: "tool_result", callId: "c1", content: [{ type: "text", text: "r" }, { type: "image", source: { kind: "base64", mediaType: "image/png", data: "AA" } }] }, { type: "text", text: "next" }] }
      ],
      maxTokens: 9,
      temperature: 0,
      extensions: { openai: { seed: 3 } }
    })
    expect(openaiRequest(c, true, { maxTokensField: "max_completion_tokens", streamOptions: true })).toEqual({
      seed: 3,
      model: "model-x",
      messages: [
        { role: "system", content: "a\n\nb" },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: "r" },
        { role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AA" } }, { type: "text", text: "next" }] }
      ],
      max_completion_tokens: 9,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true }
    })
    expect(openaiRequest(c, false, { maxTokensField: "max_tokens", streamOptions: false })).toMatchObject({ max_tokens: 9 })
    expect(supportsStreamOptions("2024-02-15-preview")).toBe(false)
    expect(supportsStreamOptions("2024-10-21")).toBe(true)
  })

  it.live("decodes streams (usage after finish, error chunks, no [DONE]) and calls Azure's deployment", () =>
    Effect.gen(function*() {
      const up = yield* Effect.promise(() => startScriptedUpstream())
      const openai = provider("openai", `${up.url}/v1`)
      up.script({ answer: { text: ["x", "y"], toolCalls: [{ id: "c", name: "f", fragments: ["{}"] }], inputTokens: 2, outputTokens: 3 }, splitBytes: 5 })
      const events = yield* withBackend(openaiBackend, (b) => collect(b.stream(conversation(), openai)))
      expect(events.at(-1)).toEqual({ type: "finish", reason: "tool_use", usage: { inputTokens: 2, outputTokens: 3 } })
      expect(events.filter((e) => (e as { type: string }).type === "text")).toHaveLength(2)
      expect(up.requests.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } })

      up.script({ answer: { text: ["x"] }, failAfter: 2 })
      const failed = yield* withBackend(openaiBackend, (b) => Effect.flip(collect(b.stream(conversation(), openai))))
      expect(failed).toMatchObject({ kind: "upstream" })

      const noDone = `data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\ndata: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n`
      up.script({ sse: noDone })
      const tolerated = yield* withBackend(openaiBackend, (b) => collect(b.stream(conversation(), openai)))
      expect(tolerated.at(-1)).toMatchObject({ type: "finish", reason: "end_turn" })

      up.script({ answer: { text: ["az"] } })
      const azure = yield* withBackend(azureOpenAIBackend, (b) => b.complete(conversation({ model: "" }), provider("azure-openai", up.url)))
      expect(azure.content).toEqual([{ type: "text", text: "az" }])
      expect(up.requests.at(-1)!.url).toBe("/openai/deployments/dep/chat/completions?api-version=2024-10-21")
      expect(up.requests.at(-1)!.headers["api-key"]).toBe("sk-test")
      yield* Effect.promise(() => up.close())
    }))
})

describe("request bodies with tools", () => {
  it.live("are what the codec encodes, with each definition's text kept for the next request", () =>
    Effect.gen(function*() {
      const up = yield* Effect.promise(() => startScriptedUpstream())
      const shared = { name: "web_fetch", description: "fetch a page", parameters: { type: "object", properties: { url: { type: "string" } } } }
      const first = conversation({ tools: [shared, { name: "f", parameters: { type: "object" } }], extensions: { anthropic: { tools: "theirs" }, openai: { tools: "theirs" } } })
      const second = conversation({ tools: [{ name: "g", strict: true, parameters: { type: "object", required: [] } }, shared], maxTokens: 5 })
      const cases = [
        { factory: anthropicBackend, p: provider("anthropic", up.url), encode: (c: Conversation) => anthropicRequest(c, 1000, false) },
        { factory: openaiBackend, p: provider("openai", `${up.url}/v1`), encode: (c: Conversation) => openaiRequest(c, false, { maxTokensField: "max_tokens", streamOptions: true }) }
      ]
      for (const { encode, factory, p } of cases) {
        for (const c of [first, second]) {
          up.script({ answer: { text: ["ok"] } })
          yield* withBackend(factory, (b) => b.complete(c, p))
          expect(up.requests.at(-1)!.body).toEqual(JSON.parse(JSON.stringify(encode(c))))
        }
      }
      // the gateway's definitions, not a client's extension that names the same member
      expect(up.requests[0]!.body.tools.map((t: { name: string }) => t.name)).toEqual(["web_fetch", "f"])
      expect(up.requests[3]!.body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(["g", "web_fetch"])
      yield* Effect.promise(() => up.close())
    }))
})

describe("mock backend", () => {
  const mock = mockBackend(undefined as never, { defaultMaxTokens: 100 })
  const p = provider("mock", "mock://local")

  it.effect("echoes, and its stream reassembles to the same answer", () =>
    Effect.gen(function*() {
      const whole = yield* mock.complete(conversation({ messages: [{ role: "user", content: [{ type: "text", text: "a rather long sentence to split" }] }] }), p)
      expect(whole.content).toEqual([{ type: "text", text: "Echo: a rather long sentence to split" }])
      const events = yield* Stream.runCollect(mock.stream(conversation({ messages: [{ role: "user", content: [{ type: "text", text: "a rather long sentence to split" }] }] }), p))
      expect(events.length).toBeGreaterThan(4)
      expect(events.flatMap((e) => (e.type === "text" ? [e.text] : [])).join("")).toBe("Echo: a rather long sentence to split")
    }))

  it.effect("answers only once the request's limits admitted it, and not at all when they refused", () =>
    Effect.gen(function*() {
      const hello = conversation({ messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }] })
      const refused = gatewayError("rate_limit", "over the limit")
      const under = (admission: Effect.Effect<unknown, GatewayError>) =>
        Effect.provideService(CurrentRequest, { started: 0, note: {}, atEnd: [], afterEnd: [], admission })
      expect(yield* Effect.flip(under(Effect.fail(refused))(mock.complete(hello, p)))).toBe(refused)
      expect(yield* Effect.flip(under(Effect.fail(refused))(Stream.runCollect(mock.stream(hello, p))))).toBe(refused)
      const admit = yield* Deferred.make<void>()
      const answer = yield* Effect.forkChild(under(Deferred.await(admit))(mock.complete(hello, p)))
      yield* Effect.yieldNow
      expect(answer.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(admit, undefined)
      expect((yield* Fiber.join(answer)).content).toEqual([{ type: "text", text: "Echo: hello" }])
    }))

  it.effect("calls a tool with schema-made arguments, then reports its result; honours stop and max_tokens", () =>
    Effect.gen(function*() {
      const tools = [{ name: "search", parameters: { type: "object", properties: { query: { type: "string" }, limit: { type: "integer" } }, required: ["query", "limit"] } }]
      const say = (text: string) => conversation({ tools, messages: [{ role: "user", content: [{ type: "text", text }] }] })
      // tools are called when named or required, never just because they exist
      expect((yield* mock.complete(say("hello"), p)).content).toEqual([{ type: "text", text: "Echo: hello" }])
      expect((yield* mock.complete(say("please\ncall_tool search: cats"), p)).content[0]).toMatchObject({ name: "search", arguments: "{\"query\":\"cats\",\"limit\":1}" })
      expect((yield* mock.complete(say("call_tool search {\"query\":\"dogs\",\"limit\":3}"), p)).content[0]).toMatchObject({ arguments: "{\"query\":\"dogs\",\"limit\":3}" })
      // naming a tool is not asking for it (Claude Code's reminders name its Agent tool)
      expect((yield* mock.complete(say("you may search or use the Agent tool"), p)).content).toEqual([{ type: "text", text: "Echo: you may search or use the Agent tool" }])
      const call = yield* mock.complete(conversation({ tools, toolChoice: { type: "required" } }), p)
      expect(call.finishReason).toBe("tool_use")
      expect(call.content[0]).toMatchObject({ type: "tool_call", name: "search", arguments: "{\"query\":\"hello\",\"limit\":1}" })
      const id = (call.content[0] as { id: string }).id
      const result = yield* mock.complete(conversation({
        tools,
        messages: [
          { role: "user", content: [{ type: "text", text: "hello" }] },
          { role: "assistant", content: call.content },
          { role: "user", content: [{ type: "tool_result", callId: id, content: [{ type: "text", text: "42" }] }] }
        ]
      }), p)
      expect(result.content).toEqual([{ type: "text", text: "Tool search returned: 42" }])
      expect((yield* mock.complete(conversation({ tools, toolChoice: { type: "none" } }), p)).finishReason).toBe("end_turn")
      const stopped = yield* mock.complete(conversation({ stop: ["ll"] }), p)
      expect(stopped).toMatchObject({ content: [{ type: "text", text: "Echo: he" }], finishReason: "stop_sequence", stopSequence: "ll" })
      const cut = yield* mock.complete(conversation({ maxTokens: 1, messages: [{ role: "user", content: [{ type: "text", text: "one two three" }] }] }), p)
      expect(cut).toMatchObject({ content: [{ type: "text", text: "Echo:" }], finishReason: "max_tokens" })
    }))
})

describe("upstream time limits", () => {
  const strict = Upstream.layer.pipe(
    Layer.provide(GatewayConfig.layer(testConfig({ upstreamTimeout: 300, streamIdleTimeout: 300, upstreamRetries: 0 }))),
    Layer.provide(Redactor.layerFresh)
  )
  const run = <A, E>(use: (b: ReturnType<BackendFactory>) => Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const upstream = yield* Upstream
      return yield* use(anthropicBackend(upstream, { defaultMaxTokens: 10 }))
    }).pipe(Effect.provide(strict))

  it.live("a provider that never answers is a 504; a stream that goes silent fails with a timeout", () =>
    Effect.gen(function*() {
      const up = yield* Effect.promise(() => startScriptedUpstream())
      const p = provider("anthropic", up.url)
      up.script({ hang: true })
      const silent = yield* run((b) => Effect.flip(b.complete(conversation(), p)))
      expect(silent).toMatchObject({ kind: "timeout" })

      up.script({ answer: { text: ["a", "b", "c"] }, chunkDelayMs: 1_000 })
      const stalled = yield* run((b) => Effect.flip(Stream.runCollect(b.stream(conversation(), p))))
      expect(stalled).toMatchObject({ kind: "timeout" })
      expect(stalled.message).toContain("sent nothing for 0.3s")
      yield* Effect.promise(() => up.close())
    }))
})
