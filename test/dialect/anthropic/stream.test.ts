import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { sseFrame } from "../../../src/dialect/anthropic/sse.ts"
import { encodeStream } from "../../../src/dialect/anthropic/stream.ts"
import { gatewayError } from "../../../src/errors.ts"
import type { AnswerEvent, StreamEvent } from "../../../src/ir/response.ts"
import { parseFrames } from "./sse-frames.ts"

const start: StreamEvent = { type: "start", id: "chatcmpl-9x", model: "gpt-4o-2024-08-06", usage: { inputTokens: 472, outputTokens: 0 } }

const encode = (events: ReadonlyArray<AnswerEvent>, model = "openai/gpt-4o", progress: "comments" | "events" = "events") =>
  Effect.map(Stream.runCollect(encodeStream(Stream.fromIterable(events), { model, progress })), (frames) => frames.join(""))

const blockStart = (index: number, content_block: object) => ({ event: "content_block_start", data: { type: "content_block_start", index, content_block } })
const delta = (index: number, d: object) => ({ event: "content_block_delta", data: { type: "content_block_delta", index, delta: d } })
const blockStop = (index: number) => ({ event: "content_block_stop", data: { type: "content_block_stop", index } })
const textDelta = (index: number, text: string) => delta(index, { type: "text_delta", text })
const jsonDelta = (index: number, partial_json: string) => delta(index, { type: "input_json_delta", partial_json })
const ping = { event: "ping", data: { type: "ping" } }
const messageStop = { event: "message_stop", data: { type: "message_stop" } }

