import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { gatewayError } from "../../src/errors.ts"
import type { Conversation, ToolCallPart } from "../../src/ir/conversation.ts"
import type { AnswerEvent, StreamEvent } from "../../src/ir/response.ts"
import { foldCompletion } from "../../src/ir/collect.ts"
import { afterTurn, askingToStop, fitConversation, jsonBytesAtMost, type KeepTurn, loopLimits, messagesBytes, type Model, runToolLoop, type ServerTools, withResults } from "../../src/tools/loop.ts"
import { runToolLoopWhole, type WholeModel } from "../../src/tools/whole-loop.ts"
import { testConfig } from "../support/config.ts"

const limits = loopLimits(testConfig())
const loop = (c: Conversation, model: Model, tools: ServerTools, l = limits) => runToolLoop(c, model, tools, l)

const conversation = (over: Partial<Conversation> = {}): Conversation => ({
  model: "m",
  system: [{ type: "text", text: "You are helpful." }],
  messages: [{ role: "user", content: [{ type: "text", text: "question" }] }],
  tools: [],
  extensions: {},
  ...over
})

/** A model that answers from a script, one turn per call, recording what it was sent. */
const scripted = (turns: Array<Array<StreamEvent> | ReturnType<typeof gatewayError>>) => {
  const seen: Array<Conversation> = []
  const model: Model = (c) => {
    seen.push(c)
    const turn = turns.shift() ?? [{ type: "text", text: "(no more script)" }]
    return Array.isArray(turn)
      ? Stream.fromIterable([{ type: "start", id: `r${seen.length}`, model: "m" } as StreamEvent, ...turn])
      : Stream.fail(turn)
  }
  return { model, seen }
}

const usage = (i: number, o: number) => ({ inputTokens: i, outputTokens: o })
const callTurn = (...calls: Array<[string, string, string]>): Array<StreamEvent> => [
  ...calls.flatMap(([id, name, args], index): Array<StreamEvent> => [
    { type: "tool_call_start", index, id, name },
    { type: "tool_call_delta", index, arguments: args }
  ]),
  { type: "finish", reason: "tool_use", usage: usage(10, 2) }
]
const textTurn = (text: string): Array<StreamEvent> => [{ type: "text", text }, { type: "finish", reason: "end_turn", usage: usage(20, 5) }]

const tools = (log: Array<string> = [], delayMs = 0): ServerTools => ({
  definitions: [
    { name: "web_search", parameters: { type: "object" } },
    { name: "web_fetch", parameters: { type: "object" } }
  ],
  run: (call: ToolCallPart) =>
    Effect.sleep(delayMs).pipe(Effect.andThen(Effect.sync(() => {
      log.push(`${call.name}:${call.arguments}`)
      return { text: JSON.stringify({ result: `${call.name} done` }), isError: false }
    })))
})

const collect = (s: Stream.Stream<AnswerEvent, unknown>) => Effect.runPromise(Stream.runCollect(s))

