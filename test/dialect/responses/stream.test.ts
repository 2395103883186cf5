import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { encodeStream } from "../../../src/dialect/responses/stream.ts"
import { type GatewayError, gatewayError } from "../../../src/errors.ts"
import type { AnswerEvent, StreamEvent } from "../../../src/ir/response.ts"
import type { ResponsesExtra } from "../../../src/dialect/responses/vocabulary.ts"

const start: StreamEvent = { type: "start", id: "chatcmpl-9x", model: "gpt-4o-2024-08-06" }
const usage = { inputTokens: 472, outputTokens: 89 }
const usageJson = { input_tokens: 472, input_tokens_details: { cached_tokens: 0 }, output_tokens: 89, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 561 }

const extraOf = (over: Partial<ResponsesExtra> = {}): ResponsesExtra => ({
  echo: { instructions: "Be brief.", temperature: 0.2 },
  freeform: new Set(),
  hosted: new Set(),
  namespaced: new Map(),
  store: true,
  input: [],
  ...over
})
const meta = { id: "resp_1", model: "openai/gpt-4o", createdAt: 1700000000 }

interface Frame {
  readonly event: string
  readonly data: Record<string, unknown>
}

/** Item ids are random: each becomes its prefix and its place among the ids seen (`msg_1`). */
const stableIds = (text: string): string => {
  const seen = new Map<string, string>()
  return text.replace(/\b(msg|rs|fc|ctc|ws|ci)_[0-9a-f]{48}\b/g, (id, prefix: string) => {
    if (!seen.has(id)) seen.set(id, `${prefix}_${[...seen.keys()].filter((k) => k.startsWith(prefix)).length + 1}`)
    return seen.get(id)!
  })
}

/** The frames of an encoded stream, failing on anything that is not Responses framing (comments are kept as such). */
const parse = (text: string): Array<Frame | string> =>
  stableIds(text).split("\n\n").filter((block) => block !== "").map((block) => {
    if (block.startsWith(":")) return block
    const match = /^event: ([a-z_.]+)\ndata: (.+)$/.exec(block)
    if (match === null) throw new Error(`not a frame: ${JSON.stringify(block)}`)
    const data = JSON.parse(match[2]!) as Record<string, unknown>
    if (data.type !== match[1]) throw new Error(`event ${match[1]} carries type ${String(data.type)}`)
    return { event: match[1]!, data }
  })

const encode = (events: ReadonlyArray<AnswerEvent> | Stream.Stream<AnswerEvent, GatewayError>, extra = extraOf(), more: Partial<Parameters<typeof encodeStream>[2]> = {}) =>
  Effect.map(
    Stream.runCollect(encodeStream(Array.isArray(events) ? Stream.fromIterable(events) : events as Stream.Stream<AnswerEvent, GatewayError>, extra, { ...meta, ...more })),
    (frames) => frames.join("")
  )

const frames = (events: Parameters<typeof encode>[0], extra?: ResponsesExtra, more?: Parameters<typeof encode>[2]) =>
  Effect.map(encode(events, extra, more), parse)

/** The frames' data with their sequence numbers checked (0, 1, 2… over the events) and left out. */
const events = (all: Array<Frame | string>) => {
  const only = all.filter((f): f is Frame => typeof f !== "string")
  expect(only.map((f) => f.data.sequence_number)).toEqual(only.map((_, i) => i))
  return only.map(({ data: { sequence_number: _, ...rest } }) => rest)
}

