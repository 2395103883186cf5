/**
 * What the gateway writes, read by the official `@anthropic-ai/sdk`: the encoded SSE and error
 * envelopes are served from a loopback server at `/v1/messages`, and the SDK's own stream parser
 * and error classes must make sense of them.
 */
import Anthropic from "@anthropic-ai/sdk"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { errorEnvelope } from "../../../src/dialect/anthropic/errors.ts"
import { encodeStream } from "../../../src/dialect/anthropic/stream.ts"
import { type GatewayError, gatewayError } from "../../../src/errors.ts"
import type { StreamEvent } from "../../../src/ir/response.ts"
import { type Served, serveCanned } from "../../support/canned-server.ts"

/** A loopback server answering `POST /v1/messages` with `answer`. */
const serve = (answer: Served) => serveCanned("/v1/messages", "", answer)

const sseOf = (events: Stream.Stream<StreamEvent, GatewayError>) =>
  Effect.map(Stream.runCollect(encodeStream(events, { model: "openai/gpt-4o" })), (frames): Served => ({
    status: 200,
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    body: frames.join("")
  }))

const client = (baseURL: string) => new Anthropic({ baseURL, apiKey: "x", maxRetries: 0 })

const params = {
  model: "openai/gpt-4o",
  max_tokens: 1024,
  messages: [{ role: "user" as const, content: "Weather in Paris and Tokyo?" }]
}

describe("@anthropic-ai/sdk reads what the gateway writes", () => {
  it.live("a streamed answer with thinking, text and two interleaved tool calls", () =>
    Effect.gen(function*() {
      const answer = yield* sseOf(Stream.fromIterable<StreamEvent>([
        { type: "start", id: "chatcmpl-9x", model: "gpt-4o", usage: { inputTokens: 472, outputTokens: 0 } },
        { type: "thinking", text: "Two cities, " },
        { type: "thinking", text: "two calls.", signature: "sig-1" },
        { type: "text", text: "Let me check " },
        { type: "text", text: "both." },
        { type: "tool_call_start", index: 0, id: "call_paris", name: "get_weather" },
        { type: "tool_call_start", index: 1, id: "call_tokyo", name: "get_weather" },
        { type: "tool_call_delta", index: 0, arguments: '{"city":' },
        { type: "tool_call_delta", index: 1, arguments: '{"city":' },
        { type: "tool_call_delta", index: 1, arguments: '"Tokyo"}' },
        { type: "tool_call_delta", index: 0, arguments: '"Paris"}' },
        { type: "finish", reason: "tool_use", usage: { inputTokens: 472, outputTokens: 89, cacheReadTokens: 400 } }
      ]))
      const server = yield* serve(answer)
      const message = yield* Effect.promise(() => client(server.baseURL).messages.stream(params).finalMessage())
      expect(server.requests).toMatchObject([{ ...params, stream: true }])
      expect(message).toMatchObject({
        id: "msg_chatcmpl-9x",
        model: "openai/gpt-4o",
        role: "assistant",
        content: [
          { type: "thinking", thinking: "Two cities, two calls.", signature: "sig-1" },
          { type: "text", text: "Let me check both." },
          { type: "tool_use", id: "call_paris", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "call_tokyo", name: "get_weather", input: { city: "Tokyo" } }
        ],
        stop_reason: "tool_use",
        stop_sequence: null,
        usage: { input_tokens: 472, output_tokens: 89, cache_read_input_tokens: 400 }
      })
      expect(message.content).toHaveLength(4)
    }).pipe(Effect.scoped))

  it.live("a stream that fails mid-way makes the SDK throw with the error's type and message", () =>
    Effect.gen(function*() {
      const answer = yield* sseOf(Stream.concat(
        Stream.make<Array<StreamEvent>>({ type: "start", id: "chatcmpl-1", model: "gpt-4o" }, { type: "text", text: "Once upon" }),
        Stream.fail(gatewayError("overloaded", "provider p1: Overloaded (upstream HTTP 529)"))
      ))
      const server = yield* serve(answer)
      const error = yield* Effect.flip(Effect.tryPromise(() => client(server.baseURL).messages.stream(params).finalMessage()))
      expect(error.cause).toBeInstanceOf(Anthropic.APIError)
      expect(error.cause).toMatchObject({ type: "overloaded_error", apiMessage: "provider p1: Overloaded (upstream HTTP 529)" })
    }).pipe(Effect.scoped))

  it.live("error envelopes become the SDK's matching error classes", () =>
    Effect.gen(function*() {
      const cases = [
        [gatewayError("rate_limit", "slow down", { retryAfter: 3 }), Anthropic.RateLimitError, "rate_limit_error"],
        [gatewayError("overloaded", "busy", { status: 503 }), Anthropic.InternalServerError, "overloaded_error"],
        [gatewayError("not_found", "model x is not served here"), Anthropic.NotFoundError, "not_found_error"],
        [gatewayError("authentication", "invalid token"), Anthropic.AuthenticationError, "authentication_error"]
      ] as const
      for (const [gatewayFailure, errorClass, type] of cases) {
        const { body, headers, status } = errorEnvelope(gatewayFailure)
        const server = yield* serve({ status, headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) })
        const error = yield* Effect.flip(Effect.tryPromise(() => client(server.baseURL).messages.create(params)))
        expect(error.cause).toBeInstanceOf(errorClass)
        expect(error.cause).toMatchObject({ status, type, apiMessage: gatewayFailure.message })
      }
    }).pipe(Effect.scoped))
})
