import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { errorEnvelope as openaiEnvelope } from "../../../src/dialect/openai/errors.ts"
import { errorEnvelope } from "../../../src/dialect/responses/errors.ts"
import { encodeResponse, failedResponse } from "../../../src/dialect/responses/response.ts"
import { encodeStream } from "../../../src/dialect/responses/stream.ts"
import type { ResponsesExtra } from "../../../src/dialect/responses/vocabulary.ts"
import { type ErrorKind, gatewayError, statusOfKind } from "../../../src/errors.ts"
import { foldCompletion } from "../../../src/ir/collect.ts"
import type { AnswerEvent, Completion } from "../../../src/ir/response.ts"

const extraOf = (over: Partial<ResponsesExtra> = {}): ResponsesExtra => ({
  echo: { instructions: "Be brief.", tools: [], tool_choice: "auto", metadata: {}, store: true },
  freeform: new Set(["apply_patch"]),
  hosted: new Set(["web_search", "code_exec"]),
  namespaced: new Map(),
  store: true,
  input: [],
  ...over
})
const meta = { id: "resp_1", model: "anthropic/claude-sonnet-4", createdAt: 1700000000 }
const usage = { inputTokens: 100, outputTokens: 20, cacheReadTokens: 80 }

/** Item ids are random: each becomes its prefix and its place among the ids seen (`msg_1`). */
const stable = <A>(value: A): A => {
  const seen = new Map<string, string>()
  return JSON.parse(JSON.stringify(value).replace(/\b(msg|rs|fc|ctc|ws|ci)_[0-9a-f]{48}\b/g, (id, prefix: string) => {
    if (!seen.has(id)) seen.set(id, `${prefix}_${[...seen.keys()].filter((k) => k.startsWith(prefix)).length + 1}`)
    return seen.get(id)!
  })) as A
}

const completion = (over: Partial<Completion>): Completion => ({
  id: "msg_up",
  model: "claude-sonnet-4-20250514",
  content: [],
  finishReason: "end_turn",
  usage,
  ...over
})

const text = (t: string) => ({ type: "output_text", text: t, annotations: [], logprobs: [] })
const message = (id: string, ...texts: Array<string>) => ({ type: "message", id, status: "completed", role: "assistant", content: texts.map(text) })

