import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import type * as Sse from "effect/encoding/Sse"
import { chatCompletionsCodec } from "../../../src/dialect/openai/provider.ts"

const sse = (data: unknown): Sse.Event => ({ _tag: "Event", event: "message", id: undefined, data: typeof data === "string" ? data : JSON.stringify(data) })
const chunk = (delta: unknown, extra: Record<string, unknown> = {}) =>
  sse({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-test", choices: [{ index: 0, delta, logprobs: null, finish_reason: null }], ...extra })
const decoded = (events: ReadonlyArray<Sse.Event>) =>
  Effect.exit(Stream.runCollect(chatCompletionsCodec.decodeStream("gpt", Stream.fromIterable(events))))

describe("the OpenAI provider's stream", () => {
  it.effect("reads text chunks as the answer's text, and every other chunk for what it carries", () =>
    Effect.gen(function*() {
      const exit = yield* decoded([
        chunk({ role: "assistant", content: "" }),
        chunk({ content: "Hé" }, { usage: null, system_fingerprint: "fp" }),
        chunk({ content: "" }),
        chunk({ reasoning_content: "hmm", content: "llo" }),
        chunk({ content: null, tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] }),
        chunk({ content: " ✓" }),
        sse({ id: "chatcmpl-1", choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] }),
        sse({ id: "chatcmpl-1", choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }),
        sse("[DONE]")
      ])
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(Exit.isSuccess(exit) ? exit.value : []).toEqual([
        { type: "start", id: "chatcmpl-1", model: "gpt-test" },
        { type: "text", text: "Hé" },
        { type: "thinking", text: "hmm" },
        { type: "text", text: "llo" },
        { type: "tool_call_start", index: 0, id: "call_1", name: "f" },
        { type: "tool_call_delta", index: 0, arguments: "{}" },
        { type: "text", text: " ✓" },
        { type: "finish", reason: "tool_use", usage: { inputTokens: 3, outputTokens: 4 } }
      ])
    }))

  it.effect("fails on a chunk with an error, and on data that is not JSON", () =>
    Effect.gen(function*() {
      for (const bad of [chunk({ content: "x" }, { error: { message: "quota", type: "rate_limit_error" } }), sse("{\"choices\":[")]) {
        const exit = yield* decoded([chunk({ role: "assistant", content: "" }), bad, sse("[DONE]")])
        expect(Exit.isFailure(exit)).toBe(true)
      }
    }))
})
