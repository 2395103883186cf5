import { describe, expect, it } from "vitest"
import { estimateTokens } from "../../../src/dialect/anthropic/count-tokens.ts"
import type { Conversation } from "../../../src/ir/conversation.ts"

const base: Conversation = { model: "m", system: [], messages: [], tools: [], extensions: {} }

describe("estimateTokens", () => {
  it("counts about four characters per token plus a per-message overhead", () => {
    const conversation: Conversation = {
      ...base,
      system: [{ type: "text", text: "a".repeat(40) }], // 40
      messages: [
        { role: "user", content: [{ type: "text", text: "b".repeat(100) }] }, // 100
        {
          role: "assistant",
          content: [
            { type: "thinking", text: "c".repeat(20) }, // 20
            { type: "tool_call", id: "t1", name: "Read", arguments: '{"file_path":"/a"}' } // 4 + 18
          ]
        },
        { role: "user", content: [{ type: "tool_result", callId: "t1", content: [{ type: "text", text: "d".repeat(18) }] }] } // 18
      ]
    }
    // 200 characters → 50 tokens, 3 messages × 4
    expect(estimateTokens(conversation)).toBe(50 + 12)
  })

  it("charges a fixed cost per image, also inside tool results", () => {
    const image = { type: "image", source: { kind: "url", url: "https://x/y.png" } } as const
    const conversation: Conversation = {
      ...base,
      messages: [{ role: "user", content: [image, { type: "tool_result", callId: "t", content: [image] }] }]
    }
    expect(estimateTokens(conversation)).toBe(2 * 1600 + 4)
  })

  it("counts tool definitions as their JSON", () => {
    const tool = { name: "get_weather", description: "Weather for a city", parameters: { type: "object" } }
    const withTool = estimateTokens({ ...base, tools: [tool] })
    expect(withTool).toBe(Math.ceil(JSON.stringify(tool).length / 4))
    expect(estimateTokens({ ...base, tools: [tool, tool] })).toBeGreaterThan(withTool)
  })

  it("rounds short text up", () => {
    const conversation: Conversation = { ...base, messages: [{ role: "user", content: [{ type: "text", text: "hello world" }] }] }
    expect(estimateTokens(conversation)).toBe(Math.ceil(11 / 4) + 4)
  })
})
