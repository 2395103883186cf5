import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { foldCompletion } from "../../src/ir/collect.ts"
import type { AnswerEvent } from "../../src/ir/response.ts"

const call = { type: "tool_call", id: "c1", name: "web_search", arguments: "{}" } as const

describe("foldCompletion", () => {
  it.effect("folds events into one completion: text runs, thinking, tool calls by index; server calls beside it, where they ran", () =>
    Effect.gen(function*() {
      const events: Array<AnswerEvent> = [
        { type: "start", id: "r1", model: "m-1" },
        { type: "thinking", text: "Hmm" },
        { type: "thinking", text: ", search.", signature: "sig" },
        { type: "text", text: "Let me " },
        { type: "text", text: "search." },
        { type: "server_tool_call", call },
        { type: "server_tool_result", call, result: "{}", isError: false },
        { type: "text", text: "\n\nFound it." },
        { type: "tool_call_start", index: 0, id: "t1", name: "weather" },
        { type: "tool_call_start", index: 1, id: "t2", name: "weather" },
        { type: "tool_call_delta", index: 1, arguments: "{\"city\":\"Rome\"}" },
        { type: "tool_call_delta", index: 0, arguments: "{\"city\":\"Oslo\"}" },
        { type: "finish", reason: "tool_use", usage: { inputTokens: 30, outputTokens: 7 } }
      ]
      expect(yield* foldCompletion(events)).toEqual({
        id: "r1",
        model: "m-1",
        content: [
          { type: "thinking", text: "Hmm, search.", signature: "sig" },
          { type: "text", text: "Let me search." },
          { type: "text", text: "\n\nFound it." },
          { type: "tool_call", id: "t1", name: "weather", arguments: "{\"city\":\"Oslo\"}" },
          { type: "tool_call", id: "t2", name: "weather", arguments: "{\"city\":\"Rome\"}" }
        ],
        finishReason: "tool_use",
        usage: { inputTokens: 30, outputTokens: 7 },
        // between the text before the search and the text after it
        serverCalls: [{ at: 2, call, result: "{}", isError: false }]
      })
    }))

  it.effect("fails when the events end without a finish", () =>
    Effect.gen(function*() {
      const cut = yield* Effect.flip(foldCompletion([{ type: "start", id: "r", model: "m" }, { type: "text", text: "Hal" }]))
      expect(cut).toMatchObject({ kind: "upstream" })
    }))
})
