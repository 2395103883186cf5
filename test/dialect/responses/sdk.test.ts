/**
 * What the gateway writes, read by the official `openai` SDK: the encoded Responses SSE and error
 * envelopes are served from a loopback server at `/v1/responses`, and the SDK's own stream parser,
 * response accumulator and error classes must make sense of them.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import OpenAI from "openai"
import { errorEnvelope } from "../../../src/dialect/responses/errors.ts"
import { encodeStream } from "../../../src/dialect/responses/stream.ts"
import type { ResponsesExtra } from "../../../src/dialect/responses/vocabulary.ts"
import { type GatewayError, gatewayError } from "../../../src/errors.ts"
import type { AnswerEvent } from "../../../src/ir/response.ts"
import type { ProgressStyle } from "../../../src/dialect/tool-progress.ts"
import { type Served, serveCanned } from "../../support/canned-server.ts"

/** A loopback server answering `POST /v1/responses` with `answer`. */
const serve = (answer: Served) => serveCanned("/v1/responses", "/v1", answer)

const extra: ResponsesExtra = {
  echo: { instructions: "Be brief.", tools: [], tool_choice: "auto", parallel_tool_calls: true, store: true, metadata: {} },
  freeform: new Set(["apply_patch"]),
  hosted: new Set(["web_search", "code_exec"]),
  namespaced: new Map(),
  store: true,
  input: []
}

const sseOf = (events: Stream.Stream<AnswerEvent, GatewayError>, progress: ProgressStyle = "events") =>
  Effect.map(Stream.runCollect(encodeStream(events, extra, { id: "resp_1", model: "anthropic/claude-sonnet-4", createdAt: 1700000000, progress })), (frames): Served => ({
    status: 200,
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    body: frames.join("")
  }))

const client = (baseURL: string) => new OpenAI({ baseURL, apiKey: "x", maxRetries: 0 })
const params = { model: "anthropic/claude-sonnet-4", input: "Weather in Paris and Tokyo?" }

const search = { type: "tool_call", id: "call_s", name: "web_search", arguments: '{"query":"weather"}' } as const
const run = { type: "tool_call", id: "call_c", name: "code_exec", arguments: '{"language":"python","code":"print(1)"}' } as const
const fetch = { type: "tool_call", id: "call_f", name: "web_fetch", arguments: '{"url":"https://example.com"}' } as const

const answer: Array<AnswerEvent> = [
  { type: "start", id: "msg_up", model: "claude-sonnet-4" },
  { type: "thinking", text: "Two cities, " },
  { type: "thinking", text: "two calls.", signature: "sig-1" },
  { type: "server_tool_call", call: search },
  { type: "server_tool_wait" },
  { type: "server_tool_result", call: search, result: "{}", isError: false },
  { type: "server_tool_call", call: fetch },
  { type: "server_tool_result", call: fetch, result: '{"text":"sunny"}', isError: false },
  { type: "server_tool_call", call: run },
  { type: "server_tool_result", call: run, result: '{"output":"1\\n","error":"","exit_code":0,"timed_out":false}', isError: false },
  { type: "text", text: "Let me check " },
  { type: "text", text: "both." },
  { type: "tool_call_start", index: 0, id: "call_paris", name: "get_weather" },
  { type: "tool_call_start", index: 1, id: "call_tokyo", name: "get_weather" },
  { type: "tool_call_start", index: 2, id: "call_patch", name: "apply_patch" },
  { type: "tool_call_delta", index: 0, arguments: '{"city":' },
  { type: "tool_call_delta", index: 1, arguments: '{"city":' },
  { type: "tool_call_delta", index: 2, arguments: '{"input":"*** Begin Patch\\n*** End Patch"}' },
  { type: "tool_call_delta", index: 1, arguments: '"Tokyo"}' },
  { type: "tool_call_delta", index: 0, arguments: '"Paris"}' },
  { type: "finish", reason: "tool_use", usage: { inputTokens: 472, outputTokens: 89, cacheReadTokens: 400 } }
]

