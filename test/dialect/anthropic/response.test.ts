import { describe, expect, it } from "vitest"
import { encodeMessage } from "../../../src/dialect/anthropic/response.ts"
import type { Completion } from "../../../src/ir/response.ts"

const completion = (over: Partial<Completion> = {}): Completion => ({
  id: "chatcmpl-AbC123",
  model: "gpt-4o-2024-08-06",
  content: [{ type: "text", text: "Hello!" }],
  finishReason: "end_turn",
  usage: { inputTokens: 12, outputTokens: 3 },
  ...over
})

describe("encodeMessage", () => {
  it("builds Anthropic's message object, answering with the model the client asked for", () => {
    expect(encodeMessage(completion(), { model: "openai/gpt-4o" })).toEqual({
      id: "msg_chatcmpl-AbC123",
      type: "message",
      role: "assistant",
      model: "openai/gpt-4o",
      content: [{ type: "text", text: "Hello!" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 3 }
    })
  })

  it("keeps thinking, text and tool calls in order, with tool inputs as objects", () => {
    const message = encodeMessage(
      completion({
        id: "msg_01XFDUDYJgAACzvnptvVoYEL",
        content: [
          { type: "thinking", text: "The user wants the weather.", signature: "EqQBCkgIBRAB" },
          { type: "text", text: "Checking." },
          { type: "tool_call", id: "toolu_01", name: "get_weather", arguments: '{"city":"Paris","unit":"c"}' },
          { type: "tool_call", id: "call_2", name: "get_time", arguments: "" }
        ],
        finishReason: "tool_use",
        usage: { inputTokens: 2095, outputTokens: 503, cacheReadTokens: 1800, cacheWriteTokens: 200 }
      }),
      { model: "anthropic/claude-sonnet-4-5" }
    )
    expect(message).toEqual({
      id: "msg_01XFDUDYJgAACzvnptvVoYEL",
      type: "message",
      role: "assistant",
      model: "anthropic/claude-sonnet-4-5",
      content: [
        { type: "thinking", thinking: "The user wants the weather.", signature: "EqQBCkgIBRAB" },
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris", unit: "c" } },
        { type: "tool_use", id: "call_2", name: "get_time", input: {} }
      ],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: { input_tokens: 2095, output_tokens: 503, cache_read_input_tokens: 1800, cache_creation_input_tokens: 200 }
    })
  })

  it("gives unparsable or non-object tool arguments as {} and drops empty text", () => {
    const message = encodeMessage(
      completion({
        content: [
          { type: "text", text: "" },
          { type: "tool_call", id: "a", name: "f", arguments: '{"city": "Par' },
          { type: "tool_call", id: "b", name: "f", arguments: "[1,2]" },
          { type: "tool_call", id: "c", name: "f", arguments: "null" }
        ]
      }),
      { model: "m" }
    ) as { content: ReadonlyArray<unknown> }
    expect(message.content).toEqual([
      { type: "tool_use", id: "a", name: "f", input: {} },
      { type: "tool_use", id: "b", name: "f", input: {} },
      { type: "tool_use", id: "c", name: "f", input: {} }
    ])
  })

  it("maps every finish reason, content_filter to refusal, and reports the stop sequence", () => {
    const reasonOf = (c: Completion) => {
      const m = encodeMessage(c, { model: "m" }) as { stop_reason: string; stop_sequence: string | null }
      return [m.stop_reason, m.stop_sequence]
    }
    expect(reasonOf(completion({ finishReason: "max_tokens" }))).toEqual(["max_tokens", null])
    expect(reasonOf(completion({ finishReason: "stop_sequence", stopSequence: "\n\nHuman:" }))).toEqual(["stop_sequence", "\n\nHuman:"])
    expect(reasonOf(completion({ finishReason: "content_filter" }))).toEqual(["refusal", null])
    expect(reasonOf(completion({ finishReason: "refusal" }))).toEqual(["refusal", null])
  })

  it("makes up an id when the upstream gave none", () => {
    const { id } = encodeMessage(completion({ id: "" }), { model: "m" }) as { id: string }
    expect(id).toMatch(/^msg_[0-9a-f]{32}$/)
  })
})