describe("encodeStream", () => {
  it.effect("writes a text delta as sseFrame would, whatever its text holds", () =>
    Effect.gen(function*() {
      const texts = ["plain", "quote \" and \\ back", "line\nbreak", "ünï ✓ 𝄞", "\u0000\u001f", "\"text\":\"\""]
      const frames = yield* Stream.runCollect(encodeStream(Stream.fromIterable<AnswerEvent>([start, ...texts.map((text) => ({ type: "text" as const, text }))]), { model: "m" }))
      const deltas = frames.filter((f) => f.startsWith("event: content_block_delta"))
      expect(deltas).toEqual(texts.map((text) => sseFrame("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })))
    }))

  it.effect("sends server-side tool progress between blocks (it ends the text run before it), and pings while tools run", () =>
    Effect.gen(function*() {
      const call = { type: "tool_call", id: "call_1", name: "web_fetch", arguments: "{\"url\":\"https://example.com\"}" } as const
      const frames = parseFrames(yield* encode([
        start,
        { type: "text", text: "Let me look." },
        { type: "server_tool_call", call },
        { type: "server_tool_wait" },
        { type: "server_tool_result", call, result: `{"text":"${"x".repeat(3000)}"}`, isError: false },
        { type: "text", text: "\n\nIt says x." },
        { type: "finish", reason: "end_turn", usage: { inputTokens: 900, outputTokens: 20 } }
      ]))
      expect(frames.map((f) => f.event)).toEqual([
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_stop",
        "orka_tool_progress", "ping", "orka_tool_progress",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop"
      ])
      expect(frames[5]!.data).toEqual({ type: "orka_tool_progress", id: "call_1", name: "web_fetch", status: "running", arguments: call.arguments })
      const result = frames[7]!.data as { status: string; result: string; truncated: boolean }
      expect(result).toMatchObject({ status: "succeeded", truncated: true })
      expect(result.result).toHaveLength(2000)
      expect(frames[8]).toEqual(blockStart(1, { type: "text", text: "" }))
    }))

  it.effect("frames text, then two interleaved tool calls as two sequential tool_use blocks", () =>
    Effect.gen(function*() {
      const text = yield* encode([
        start,
        { type: "text", text: "Let me check " },
        { type: "text", text: "both." },
        { type: "tool_call_start", index: 0, id: "call_paris", name: "get_weather" },
        { type: "tool_call_start", index: 1, id: "call_tokyo", name: "get_weather" },
        { type: "tool_call_delta", index: 0, arguments: '{"city":' },
        { type: "tool_call_delta", index: 1, arguments: '{"city":' },
        { type: "tool_call_delta", index: 1, arguments: '"Tokyo"}' },
        { type: "tool_call_delta", index: 0, arguments: '"Paris"}' },
        { type: "finish", reason: "tool_use", usage: { inputTokens: 472, outputTokens: 89 } }
      ])
      // the opening bytes exactly as Anthropic sends them
      expect(text.startsWith(
        "event: message_start\n" +
          'data: {"type":"message_start","message":{"id":"msg_chatcmpl-9x","type":"message","role":"assistant","model":"openai/gpt-4o",' +
          '"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":0}}}\n\n' +
          'event: ping\ndata: {"type":"ping"}\n\n' +
          'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
      )).toBe(true)
      expect(parseFrames(text)).toEqual([
        {
          event: "message_start",
          data: {
            type: "message_start",
            message: {
              id: "msg_chatcmpl-9x",
              type: "message",
              role: "assistant",
              model: "openai/gpt-4o",
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: 472, output_tokens: 0 }
            }
          }
        },
        ping,
        blockStart(0, { type: "text", text: "" }),
        textDelta(0, "Let me check "),
        textDelta(0, "both."),
        blockStop(0),
        blockStart(1, { type: "tool_use", id: "call_paris", name: "get_weather", input: {} }),
        jsonDelta(1, '{"city":'),
        jsonDelta(1, '"Paris"}'),
        blockStop(1),
        blockStart(2, { type: "tool_use", id: "call_tokyo", name: "get_weather", input: {} }),
        jsonDelta(2, '{"city":'),
        jsonDelta(2, '"Tokyo"}'),
        blockStop(2),
        {
          event: "message_delta",
          data: { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { input_tokens: 472, output_tokens: 89 } }
        },
        messageStop
      ])
    }))

  it.effect("frames thinking with its signature, then text; reports cache usage and the stop sequence", () =>
    Effect.gen(function*() {
      const frames = parseFrames(yield* encode([
        { type: "start", id: "msg_01ABC", model: "claude-sonnet-4-5", usage: { inputTokens: 10, outputTokens: 1, cacheReadTokens: 2048 } },
        { type: "thinking", text: "Let me think" },
        { type: "thinking", text: " step by step." },
        { type: "thinking", text: "", signature: "EqQBCkgIBRABGAIiQL7f" },
        { type: "text", text: "42" },
        { type: "finish", reason: "stop_sequence", stopSequence: "###", usage: { inputTokens: 10, outputTokens: 31, cacheReadTokens: 2048, cacheWriteTokens: 0 } }
      ], "anthropic/claude-sonnet-4-5"))
      expect(frames[0]?.data).toMatchObject({
        message: { id: "msg_01ABC", model: "anthropic/claude-sonnet-4-5", usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 2048 } }
      })
      expect(frames.slice(2)).toEqual([
        blockStart(0, { type: "thinking", thinking: "", signature: "" }),
        delta(0, { type: "thinking_delta", thinking: "Let me think" }),
        delta(0, { type: "thinking_delta", thinking: " step by step." }),
        delta(0, { type: "signature_delta", signature: "EqQBCkgIBRABGAIiQL7f" }),
        blockStop(0),
        blockStart(1, { type: "text", text: "" }),
        textDelta(1, "42"),
        blockStop(1),
        {
          event: "message_delta",
          data: {
            type: "message_delta",
            delta: { stop_reason: "stop_sequence", stop_sequence: "###" },
            usage: { input_tokens: 10, output_tokens: 31, cache_read_input_tokens: 2048, cache_creation_input_tokens: 0 }
          }
        },
        messageStop
      ])
    }))

  it.effect("holds text that follows an open tool call until that call is complete, and maps content_filter to refusal", () =>
    Effect.gen(function*() {
      const frames = parseFrames(yield* encode([
        start,
        { type: "tool_call_start", index: 0, id: "call_1", name: "search" },
        { type: "tool_call_delta", index: 0, arguments: '{"q":' },
        { type: "text", text: "Searching…" },
        { type: "tool_call_delta", index: 0, arguments: '"cats"}' },
        { type: "finish", reason: "content_filter", usage: { inputTokens: 5, outputTokens: 9 } }
      ]))
      expect(frames.slice(2)).toEqual([
        blockStart(0, { type: "tool_use", id: "call_1", name: "search", input: {} }),
        jsonDelta(0, '{"q":'),
        jsonDelta(0, '"cats"}'),
        blockStop(0),
        blockStart(1, { type: "text", text: "" }),
        textDelta(1, "Searching…"),
        blockStop(1),
        {
          event: "message_delta",
          data: { type: "message_delta", delta: { stop_reason: "refusal", stop_sequence: null }, usage: { input_tokens: 5, output_tokens: 9 } }
        },
        messageStop
      ])
    }))

  it.effect("ends a failing stream with an error event and no message_stop", () =>
    Effect.gen(function*() {
      const events = Stream.concat(
        Stream.make<Array<StreamEvent>>(start, { type: "text", text: "Once upon" }),
        Stream.fail(gatewayError("overloaded", "provider p1: Overloaded (upstream HTTP 529)"))
      )
      const frames = parseFrames((yield* Stream.runCollect(encodeStream(events, { model: "m" }))).join(""))
      expect(frames.map((f) => f.event)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta", "error"])
      expect(frames.at(-1)?.data).toEqual({
        type: "error",
        error: { type: "overloaded_error", message: "provider p1: Overloaded (upstream HTTP 529)" }
      })
    }))

  it.effect("reports a stream that ends without its finish as an error, not as a complete answer", () =>
    Effect.gen(function*() {
      const frames = parseFrames(yield* encode([start, { type: "text", text: "Once upon" }]))
      expect(frames.map((f) => f.event)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta", "error"])
      expect(frames.at(-1)?.data).toMatchObject({ error: { type: "api_error" } })
    }))

  it.effect("pings while the model is silent, and stops with the stream", () =>
    Effect.gen(function*() {
      const slow = Stream.concat(
        Stream.make<Array<StreamEvent>>(start, { type: "text", text: "Thinking about it" }),
        Stream.fromEffect(Effect.as(Effect.sleep("40 seconds"), { type: "finish", reason: "end_turn", usage: { inputTokens: 1, outputTokens: 2 } } as const))
      )
      const fiber = yield* Effect.forkChild(Stream.runCollect(encodeStream(slow, { model: "m", pingEveryMs: 15_000 })))
      // in steps, because the forked stream's sleeps start a moment after the fork; 44 s stays
      // short of a third ping at 45 s
      for (let second = 0; second < 44; second++) yield* TestClock.adjust("1 second")
      const frames = parseFrames((yield* Fiber.join(fiber)).join(""))
      expect(frames.map((f) => f.event)).toEqual([
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "ping", // 15 s
        "ping", // 30 s
        "content_block_stop",
        "message_delta",
        "message_stop"
      ])
    }))
})