describe("the openai SDK reads what the gateway writes", () => {
  for (const progress of ["events", "comments"] as const) {
    it.live(`responses.stream() rebuilds the whole answer, with tool progress as ${progress}`, () =>
      Effect.gen(function*() {
        const server = yield* serve(yield* sseOf(Stream.fromIterable(answer), progress))
        const stream = client(server.baseURL).responses.stream(params)
        const seen: Array<string> = []
        const text: Array<string> = []
        stream.on("response.output_text.delta", (e) => void text.push(e.delta))
        const response = yield* Effect.promise(async () => {
          for await (const event of stream) seen.push(event.type)
          return stream.finalResponse()
        })
        expect(server.requests).toMatchObject([{ ...params, stream: true }])
        expect(seen.filter((t) => t === "keepalive")).toHaveLength(progress === "events" ? 2 : 0)
        expect(seen.at(-1)).toBe("response.completed")
        expect(text.join("")).toBe("Let me check both.")
        expect(response.output_text).toBe("Let me check both.")
        expect(response).toMatchObject({
          id: "resp_1",
          status: "completed",
          model: "anthropic/claude-sonnet-4",
          instructions: "Be brief.",
          usage: { input_tokens: 472, input_tokens_details: { cached_tokens: 400 }, output_tokens: 89, total_tokens: 561 }
        })
        expect(response.output.map((item) => item.type)).toEqual([
          "reasoning", "web_search_call", "code_interpreter_call", "message", "function_call", "function_call", "custom_tool_call"
        ])
        expect(response.output).toMatchObject([
          { summary: [{ type: "summary_text", text: "Two cities, two calls." }], encrypted_content: "orka.anthropic.v1:sig-1" },
          { status: "completed", action: { type: "search", query: "weather" } },
          { status: "completed", code: "print(1)", outputs: [{ type: "logs", logs: "1\n" }] },
          { role: "assistant", content: [{ type: "output_text", text: "Let me check both." }] },
          { call_id: "call_paris", name: "get_weather", arguments: '{"city":"Paris"}', status: "completed" },
          { call_id: "call_tokyo", name: "get_weather", arguments: '{"city":"Tokyo"}', status: "completed" },
          { call_id: "call_patch", name: "apply_patch", input: "*** Begin Patch\n*** End Patch", status: "completed" }
        ])
      }).pipe(Effect.scoped))
  }

  it.live("responses.create({stream: true}) yields every event, numbered in order, ending with response.incomplete when cut", () =>
    Effect.gen(function*() {
      const server = yield* serve(yield* sseOf(Stream.fromIterable<AnswerEvent>([
        { type: "start", id: "x", model: "m" },
        { type: "text", text: "Once upon" },
        { type: "finish", reason: "max_tokens", usage: { inputTokens: 5, outputTokens: 2 } }
      ])))
      const events = yield* Effect.promise(async () => {
        const out: Array<OpenAI.Responses.ResponseStreamEvent> = []
        for await (const event of await client(server.baseURL).responses.create({ ...params, stream: true })) out.push(event)
        return out
      })
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
      expect(events.at(-1)).toMatchObject({ type: "response.incomplete", response: { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } } })
    }).pipe(Effect.scoped))

  it.live("a stream that fails midway ends as a failed response, with the error's code and message", () =>
    Effect.gen(function*() {
      const server = yield* serve(yield* sseOf(Stream.concat(
        Stream.make<Array<AnswerEvent>>({ type: "start", id: "x", model: "m" }, { type: "text", text: "Once upon" }),
        Stream.fail(gatewayError("overloaded", "provider p1: Overloaded (upstream HTTP 529)"))
      )))
      const response = yield* Effect.promise(() => client(server.baseURL).responses.stream(params).finalResponse())
      expect(response).toMatchObject({
        status: "failed",
        error: { code: "server_is_overloaded", message: "provider p1: Overloaded (upstream HTTP 529)" },
        output: []
      })
    }).pipe(Effect.scoped))

  it.live("error envelopes become the SDK's matching error classes", () =>
    Effect.gen(function*() {
      const cases = [
        [gatewayError("rate_limit", "slow down", { retryAfter: 3 }), OpenAI.RateLimitError],
        [gatewayError("not_found", "model x is not served here", { code: "model_not_found" }), OpenAI.NotFoundError]
      ] as const
      for (const [failure, errorClass] of cases) {
        const { body, headers, status } = errorEnvelope(failure)
        const server = yield* serve({ status, headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) })
        const error = yield* Effect.flip(Effect.tryPromise(() => client(server.baseURL).responses.create(params)))
        expect(error.cause).toBeInstanceOf(errorClass)
        expect(error.cause).toMatchObject({ status, error: { message: failure.message } })
      }
    }).pipe(Effect.scoped))
})