describe("encodeResponse", () => {
  it("renders the Response object: echoed request fields, status, items in the model's order, usage", () => {
    const out = encodeResponse(completion({
      content: [
        { type: "thinking", text: "Two files.", signature: "sig-1" },
        { type: "text", text: "Here " },
        { type: "text", text: "goes." },
        { type: "tool_call", id: "toolu_1", name: "shell", arguments: '{"command":["ls"]}' },
        { type: "tool_call", id: "toolu_2", name: "apply_patch", arguments: '{"input":"*** Begin Patch\\n*** End Patch"}' },
        { type: "tool_call", id: "toolu_3", name: "apply_patch", arguments: "not json" },
        { type: "tool_call", id: "toolu_4", name: "list", arguments: "" }
      ],
      finishReason: "tool_use"
    }), extraOf(), meta)
    expect(stable(out)).toEqual({
      id: "resp_1",
      object: "response",
      created_at: 1700000000,
      status: "completed",
      background: false,
      error: null,
      incomplete_details: null,
      instructions: "Be brief.",
      tools: [],
      tool_choice: "auto",
      metadata: {},
      store: true,
      model: "anthropic/claude-sonnet-4",
      output: [
        { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "Two files." }], encrypted_content: "orka.anthropic.v1:sig-1" },
        message("msg_1", "Here goes."),
        { type: "function_call", id: "fc_1", status: "completed", call_id: "toolu_1", name: "shell", arguments: '{"command":["ls"]}' },
        { type: "custom_tool_call", id: "ctc_1", status: "completed", call_id: "toolu_2", name: "apply_patch", input: "*** Begin Patch\n*** End Patch" },
        { type: "custom_tool_call", id: "ctc_2", status: "completed", call_id: "toolu_3", name: "apply_patch", input: "not json" },
        { type: "function_call", id: "fc_2", status: "completed", call_id: "toolu_4", name: "list", arguments: "{}" }
      ],
      usage: { input_tokens: 100, input_tokens_details: { cached_tokens: 80 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 120 }
    })
    expect(out.output.map((item) => item.id).every((id) => /^(rs|msg|fc|ctc)_[0-9a-f]{48}$/.test(id))).toBe(true)
  })

  it("names a tool inside a namespace by its own name, with its namespace", () => {
    const extra = extraOf({
      freeform: new Set(["agents__patch"]),
      namespaced: new Map([["agents__spawn", { namespace: "agents", name: "spawn" }], ["agents__patch", { namespace: "agents", name: "patch" }]])
    })
    const out = encodeResponse(completion({
      content: [
        { type: "tool_call", id: "c1", name: "agents__spawn", arguments: '{"task":"x"}' },
        { type: "tool_call", id: "c2", name: "agents__patch", arguments: '{"input":"p"}' }
      ],
      finishReason: "tool_use"
    }), extra, meta)
    expect(stable(out.output)).toEqual([
      { type: "function_call", id: "fc_1", status: "completed", call_id: "c1", name: "spawn", namespace: "agents", arguments: '{"task":"x"}' },
      { type: "custom_tool_call", id: "ctc_1", status: "completed", call_id: "c2", name: "patch", namespace: "agents", input: "p" }
    ])
  })

  it("says why an answer is incomplete; unsigned thinking has no encrypted_content", () => {
    const cut = encodeResponse(completion({ content: [{ type: "thinking", text: "hmm" }, { type: "text", text: "Once" }], finishReason: "max_tokens" }), extraOf(), meta)
    expect(cut).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } })
    expect(cut.output[0]).not.toHaveProperty("encrypted_content")
    expect(encodeResponse(completion({ finishReason: "content_filter" }), extraOf(), meta)).toMatchObject({
      status: "incomplete",
      incomplete_details: { reason: "content_filter" },
      output: []
    })
  })

  it("places the hosted tools' calls where they ran; other server calls are not shown but end the message before them", () => {
    const search = { type: "tool_call", id: "call_s", name: "web_search", arguments: '{"query":"Paris weather"}' } as const
    const run = { type: "tool_call", id: "call_c", name: "code_exec", arguments: '{"language":"python","code":"1/0"}' } as const
    const fetch = { type: "tool_call", id: "call_f", name: "web_fetch", arguments: '{"url":"https://example.com"}' } as const
    const out = encodeResponse(completion({
      content: [{ type: "text", text: "Searching." }, { type: "text", text: "Fetched." }, { type: "text", text: "Ran it." }, { type: "text", text: " Done." }],
      serverCalls: [
        { at: 3, call: run, result: '{"output":"","error":"ZeroDivisionError: division by zero\\n","exit_code":1,"timed_out":false}', isError: false },
        { at: 1, call: search, result: '{"success":false,"error":"no search backend"}', isError: true },
        { at: 2, call: fetch, result: '{"text":"x"}', isError: false },
        { at: 4, call: search, result: "{}", isError: false }
      ]
    }), extraOf(), meta)
    expect(stable(out.output)).toEqual([
      message("msg_1", "Searching."),
      { type: "web_search_call", id: "ws_1", status: "failed", action: { type: "search", query: "Paris weather" } },
      message("msg_2", "Fetched."),
      message("msg_3", "Ran it."),
      {
        type: "code_interpreter_call",
        id: "ci_1",
        status: "completed",
        code: "1/0",
        container_id: "orka",
        outputs: [{ type: "logs", logs: "ZeroDivisionError: division by zero\n" }]
      },
      message("msg_4", " Done."),
      { type: "web_search_call", id: "ws_2", status: "completed", action: { type: "search", query: "Paris weather" } }
    ])
    // a tool not asked for as hosted is the gateway's own business
    expect(encodeResponse(completion({ content: [], serverCalls: [{ at: 0, call: search, result: "{}", isError: false }] }), extraOf({ hosted: new Set() }), meta).output).toEqual([])
  })

  it.effect("is the answer the stream encoder ends with, item for item", () =>
    Effect.gen(function*() {
      const call = { type: "tool_call", id: "call_s", name: "web_search", arguments: '{"query":"q"}' } as const
      const events: Array<AnswerEvent> = [
        { type: "start", id: "x", model: "m" },
        { type: "thinking", text: "Look it up.", signature: "s" },
        { type: "text", text: "One moment." },
        { type: "server_tool_call", call },
        { type: "server_tool_result", call, result: "{}", isError: false },
        { type: "text", text: "Found." },
        { type: "tool_call_start", index: 0, id: "c1", name: "apply_patch" },
        { type: "tool_call_delta", index: 0, arguments: '{"input":"p"}' },
        { type: "tool_call_start", index: 1, id: "c2", name: "f" },
        { type: "tool_call_delta", index: 1, arguments: "{}" },
        { type: "finish", reason: "tool_use", usage }
      ]
      const whole = encodeResponse(yield* foldCompletion(events), extraOf(), meta)
      const frames = (yield* Stream.runCollect(encodeStream(Stream.fromIterable(events), extraOf(), meta))).join("")
      const last = frames.split("\n\n").filter((f) => f.startsWith("event: response.completed"))[0]!
      expect(stable((JSON.parse(last.slice(last.indexOf("data: ") + 6)) as { response: unknown }).response)).toEqual(stable(whole))
    }))
})

describe("failedResponse", () => {
  it("carries the error's own code, else one the openai SDK knows by kind", () => {
    const codeOf = (kind: ErrorKind, code?: string) =>
      failedResponse(gatewayError(kind, "m", code === undefined ? {} : { code }), meta).error?.code
    expect(codeOf("invalid_request", "context_length_exceeded")).toBe("context_length_exceeded")
    expect(codeOf("rate_limit")).toBe("rate_limit_exceeded")
    expect(codeOf("overloaded")).toBe("server_is_overloaded")
    expect(["timeout", "upstream", "internal"].map((k) => codeOf(k as ErrorKind))).toEqual(["server_error", "server_error", "server_error"])
    expect(["invalid_request", "authentication", "request_too_large"].map((k) => codeOf(k as ErrorKind))).toEqual(["invalid_prompt", "invalid_prompt", "invalid_prompt"])
    expect(failedResponse(gatewayError("upstream", "boom"), meta, [], { instructions: "x" })).toEqual({
      id: "resp_1",
      object: "response",
      created_at: 1700000000,
      status: "failed",
      background: false,
      error: { code: "server_error", message: "boom" },
      incomplete_details: null,
      instructions: "x",
      model: "anthropic/claude-sonnet-4",
      output: [],
      usage: null
    })
  })

  it("before the stream starts, errors have OpenAI's envelope, the same as Chat Completions'", () => {
    expect(errorEnvelope(gatewayError("rate_limit", "slow down", { retryAfter: 3 }))).toEqual({
      status: 429,
      body: { error: { message: "slow down", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } },
      headers: { "retry-after": "3" }
    })
    for (const kind of Object.keys(statusOfKind) as Array<ErrorKind>) {
      const error = gatewayError(kind, "m", { param: "input" })
      expect(errorEnvelope(error)).toEqual(openaiEnvelope(error))
    }
  })
})