const response = (status: string, output: Array<unknown>, over: object = {}) => ({
  id: "resp_1",
  object: "response",
  created_at: 1700000000,
  status,
  background: false,
  error: null,
  incomplete_details: null,
  instructions: "Be brief.",
  temperature: 0.2,
  model: "openai/gpt-4o",
  output,
  usage: status === "in_progress" ? null : usageJson,
  ...over
})
const opening = [
  { type: "response.created", response: response("in_progress", []) },
  { type: "response.in_progress", response: response("in_progress", []) }
]
const at = (id: string, output_index: number) => ({ item_id: id, output_index })
const text = (t: string) => ({ type: "output_text", text: t, annotations: [], logprobs: [] })
const message = (id: string, t: string) => ({ type: "message", id, status: "completed", role: "assistant", content: [text(t)] })
const messageEvents = (id: string, index: number, deltas: Array<string>) => [
  { type: "response.output_item.added", output_index: index, item: { type: "message", id, status: "in_progress", role: "assistant", content: [] } },
  { type: "response.content_part.added", ...at(id, index), content_index: 0, part: text("") },
  ...deltas.map((delta) => ({ type: "response.output_text.delta", ...at(id, index), content_index: 0, delta, logprobs: [] })),
  { type: "response.output_text.done", ...at(id, index), content_index: 0, text: deltas.join(""), logprobs: [] },
  { type: "response.content_part.done", ...at(id, index), content_index: 0, part: text(deltas.join("")) },
  { type: "response.output_item.done", output_index: index, item: message(id, deltas.join("")) }
]
const call = (id: string, call_id: string, name: string, args: string, status = "completed") => ({ type: "function_call", id, status, call_id, name, arguments: args })