describe("the tool loop", () => {
  it("runs server tools in parallel, feeds results back, streams text, and sums usage", async () => {
    const { model, seen } = scripted([callTurn(["c1", "web_search", "{\"query\":\"a\"}"], ["c2", "web_fetch", "{\"url\":\"u\"}"]), textTurn("Answer.")])
    const log: Array<string> = []
    const events = await collect(loop(conversation(), model, tools(log)))
    expect(events.map((e) => e.type)).toEqual(["start", "server_tool_call", "server_tool_call", "server_tool_result", "server_tool_result", "text", "finish"])
    expect(events[3]).toMatchObject({ type: "server_tool_result", call: { id: "c1" }, result: "{\"result\":\"web_search done\"}", isError: false })
    expect(events.at(-1)).toEqual({ type: "finish", reason: "end_turn", usage: usage(30, 7) })
    expect(log).toEqual(["web_search:{\"query\":\"a\"}", "web_fetch:{\"url\":\"u\"}"])
    // the second call carries the calls and their results, and the tools were added with one sentence
    expect(seen[1]!.messages.slice(1)).toEqual([
      { role: "assistant", content: [{ type: "tool_call", id: "c1", name: "web_search", arguments: "{\"query\":\"a\"}" }, { type: "tool_call", id: "c2", name: "web_fetch", arguments: "{\"url\":\"u\"}" }] },
      { role: "user", content: [
        { type: "tool_result", callId: "c1", content: [{ type: "text", text: "{\"result\":\"web_search done\"}" }] },
        { type: "tool_result", callId: "c2", content: [{ type: "text", text: "{\"result\":\"web_fetch done\"}" }] }
      ] }
    ])
    expect(seen[0]!.system).toHaveLength(2)
    expect(seen[0]!.system[0]!.text).toBe("You are helpful.")
    expect(seen[0]!.tools.map((t) => t.name)).toEqual(["web_search", "web_fetch"])
  })

  it("hands a client tool call to the client, and lets a client tool shadow a built-in", async () => {
    const client = conversation({ tools: [{ name: "web_fetch", parameters: {} }, { name: "get_weather", parameters: {} }] })
    const { model, seen } = scripted([callTurn(["c9", "get_weather", "{\"city\":\"Oslo\"}"])])
    const events = await collect(loop(client, model, tools()))
    expect(events).toEqual([
      { type: "start", id: "r1", model: "m" },
      { type: "tool_call_start", index: 0, id: "c9", name: "get_weather" },
      { type: "tool_call_delta", index: 0, arguments: "{\"city\":\"Oslo\"}" },
      { type: "finish", reason: "tool_use", usage: usage(10, 2) }
    ])
    expect(seen[0]!.tools.map((t) => t.name)).toEqual(["web_fetch", "get_weather", "web_search"])
  })

  it("stops after max iterations with one last call that may not use tools", async () => {
    const loops = Array.from({ length: 3 }, (_, i) => callTurn([`c${i}`, "web_search", `{"query":"${i}"}`]))
    const { model, seen } = scripted([...loops, textTurn("Summary.")])
    const events = await collect(loop(conversation(), model, tools(), { ...limits, maxIterations: 3 }))
    expect(seen).toHaveLength(4)
    expect(seen[3]!.toolChoice).toEqual({ type: "none" })
    expect(JSON.stringify(seen[3]!.messages.at(-1))).toContain("Stop using tools now")
    expect(events.at(-1)).toMatchObject({ type: "finish", reason: "end_turn", usage: usage(50, 11) })
    expect(events.filter((e) => e.type === "text").map((e) => (e as { text: string }).text)).toEqual(["Summary."])
  })

  it("tells the model to change approach when it repeats the same call", async () => {
    const same = () => callTurn(["c", "web_search", "{\"query\":\"same\"}"])
    const { model, seen } = scripted([same(), same(), same(), textTurn("ok")])
    const log: Array<string> = []
    await collect(loop(conversation(), model, tools(log)))
    expect(log).toHaveLength(2)
    expect(JSON.stringify(seen[3]!.messages.at(-1))).toContain("change your approach")
  })

  it("shrinks the conversation and retries once when the provider says the context is too long", async () => {
    const { model, seen } = scripted([gatewayError("invalid_request", "prompt is too long: 210000 tokens > 200000 maximum"), textTurn("fits")])
    const events = await collect(loop(conversation(), model, tools()))
    expect(events.at(-1)).toMatchObject({ type: "finish", reason: "end_turn" })
    expect(seen).toHaveLength(2)
    const other = scripted([gatewayError("rate_limit", "slow down")])
    await expect(collect(loop(conversation(), other.model, tools()))).rejects.toMatchObject({ kind: "rate_limit" })
  })

  it("measures the messages as their JSON, each message once", () => {
    const messages: Conversation["messages"] = [
      { role: "user", content: [{ type: "text", text: "héllo ✓ \"quoted\"\n" }] },
      { role: "assistant", content: [{ type: "tool_call", id: "c1", name: "t", arguments: "{\"a\":1}" }] }
    ]
    for (const some of [[], messages.slice(0, 1), messages]) expect(messagesBytes(some)).toBe(Buffer.byteLength(JSON.stringify(some)))
    // a message measured before is not measured again: a change to it in place would not be seen
    ;(messages[0]!.content[0] as { text: string }).text = "a much longer text than before"
    expect(messagesBytes(messages)).not.toBe(Buffer.byteLength(JSON.stringify(messages)))
  })

  it("bounds a value's JSON bytes from above without writing it, however its strings escape", () => {
    const values: Array<unknown> = [
      "", "plain", "\u0000\u001f\n\"\\", "héllo ✓ 😀", 0, -1.2345678901234567e-300, true, null, [], {}, [[[]]],
      { a: 1, "k\u0001y": ["x", { b: null, c: [1, "\n"] }] },
      { role: "user", content: [{ type: "text", text: "\u0007".repeat(50) }] },
      { skipped: undefined, kept: 1 }
    ]
    for (const value of values) expect(jsonBytesAtMost(value)).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(value)))
    // and is not so loose that ordinary text looks several times its size
    const text = { role: "user", content: [{ type: "text", text: "ordinary text ".repeat(100) }] }
    expect(jsonBytesAtMost(text)).toBeLessThan(7 * Buffer.byteLength(JSON.stringify(text)))
    // deep nesting is walked, not recursed into
    let deep: unknown = "x"
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(jsonBytesAtMost(deep)).toBeGreaterThan(200_000)
  })

  it("a conversation whose bound fits is kept whole; one near the limit is measured exactly", () => {
    const text = "x".repeat(1000)
    const c = conversation({ messages: [{ role: "user", content: [{ type: "tool_result", callId: "c1", content: [{ type: "text", text }] }] }] })
    const exact = messagesBytes(c.messages)
    expect(fitConversation(c, 10 * exact)).toBe(c)
    // between its exact size and its bound: measured, and kept, as it fits
    expect(fitConversation(c, exact)).toBe(c)
    expect(JSON.stringify(fitConversation(c, exact - 1).messages)).toContain("[removed")
  })

  it("drops the oldest tool results first to keep within the size limit", () => {
    const big = "x".repeat(1000)
    const c = conversation({
      messages: [1, 2].flatMap((i): Conversation["messages"] => [
        { role: "assistant", content: [{ type: "tool_call", id: `c${i}`, name: "t", arguments: "{}" }] },
        { role: "user", content: [{ type: "tool_result", callId: `c${i}`, content: [{ type: "text", text: big }] }] }
      ])
    })
    const fitted = fitConversation(c, 1800)
    expect(JSON.stringify(fitted.messages[1])).toContain("[removed")
    expect(JSON.stringify(fitted.messages[3])).toContain(big)
  })

  it.live("runs nothing more once the caller is gone", () =>
    Effect.gen(function*() {
      const { model, seen } = scripted([callTurn(["c1", "web_search", "{}"]), textTurn("never")])
      const log: Array<string> = []
      const fiber = yield* Stream.runDrain(loop(conversation(), model, tools(log, 300))).pipe(Effect.forkChild)
      yield* Effect.sleep(100) // the tool is running
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep(400)
      expect(log).toEqual([]) // the tool was interrupted before it finished
      expect(seen).toHaveLength(1) // and the model was not called again
    }))

  it("parts the text of separate model calls with a blank line", async () => {
    const { model } = scripted([[{ type: "text", text: "Let me look." }, ...callTurn(["c1", "web_search", "{}"])], textTurn("Found.")])
    const events = await collect(loop(conversation(), model, tools()))
    expect(events.flatMap((e) => (e.type === "text" ? [e.text] : [])).join("")).toBe("Let me look.\n\nFound.")
  })

  it("stops forcing a tool once server tools have run, so a required choice cannot loop forever", async () => {
    const { model, seen } = scripted([callTurn(["c1", "web_search", "{}"]), textTurn("ok")])
    await collect(loop(conversation({ toolChoice: { type: "required" } }), model, tools()))
    expect(seen[0]!.toolChoice).toEqual({ type: "required" })
    expect(seen[1]!.toolChoice).toEqual({ type: "auto" })
  })

  it("asks for an answer without tools once the deadline has passed", async () => {
    const { model, seen } = scripted([callTurn(["c1", "web_search", "{}"]), textTurn("What I have.")])
    const log: Array<string> = []
    const events = await collect(loop(conversation(), model, tools(log), { ...limits, deadlineMs: -1 }))
    expect(log).toEqual([])
    expect(seen[1]!.toolChoice).toEqual({ type: "none" })
    expect(events.at(-1)).toMatchObject({ type: "finish", reason: "end_turn", usage: usage(30, 7) })
  })

  it("gives the model back its signed thinking with the tool calls, as Anthropic requires", async () => {
    const thinkingTurn: Array<StreamEvent> = [
      { type: "thinking", text: "I should " },
      { type: "thinking", text: "search.", signature: "sig-1" },
      ...callTurn(["c1", "web_search", "{}"])
    ]
    const { model, seen } = scripted([thinkingTurn, textTurn("Done.")])
    const events = await collect(loop(conversation(), model, tools()))
    expect(events.filter((e) => e.type === "thinking")).toHaveLength(2)
    expect(seen[1]!.messages[1]).toEqual({
      role: "assistant",
      content: [
        { type: "thinking", text: "I should search.", signature: "sig-1" },
        { type: "tool_call", id: "c1", name: "web_search", arguments: "{}" }
      ]
    })
  })

  it("a turn calling the gateway's tool and the client's, with nowhere to keep the gateway's: it runs first, the model is asked again without the client's", async () => {
    const client = conversation({ tools: [{ name: "edit_file", parameters: {} }] })
    const mixed: Array<StreamEvent> = [
      { type: "text", text: "Looking it up, then editing." },
      { type: "tool_call_start", index: 0, id: "e1", name: "edit_file" },
      { type: "tool_call_delta", index: 0, arguments: "{\"path\":" },
      { type: "tool_call_start", index: 1, id: "s1", name: "web_search" },
      { type: "tool_call_delta", index: 0, arguments: "\"a.ts\"}" },
      { type: "tool_call_delta", index: 1, arguments: "{}" },
      { type: "finish", reason: "tool_use", usage: usage(10, 2) }
    ]
    const { model, seen } = scripted([mixed, callTurn(["e2", "edit_file", "{\"path\":\"a.ts\"}"])])
    const log: Array<string> = []
    const events = await collect(loop(client, model, tools(log)))
    // the client never sees the call of the first turn, only the one the model repeated knowing the result
    expect(events.filter((e) => e.type.startsWith("tool_call"))).toEqual([
      { type: "tool_call_start", index: 0, id: "e2", name: "edit_file" },
      { type: "tool_call_delta", index: 0, arguments: "{\"path\":\"a.ts\"}" }
    ])
    expect(events.at(-1)).toEqual({ type: "finish", reason: "tool_use", usage: usage(20, 4) })
    expect(log).toEqual(["web_search:{}"])
    // the model's history holds the gateway's call with its result, and not the client's
    const [assistant, results] = seen[1]!.messages.slice(-2)
    expect(assistant!.content.map((p) => (p.type === "tool_call" ? p.name : p.type))).toEqual(["text", "web_search"])
    expect(results!.content).toEqual([{ type: "tool_result", callId: "s1", content: [{ type: "text", text: JSON.stringify({ result: "web_search done" }) }] }])
  })

  it("a turn calling both, with somewhere to keep the gateway's: they run, are kept beside the client's, and the client gets its call at once", async () => {
    const client = conversation({ tools: [{ name: "edit_file", parameters: {} }] })
    const { model, seen } = scripted([callTurn(["e1", "edit_file", "{\"path\":\"a.ts\"}"], ["s1", "web_search", "{}"])])
    const kept: Array<unknown> = []
    const keep: KeepTurn = (clientCalls, turn) => Effect.sync(() => void kept.push([clientCalls.map((x) => x.id), turn]))
    const events = await collect(runToolLoop(client, model, tools(), limits, { keep }))
    expect(seen).toHaveLength(1)
    expect(events.filter((e) => e.type.startsWith("tool_call") || e.type.startsWith("server_tool_call"))).toEqual([
      { type: "server_tool_call", call: { type: "tool_call", id: "s1", name: "web_search", arguments: "{}" } },
      { type: "tool_call_start", index: 0, id: "e1", name: "edit_file" },
      { type: "tool_call_delta", index: 0, arguments: "{\"path\":\"a.ts\"}" }
    ])
    expect(events.at(-1)).toEqual({ type: "finish", reason: "tool_use", usage: usage(10, 2) })
    expect(kept).toEqual([[["e1"], {
      calls: [{ type: "tool_call", id: "s1", name: "web_search", arguments: "{}" }],
      results: [{ text: JSON.stringify({ result: "web_search done" }), isError: false }]
    }]])
  })

  it("a client's call arrives whole at the turn's end while the gateway offers tools, numbered among the client's calls", async () => {
    const client = conversation({ tools: [{ name: "edit_file", parameters: {} }] })
    const { model } = scripted([[
      { type: "text", text: "Editing." },
      { type: "tool_call_start", index: 0, id: "e1", name: "edit_file" },
      { type: "tool_call_delta", index: 0, arguments: "{\"path\":" },
      { type: "tool_call_delta", index: 0, arguments: "\"a.ts\"}" },
      { type: "finish", reason: "tool_use", usage: usage(10, 2) }
    ]])
    const events = await collect(loop(client, model, tools()))
    expect(events.map((e) => e.type)).toEqual(["start", "text", "tool_call_start", "tool_call_delta", "tool_call_delta", "finish"])
    // without tools of the gateway's to offer, it streams as it comes: nothing could join the turn
    const plain = scripted([[{ type: "tool_call_start", index: 0, id: "e1", name: "edit_file" }, { type: "finish", reason: "tool_use", usage: usage(1, 1) }]])
    expect((await collect(loop(client, plain.model, { ...tools(), definitions: [] }))).map((e) => e.type)).toEqual(["start", "tool_call_start", "finish"])
  })

  it("answers without the gateway's tools when the model rejects tools and the client sent none", async () => {
    const { model, seen } = scripted([gatewayError("invalid_request", "registry.ollama.ai/library/gemma:2b does not support tools"), textTurn("Plain answer.")])
    const events = await collect(loop(conversation(), model, tools()))
    expect(events.at(-1)).toMatchObject({ type: "finish", reason: "end_turn" })
    expect(seen[1]!.tools).toEqual([])
    expect(seen[1]!.system).toEqual([{ type: "text", text: "You are helpful." }])
    // with tools of its own, the client learns of the rejection
    const own = scripted([gatewayError("invalid_request", "this model does not support tools")])
    await expect(collect(loop(conversation({ tools: [{ name: "mine", parameters: {} }] }), own.model, tools()))).rejects.toMatchObject({ kind: "invalid_request" })
  })

  it("sends waits while tools run, for the dialects' keep-alives", async () => {
    const { model } = scripted([callTurn(["c1", "web_search", "{}"]), textTurn("ok")])
    const events = await collect(loop(conversation(), model, tools([], 250), { ...limits, keepAliveMs: 60 }))
    const types = events.map((e) => e.type)
    expect(types.filter((t) => t === "server_tool_wait").length).toBeGreaterThanOrEqual(2)
    // only between a call and its result
    expect(types.indexOf("server_tool_wait")).toBeGreaterThan(types.indexOf("server_tool_call"))
    expect(types.lastIndexOf("server_tool_wait")).toBeLessThan(types.indexOf("server_tool_result"))
  })
})

