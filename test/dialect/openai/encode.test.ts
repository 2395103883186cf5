import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { errorEnvelope } from "../../../src/dialect/openai/errors.ts"
import { encodeCompletion } from "../../../src/dialect/openai/response.ts"
import { encodeStream } from "../../../src/dialect/openai/stream.ts"
import { gatewayError } from "../../../src/errors.ts"
import type { AnswerEvent, StreamEvent } from "../../../src/ir/response.ts"

const meta = { model: "anthropic/claude", created: 1700000000 }

describe("encodeCompletion", () => {
  it("renders text, tool calls, finish reasons and usage", () => {
    const out = encodeCompletion({
      id: "msg_1",
      model: "claude",
      content: [{ type: "thinking", text: "hmm" }, { type: "tool_call", id: "t1", name: "f", arguments: "{\"a\":1}" }],
      finishReason: "tool_use",
      usage: { inputTokens: 5, outputTokens: 2, cacheReadTokens: 3 }
    }, meta)
    expect(out).toEqual({
      id: "chatcmpl-msg_1",
      object: "chat.completion",
      created: 1700000000,
      model: "anthropic/claude",
      choices: [{
        index: 0,
        message: { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "{\"a\":1}" } }], refusal: null },
        logprobs: null,
        finish_reason: "tool_calls"
      }],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, prompt_tokens_details: { cached_tokens: 3 } }
    })
    const reasons = (["end_turn", "stop_sequence", "max_tokens", "content_filter"] as const).map((finishReason) =>
      encodeCompletion({ id: "x", model: "m", content: [], finishReason, usage: { inputTokens: 0, outputTokens: 0 } }, meta).choices[0]!.finish_reason)
    expect(reasons).toEqual(["stop", "stop", "length", "content_filter"])
  })
})

const frames = (events: Stream.Stream<AnswerEvent, never> | Stream.Stream<StreamEvent, ReturnType<typeof gatewayError>>, includeUsage: boolean) =>
  Effect.runPromise(Stream.runCollect(encodeStream(events, { ...meta, includeUsage })))

const script: Array<StreamEvent> = [
  { type: "start", id: "msg_9", model: "claude" },
  { type: "text", text: "Hi" },
  { type: "tool_call_start", index: 0, id: "t1", name: "f" },
  { type: "tool_call_start", index: 1, id: "t2", name: "g" },
  { type: "tool_call_delta", index: 1, arguments: "{}" },
  { type: "tool_call_delta", index: 0, arguments: "{\"a\":" },
  { type: "tool_call_delta", index: 0, arguments: "1}" },
  { type: "finish", reason: "tool_use", usage: { inputTokens: 4, outputTokens: 6 } }
]

describe("encodeStream", () => {
  it("writes a text chunk as JSON.stringify would, whatever the text and the client's model id hold", async () => {
    const texts = ["plain", "quote \" and \\ back", "line\nbreak", "ünï ✓ 𝄞", "\"content\":\"\"", "\u0000\u001f"]
    for (const model of ["anthropic/claude", "odd \"content\":\"\" model"]) {
      for (const includeUsage of [false, true]) {
        const events: Array<StreamEvent> = [{ type: "start", id: "msg_9", model: "claude" }, ...texts.map((text) => ({ type: "text" as const, text }))]
        const out = await Effect.runPromise(Stream.runCollect(encodeStream(Stream.fromIterable(events), { ...meta, model, includeUsage })))
        const expected = texts.map((text) =>
          `data: ${JSON.stringify({
            id: "chatcmpl-msg_9",
            object: "chat.completion.chunk",
            created: meta.created,
            model,
            choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }],
            ...(includeUsage ? { usage: null } : {})
          })}\n\n`
        )
        expect(out.slice(1, 1 + texts.length)).toEqual(expected)
      }
    }
  })

  it("frames chunks exactly, with usage only when asked", async () => {
    const out = await frames(Stream.fromIterable(script), true)
    const chunks = out.slice(0, -1).map((f) => JSON.parse(f.slice("data: ".length)) as { choices: Array<{ delta: unknown; finish_reason: unknown }>; usage: unknown })
    expect(out.every((f) => f.startsWith("data: ") && f.endsWith("\n\n"))).toBe(true)
    expect(out.at(-1)).toBe("data: [DONE]\n\n")
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: "assistant", content: "" },
      { content: "Hi" },
      { tool_calls: [{ index: 0, id: "t1", type: "function", function: { name: "f", arguments: "" } }] },
      { tool_calls: [{ index: 1, id: "t2", type: "function", function: { name: "g", arguments: "" } }] },
      { tool_calls: [{ index: 1, function: { arguments: "{}" } }] },
      { tool_calls: [{ index: 0, function: { arguments: "{\"a\":" } }] },
      { tool_calls: [{ index: 0, function: { arguments: "1}" } }] },
      {},
      null
    ])
    expect(chunks.map((c) => c.choices[0]?.finish_reason ?? null).filter((r) => r !== null)).toEqual(["tool_calls"])
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true)
    expect(chunks.at(-1)).toMatchObject({ id: "chatcmpl-msg_9", choices: [], usage: { prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 } })

    const withoutUsage = await frames(Stream.fromIterable(script), false)
    expect(withoutUsage).toHaveLength(out.length - 1)
    expect(withoutUsage.some((f) => f.includes("\"usage\""))).toBe(false)
  })

  it("ends a failed stream with an error chunk, no finish and no [DONE]", async () => {
    const failing = Stream.concat(Stream.fromIterable(script.slice(0, 2)), Stream.fail(gatewayError("overloaded", "provider p: Overloaded")))
    const out = await frames(failing, true)
    expect(out).toHaveLength(3)
    expect(JSON.parse(out[2]!.slice(6))).toEqual({ error: { message: "provider p: Overloaded", type: "overloaded_error", param: null, code: null } })
    expect(out.join("")).not.toContain("[DONE]")
    expect(out.join("")).not.toContain("finish_reason\":\"")
  })

  it("treats a stream that stops without finishing as a failure", async () => {
    const out = await frames(Stream.fromIterable(script.slice(0, 2)), false)
    expect(out.at(-1)).toContain("\"error\"")
    expect(out.join("")).not.toContain("[DONE]")
  })
})

describe("errorEnvelope", () => {
  it("uses OpenAI's envelope and statuses", () => {
    expect(errorEnvelope(gatewayError("rate_limit", "slow", { retryAfter: 3 }))).toEqual({
      status: 429,
      body: { error: { message: "slow", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } },
      headers: { "retry-after": "3" }
    })
    expect(errorEnvelope(gatewayError("overloaded", "busy")).status).toBe(503)
    expect(errorEnvelope(gatewayError("not_found", "no", { code: "model_not_found", param: "model" })).body)
      .toEqual({ error: { message: "no", type: "not_found_error", param: "model", code: "model_not_found" } })
  })
})

describe("keep-alive", () => {
  it("sends an SSE comment while server-side tools run", async () => {
    const out = await frames(Stream.fromIterable<AnswerEvent>([
      { type: "start", id: "x", model: "m" },
      { type: "server_tool_wait" },
      { type: "finish", reason: "end_turn", usage: { inputTokens: 1, outputTokens: 2 } }
    ]), false)
    expect(out[1]).toBe(": keep-alive\n\n")
    expect(out.at(-1)).toBe("data: [DONE]\n\n")
  })
})