describe("encodeStream", () => {
  it.effect("frames a text answer exactly, numbering every event", () =>
    Effect.gen(function*() {
      const text = yield* encode([start, { type: "text", text: "Hello" }, { type: "text", text: ", world." }, { type: "finish", reason: "end_turn", usage }])
      expect(stableIds(text).startsWith(
        "event: response.created\n" +
          'data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1700000000,"status":"in_progress",' +
          '"background":false,"error":null,"incomplete_details":null,"instructions":"Be brief.","temperature":0.2,"model":"openai/gpt-4o","output":[],"usage":null}}\n\n' +
          "event: response.in_progress\n"
      )).toBe(true)
      expect(events(parse(text))).toEqual([
        ...opening,
        ...messageEvents("msg_1", 0, ["Hello", ", world."]),
        { type: "response.completed", response: response("completed", [message("msg_1", "Hello, world.")]) }
      ])
    }))

  it.effect("sends signed thinking as a reasoning item carrying the signature, then the text", () =>
    Effect.gen(function*() {
      const all = events(yield* frames([
        start,
        { type: "thinking", text: "The user " },
        { type: "thinking", text: "greets me." },
        { type: "thinking", text: "", signature: "EqQBCkYIBxgC" },
        { type: "text", text: "Hi!" },
        { type: "finish", reason: "end_turn", usage }
      ]))
      const reasoning = { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "The user greets me." }], encrypted_content: "orka.anthropic.v1:EqQBCkYIBxgC" }
      const summary = { ...at("rs_1", 0), summary_index: 0 }
      expect(all).toEqual([
        ...opening,
        { type: "response.output_item.added", output_index: 0, item: { type: "reasoning", id: "rs_1", summary: [] } },
        { type: "response.reasoning_summary_part.added", ...summary, part: { type: "summary_text", text: "" } },
        { type: "response.reasoning_summary_text.delta", ...summary, delta: "The user " },
        { type: "response.reasoning_summary_text.delta", ...summary, delta: "greets me." },
        { type: "response.reasoning_summary_text.done", ...summary, text: "The user greets me." },
        { type: "response.reasoning_summary_part.done", ...summary, part: { type: "summary_text", text: "The user greets me." } },
        { type: "response.output_item.done", output_index: 0, item: reasoning },
        ...messageEvents("msg_1", 1, ["Hi!"]),
        { type: "response.completed", response: response("completed", [reasoning, message("msg_1", "Hi!")]) }
      ])
    }))

  it.effect("streams a tool call's arguments as they come; it stays open until the finish", () =>
    Effect.gen(function*() {
      const all = events(yield* frames([
        start,
        { type: "text", text: "Checking." },
        { type: "tool_call_start", index: 0, id: "call_paris", name: "get_weather" },
        { type: "tool_call_delta", index: 0, arguments: '{"city":' },
        { type: "tool_call_delta", index: 0, arguments: '"Paris"}' },
        { type: "finish", reason: "tool_use", usage }
      ]))
      const done = call("fc_1", "call_paris", "get_weather", '{"city":"Paris"}')
      expect(all).toEqual([
        ...opening,
        ...messageEvents("msg_1", 0, ["Checking."]),
        { type: "response.output_item.added", output_index: 1, item: call("fc_1", "call_paris", "get_weather", "", "in_progress") },
        { type: "response.function_call_arguments.delta", ...at("fc_1", 1), delta: '{"city":' },
        { type: "response.function_call_arguments.delta", ...at("fc_1", 1), delta: '"Paris"}' },
        { type: "response.function_call_arguments.done", ...at("fc_1", 1), name: "get_weather", arguments: '{"city":"Paris"}' },
        { type: "response.output_item.done", output_index: 1, item: done },
        { type: "response.completed", response: response("completed", [message("msg_1", "Checking."), done]) }
      ])
    }))

  it.effect("sends two interleaved tool calls one after the other: the second's fragments wait for its turn", () =>
    Effect.gen(function*() {
      const all = events(yield* frames([
        start,
        { type: "tool_call_start", index: 0, id: "call_paris", name: "get_weather" },
        { type: "tool_call_start", index: 1, id: "call_tokyo", name: "get_weather" },
        { type: "tool_call_delta", index: 0, arguments: '{"city":' },
        { type: "tool_call_delta", index: 1, arguments: '{"city":' },
        { type: "tool_call_delta", index: 1, arguments: '"Tokyo"}' },
        { type: "tool_call_delta", index: 0, arguments: '"Paris"}' },
        { type: "finish", reason: "tool_use", usage }
      ]))
      const paris = call("fc_1", "call_paris", "get_weather", '{"city":"Paris"}')
      const tokyo = call("fc_2", "call_tokyo", "get_weather", '{"city":"Tokyo"}')
      expect(all).toEqual([
        ...opening,
        { type: "response.output_item.added", output_index: 0, item: call("fc_1", "call_paris", "get_weather", "", "in_progress") },
        { type: "response.function_call_arguments.delta", ...at("fc_1", 0), delta: '{"city":' },
        { type: "response.function_call_arguments.delta", ...at("fc_1", 0), delta: '"Paris"}' },
        { type: "response.function_call_arguments.done", ...at("fc_1", 0), name: "get_weather", arguments: '{"city":"Paris"}' },
        { type: "response.output_item.done", output_index: 0, item: paris },
        { type: "response.output_item.added", output_index: 1, item: call("fc_2", "call_tokyo", "get_weather", "", "in_progress") },
        { type: "response.function_call_arguments.delta", ...at("fc_2", 1), delta: '{"city":' },
        { type: "response.function_call_arguments.delta", ...at("fc_2", 1), delta: '"Tokyo"}' },
        { type: "response.function_call_arguments.done", ...at("fc_2", 1), name: "get_weather", arguments: '{"city":"Tokyo"}' },
        { type: "response.output_item.done", output_index: 1, item: tokyo },
        { type: "response.completed", response: response("completed", [paris, tokyo]) }
      ])
    }))

  it.effect("names a tool inside a namespace by its own name, with its namespace, in every event", () =>
    Effect.gen(function*() {
      const all = events(yield* frames([
        start,
        { type: "tool_call_start", index: 0, id: "c1", name: "agents__spawn" },
        { type: "tool_call_delta", index: 0, arguments: "{}" },
        { type: "finish", reason: "tool_use", usage }
      ], extraOf({ namespaced: new Map([["agents__spawn", { namespace: "agents", name: "spawn" }]]) })))
      expect(all.filter((e) => e.type !== "response.function_call_arguments.delta").slice(2, -1)).toEqual([
        { type: "response.output_item.added", output_index: 0, item: { ...call("fc_1", "c1", "spawn", "", "in_progress"), namespace: "agents" } },
        { type: "response.function_call_arguments.done", ...at("fc_1", 0), name: "spawn", arguments: "{}" },
        { type: "response.output_item.done", output_index: 0, item: { ...call("fc_1", "c1", "spawn", "{}"), namespace: "agents" } }
      ])
    }))

  it.effect("sends a freeform tool's call whole at the finish, its input unwrapped from the arguments", () =>
    Effect.gen(function*() {
      const patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
      const args = JSON.stringify({ input: patch })
      const all = events(yield* frames([
        start,
        { type: "tool_call_start", index: 0, id: "call_patch", name: "apply_patch" },
        { type: "tool_call_delta", index: 0, arguments: args.slice(0, 20) },
        { type: "tool_call_delta", index: 0, arguments: args.slice(20) },
        { type: "finish", reason: "tool_use", usage }
      ], extraOf({ freeform: new Set(["apply_patch"]) })))
      const done = { type: "custom_tool_call", id: "ctc_1", status: "completed", call_id: "call_patch", name: "apply_patch", input: patch }
      expect(all).toEqual([
        ...opening,
        { type: "response.output_item.added", output_index: 0, item: { ...done, status: "in_progress", input: "" } },
        { type: "response.custom_tool_call_input.delta", ...at("ctc_1", 0), delta: patch },
        { type: "response.custom_tool_call_input.done", ...at("ctc_1", 0), input: patch },
        { type: "response.output_item.done", output_index: 0, item: done },
        { type: "response.completed", response: response("completed", [done]) }
      ])
    }))

  it.effect("shows hosted web_search and code_exec calls as their items, with their progress events", () =>
    Effect.gen(function*() {
      const search = { type: "tool_call", id: "call_s", name: "web_search", arguments: '{"query":"weather Paris"}' } as const
      const run = { type: "tool_call", id: "call_c", name: "code_exec", arguments: '{"language":"python","code":"print(6*7)"}' } as const
      const all = events(yield* frames([
        start,
        { type: "text", text: "Searching." },
        { type: "server_tool_call", call: search },
        { type: "server_tool_wait" },
        { type: "server_tool_result", call: search, result: '{"results":[]}', isError: false },
        { type: "server_tool_call", call: run },
        { type: "server_tool_result", call: run, result: '{"output":"42\\n","error":"","exit_code":0,"timed_out":false}', isError: false },
        { type: "text", text: "42." },
        { type: "finish", reason: "end_turn", usage }
      ], extraOf({ hosted: new Set(["web_search", "code_exec"]) })))
      const ws = { type: "web_search_call", id: "ws_1", status: "completed", action: { type: "search", query: "weather Paris" } }
      const ci = { type: "code_interpreter_call", id: "ci_1", status: "completed", code: "print(6*7)", container_id: "orka", outputs: [{ type: "logs", logs: "42\n" }] }
      expect(all).toEqual([
        ...opening,
        ...messageEvents("msg_1", 0, ["Searching."]),
        { type: "response.output_item.added", output_index: 1, item: { ...ws, status: "in_progress" } },
        { type: "response.web_search_call.in_progress", ...at("ws_1", 1) },
        { type: "response.web_search_call.searching", ...at("ws_1", 1) },
        { type: "response.web_search_call.completed", ...at("ws_1", 1) },
        { type: "response.output_item.done", output_index: 1, item: ws },
        { type: "response.output_item.added", output_index: 2, item: { ...ci, status: "in_progress", outputs: null } },
        { type: "response.code_interpreter_call.in_progress", ...at("ci_1", 2) },
        { type: "response.code_interpreter_call_code.delta", ...at("ci_1", 2), delta: "print(6*7)" },
        { type: "response.code_interpreter_call_code.done", ...at("ci_1", 2), code: "print(6*7)" },
        { type: "response.code_interpreter_call.interpreting", ...at("ci_1", 2) },
        { type: "response.code_interpreter_call.completed", ...at("ci_1", 2) },
        { type: "response.output_item.done", output_index: 2, item: ci },
        ...messageEvents("msg_2", 3, ["42."]),
        { type: "response.completed", response: response("completed", [message("msg_1", "Searching."), ws, ci, message("msg_2", "42.")]) }
      ])
    }))

  it.effect("two hosted calls at once: the second waits for the first to end, whichever result comes first", () =>
    Effect.gen(function*() {
      const a = { type: "tool_call", id: "call_a", name: "web_search", arguments: '{"query":"a"}' } as const
      const b = { type: "tool_call", id: "call_b", name: "web_search", arguments: '{"query":"b"}' } as const
      const all = events(yield* frames([
        start,
        { type: "server_tool_call", call: a },
        { type: "server_tool_call", call: b },
        { type: "server_tool_result", call: b, result: "{}", isError: false },
        { type: "server_tool_result", call: a, result: '{"success":false,"error":"no backend"}', isError: true },
        { type: "finish", reason: "end_turn", usage }
      ], extraOf({ hosted: new Set(["web_search"]) })))
      expect(all.map((e) => [e.type, e.output_index])).toEqual([
        ["response.created", undefined],
        ["response.in_progress", undefined],
        ["response.output_item.added", 0],
        ["response.web_search_call.in_progress", 0],
        ["response.web_search_call.searching", 0],
        ["response.web_search_call.completed", 0],
        ["response.output_item.done", 0],
        ["response.output_item.added", 1],
        ["response.web_search_call.in_progress", 1],
        ["response.web_search_call.searching", 1],
        ["response.web_search_call.completed", 1],
        ["response.output_item.done", 1],
        ["response.completed", undefined]
      ])
      expect((all.at(-1)!.response as { output: Array<unknown> }).output).toMatchObject([
        { id: "ws_1", status: "failed", action: { query: "a" } },
        { id: "ws_2", status: "completed", action: { query: "b" } }
      ])
    }))

  const fetchCall = { type: "tool_call", id: "call_f", name: "web_fetch", arguments: '{"url":"https://example.com"}' } as const
  const withFetch: Array<AnswerEvent> = [
    start,
    { type: "text", text: "Let me look." },
    { type: "server_tool_call", call: fetchCall },
    { type: "server_tool_wait" },
    { type: "server_tool_result", call: fetchCall, result: '{"text":"x"}', isError: false },
    { type: "text", text: "It says x." },
    { type: "finish", reason: "end_turn", usage }
  ]

  it.effect("shows other server-side tools' progress as comment lines by default, between items", () =>
    Effect.gen(function*() {
      const all = yield* frames(withFetch)
      expect(all.map((f) => (typeof f === "string" ? f : f.event))).toEqual([
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        `: orka_tool {"id":"call_f","name":"web_fetch","status":"running","arguments":${JSON.stringify(fetchCall.arguments)}}`,
        ": keep-alive",
        ': orka_tool {"id":"call_f","name":"web_fetch","status":"succeeded","result":"{\\"text\\":\\"x\\"}"}',
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed"
      ])
      expect(events(all).at(-1)).toMatchObject({ response: { output: [{ id: "msg_1" }, { id: "msg_2" }] } })
    }))

  it.effect("on request, as keepalive events carrying orka_tool, numbered with the rest", () =>
    Effect.gen(function*() {
      const all = yield* frames(withFetch, extraOf(), { progress: "events" })
      const progress = events(all).filter((e) => e.type === "keepalive")
      expect(progress).toEqual([
        { type: "keepalive", orka_tool: { id: "call_f", name: "web_fetch", status: "running", arguments: fetchCall.arguments } },
        { type: "keepalive", orka_tool: { id: "call_f", name: "web_fetch", status: "succeeded", result: '{"text":"x"}' } }
      ])
      expect(all.filter((f) => typeof f === "string")).toEqual([": keep-alive"])
    }))

  it.effect("ends an answer cut by max_tokens with response.incomplete", () =>
    Effect.gen(function*() {
      const all = events(yield* frames([start, { type: "text", text: "Once upon a" }, { type: "finish", reason: "max_tokens", usage }]))
      expect(all.at(-1)).toEqual({
        type: "response.incomplete",
        response: response("incomplete", [message("msg_1", "Once upon a")], { incomplete_details: { reason: "max_output_tokens" } })
      })
    }))

  it.effect("ends a stream that fails midway with response.failed, holding the items sent whole, and nothing after", () =>
    Effect.gen(function*() {
      const failing = Stream.concat(
        Stream.fromIterable<AnswerEvent>([start, { type: "text", text: "Part one." }, { type: "tool_call_start", index: 0, id: "c", name: "f" }]),
        Stream.fail(gatewayError("overloaded", "provider p1: Overloaded (upstream HTTP 529)"))
      )
      const all = events(yield* frames(failing))
      expect(all.map((e) => e.type)).toEqual([
        "response.created", "response.in_progress",
        ...messageEvents("msg_1", 0, ["Part one."]).map((e) => e.type),
        "response.output_item.added",
        "response.failed"
      ])
      expect(all.at(-1)).toEqual({
        type: "response.failed",
        response: response("failed", [message("msg_1", "Part one.")], {
          error: { code: "server_is_overloaded", message: "provider p1: Overloaded (upstream HTTP 529)" },
          usage: null
        })
      })
      const coded = events(yield* frames(Stream.fail(gatewayError("rate_limit", "slow down"))))
      expect(coded.map((e) => e.type)).toEqual(["response.created", "response.in_progress", "response.failed"])
      expect(coded.at(-1)).toMatchObject({ response: { status: "failed", error: { code: "rate_limit_exceeded" }, output: [] } })
    }))

  it.effect("treats a stream that stops without a finish as a failure", () =>
    Effect.gen(function*() {
      const all = events(yield* frames([start, { type: "text", text: "Hel" }]))
      expect(all.at(-1)).toMatchObject({
        type: "response.failed",
        response: { status: "failed", error: { code: "server_error", message: "the provider's stream ended before the answer was complete" } }
      })
      expect(all.filter((e) => e.type === "response.completed")).toEqual([])
    }))

  it.effect("gives the final response to onComplete before response.completed leaves; the finish's events leave as one chunk", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      let stored: unknown
      const stream = encodeStream(
        Stream.fromIterable<AnswerEvent>([start, { type: "text", text: "Hi" }, { type: "finish", reason: "end_turn", usage }]),
        extraOf(),
        { ...meta, onComplete: (r) => Effect.sync(() => void (stored = r, log.push("stored"))) }
      )
      yield* stream.pipe(Stream.chunks, Stream.runForEach((chunk) => Effect.sync(() => void log.push(chunk.map((f) => f.slice(7, f.indexOf("\n"))).join(",")))))
      expect(log).toEqual([
        "response.created,response.in_progress,response.output_item.added,response.content_part.added,response.output_text.delta",
        "stored",
        "response.output_text.done,response.content_part.done,response.output_item.done,response.completed"
      ])
      const last = events(yield* frames([start, { type: "text", text: "Hi" }, { type: "finish", reason: "end_turn", usage }])).at(-1)!
      expect(JSON.parse(stableIds(JSON.stringify(stored)))).toEqual(last.response)
    }))

  it.effect("calls onComplete only for an answer that finished", () =>
    Effect.gen(function*() {
      let calls = 0
      const onComplete = () => Effect.sync(() => void calls++)
      yield* encode([start, { type: "text", text: "Hel" }], extraOf(), { onComplete })
      yield* encode(Stream.concat(Stream.make<Array<AnswerEvent>>(start), Stream.fail(gatewayError("upstream", "x"))), extraOf(), { onComplete })
      expect(calls).toBe(0)
    }))
})