/** The same script asked for whole answers: each turn folded into the completion a provider would answer. */
const wholeOf = (model: Model): WholeModel => (c) => Effect.flatMap(Stream.runCollect(model(c)), foldCompletion)

describe("the tool loop for a client waiting for the whole answer", () => {
  const kept = (into: Array<unknown>): KeepTurn => (clientCalls, turn) => Effect.sync(() => void into.push([clientCalls.map((x) => x.id), turn]))
  const client = conversation({ tools: [{ name: "edit_file", parameters: {} }] })
  const mixedTurn = (): Array<StreamEvent> => [
    { type: "text", text: "Looking it up, then editing." },
    { type: "tool_call_start", index: 0, id: "e1", name: "edit_file" },
    { type: "tool_call_delta", index: 0, arguments: "{\"path\":\"a.ts\"}" },
    { type: "tool_call_start", index: 1, id: "s1", name: "web_search" },
    { type: "tool_call_delta", index: 1, arguments: "{}" },
    { type: "finish", reason: "tool_use", usage: usage(10, 2) }
  ]
  const cases: Array<{
    readonly name: string
    readonly turns: () => Array<Array<StreamEvent> | ReturnType<typeof gatewayError>>
    readonly conversation?: Conversation
    readonly limits?: typeof limits
    readonly keeps?: boolean
  }> = [
    { name: "text only", turns: () => [textTurn("Hello.")] },
    { name: "two tools in one turn, then text", turns: () => [[{ type: "text", text: "Let me look." }, ...callTurn(["c1", "web_search", "{\"query\":\"a\"}"], ["c2", "web_fetch", "{}"])], textTurn("Found.")] },
    { name: "a client's call", conversation: client, turns: () => [callTurn(["e1", "edit_file", "{}"])] },
    { name: "a mixed turn with nowhere to keep the gateway's calls", conversation: client, turns: () => [mixedTurn(), callTurn(["e2", "edit_file", "{}"])] },
    { name: "a mixed turn kept beside the client's", conversation: client, keeps: true, turns: () => [mixedTurn()] },
    { name: "out of turns", limits: { ...limits, maxIterations: 2 }, turns: () => [callTurn(["c1", "web_search", "{\"query\":\"1\"}"]), callTurn(["c2", "web_search", "{\"query\":\"2\"}"]), textTurn("Summary.")] },
    { name: "past the deadline", limits: { ...limits, deadlineMs: -1 }, turns: () => [callTurn(["c1", "web_search", "{}"]), textTurn("What I have.")] },
    { name: "the same call repeated", turns: () => [1, 2, 3].map(() => callTurn(["c", "web_search", "{}"])).concat([textTurn("ok")]) },
    { name: "a context too long, retried shrunk", turns: () => [gatewayError("invalid_request", "prompt is too long: 210000 tokens > 200000 maximum"), textTurn("fits")] },
    { name: "tools rejected", turns: () => [gatewayError("invalid_request", "this model does not support tools"), textTurn("Plain answer.")] },
    { name: "signed thinking before a call", turns: () => [[{ type: "thinking", text: "I should search.", signature: "sig-1" }, ...callTurn(["c1", "web_search", "{}"])], textTurn("Done.")] }
  ]

  for (const c of cases) {
    it(`answers what the streamed loop's events fold to, asking the model the same: ${c.name}`, async () => {
      const streamedModel = scripted(c.turns())
      const wholeModel = scripted(c.turns())
      const keptStreamed: Array<unknown> = []
      const keptWhole: Array<unknown> = []
      const runLimits = c.limits ?? limits
      const streamed = await Effect.runPromise(
        Stream.runCollect(runToolLoop(c.conversation ?? conversation(), streamedModel.model, tools(), runLimits, c.keeps === true ? { keep: kept(keptStreamed) } : {})).pipe(Effect.flatMap(foldCompletion))
      )
      const whole = await Effect.runPromise(
        runToolLoopWhole(c.conversation ?? conversation(), wholeOf(wholeModel.model), tools(), runLimits, c.keeps === true ? { keep: kept(keptWhole) } : {}).pipe(Effect.flatMap(foldCompletion))
      )
      expect(whole).toEqual(streamed)
      expect(wholeModel.seen).toEqual(streamedModel.seen)
      expect(keptWhole).toEqual(keptStreamed)
    })
  }

  it("fails as the model does, and runs nothing more once the caller is gone", async () => {
    const failing = scripted([gatewayError("rate_limit", "slow down")])
    await expect(Effect.runPromise(runToolLoopWhole(conversation(), wholeOf(failing.model), tools(), limits))).rejects.toMatchObject({ kind: "rate_limit" })
    const { model, seen } = scripted([callTurn(["c1", "web_search", "{}"]), textTurn("never")])
    const log: Array<string> = []
    await Effect.runPromise(Effect.gen(function*() {
      const fiber = yield* runToolLoopWhole(conversation(), wholeOf(model), tools(log, 300), limits).pipe(Effect.forkChild)
      yield* Effect.sleep(100)
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep(400)
    }))
    expect(log).toEqual([])
    expect(seen).toHaveLength(1)
  })

  it("lists parallel tools' results in call order, whichever finished first", async () => {
    const slowFirst: ServerTools = {
      ...tools(),
      run: (call) => Effect.as(Effect.sleep(call.id === "c1" ? 60 : 0), { text: `"${call.id}"`, isError: false })
    }
    const { model } = scripted([callTurn(["c1", "web_search", "{}"], ["c2", "web_fetch", "{}"]), textTurn("ok")])
    const events = await Effect.runPromise(runToolLoopWhole(conversation(), wholeOf(model), slowFirst, limits))
    expect(events.flatMap((e) => (e.type === "server_tool_result" ? [e.call.id] : []))).toEqual(["c1", "c2"])
  })
})

describe("after a turn", () => {
  const end = { reason: "tool_use" as const, usage: { inputTokens: 1, outputTokens: 1 } }
  const call = (name: string): ToolCallPart => ({ type: "tool_call", id: `c_${name}`, name, arguments: "{}" })
  const isServer = (name: string) => name === "web_fetch"
  const cases: Array<[string, Parameters<typeof afterTurn>, unknown]> = [
    ["a failed stream ends the loop: its error is on the way", [undefined, [call("web_fetch")], isServer, undefined, undefined], { _tag: "failed" }],
    ["text only: answered as the model ended", [{ ...end, reason: "end_turn" }, [], isServer, undefined, undefined], { _tag: "answered", reason: "end_turn", outcome: "answered" }],
    ["a client's call: answered for the client to run it", [end, [call("ticket")], isServer, undefined, undefined], { _tag: "answered", reason: "tool_use", outcome: "client_tool" }],
    ["the gateway's call: run it", [end, [call("web_fetch")], isServer, undefined, undefined], { _tag: "run", calls: [call("web_fetch")], clientCalls: [], cut: undefined }],
    ["both: the gateway's run, the client's are set aside", [end, [call("ticket"), call("web_fetch")], isServer, undefined, undefined], {
      _tag: "run",
      calls: [call("web_fetch")],
      clientCalls: [call("ticket")],
      cut: undefined
    }],
    ["out of turns: run, then one last call", [end, [call("web_fetch")], isServer, undefined, "iteration_limit"], { _tag: "run", calls: [call("web_fetch")], clientCalls: [], cut: "iteration_limit" }],
    ["the last call's tool calls are not run", [end, [call("web_fetch")], isServer, "deadline", undefined], { _tag: "answered", reason: "end_turn", outcome: "deadline" }]
  ]
  for (const [name, args, expected] of cases) it(name, () => expect(afterTurn(...args)).toEqual(expected))

  it("a last call keeps the turns alternating", () => {
    const c = conversation()
    const ask = { type: "text", text: "Stop using tools now and answer with what you have found so far." }
    expect(askingToStop(c, []).messages).toEqual([{ role: "user", content: [{ type: "text", text: "question" }, ask] }])
    expect(askingToStop(c, [{ type: "text", text: "Looking." }]).messages.slice(1)).toEqual([
      { role: "assistant", content: [{ type: "text", text: "Looking." }] },
      { role: "user", content: [ask] }
    ])
    expect(askingToStop(c, []).toolChoice).toEqual({ type: "none" })
  })

  it("results follow the calls in order, and a forced choice is relaxed", () => {
    const next = withResults(conversation({ toolChoice: { type: "required" } }), [], [call("a"), call("b")], ["ra", "rb"])
    expect(next.messages.at(-1)).toEqual({
      role: "user",
      content: [
        { type: "tool_result", callId: "c_a", content: [{ type: "text", text: "ra" }] },
        { type: "tool_result", callId: "c_b", content: [{ type: "text", text: "rb" }] }
      ]
    })
    expect(next.toolChoice).toEqual({ type: "auto" })
  })
})
