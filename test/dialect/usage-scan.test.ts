import { describe, expect, it } from "vitest"
import { modelIn, usageIn } from "../../src/dialect/usage-scan.ts"
import { anthropicEvents, openaiChunks, openaiCompletion } from "../support/scripted-upstream.ts"
import { responsesEvents, responsesObject } from "../support/responses-wire.ts"

describe("usage read from an answer's bytes", () => {
  it("in every wire format, whole and streamed", () => {
    const answer = { text: ["hi"], inputTokens: 21, outputTokens: 4, model: "m-1" }
    expect(usageIn(JSON.stringify(openaiCompletion(answer)))).toEqual({ inputTokens: 21, outputTokens: 4 })
    expect(usageIn(openaiChunks(answer, true))).toEqual({ inputTokens: 21, outputTokens: 4 })
    // Anthropic: the input count in message_start, the output count in message_delta
    expect(usageIn(anthropicEvents(answer))).toEqual({ inputTokens: 21, outputTokens: 4 })
    expect(usageIn(JSON.stringify(responsesObject(answer)))).toEqual({ inputTokens: 21, outputTokens: 4 })
    expect(usageIn(responsesEvents(answer))).toEqual({ inputTokens: 21, outputTokens: 4 })
    expect(modelIn(openaiChunks(answer, false))).toBe("m-1")
  })

  it("with cached input and reasoning, and nothing from a usage that is null or cut", () => {
    expect(usageIn(JSON.stringify({ usage: { prompt_tokens: 9, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 5 }, completion_tokens_details: { reasoning_tokens: 3 } } })))
      .toEqual({ inputTokens: 9, outputTokens: 7, cacheReadTokens: 5, reasoningTokens: 3 })
    expect(usageIn(JSON.stringify({ usage: { input_tokens: 9, output_tokens: 7, input_tokens_details: { cached_tokens: 2 }, output_tokens_details: { reasoning_tokens: 6 } } })))
      .toEqual({ inputTokens: 9, outputTokens: 7, cacheReadTokens: 2, reasoningTokens: 6 })
    expect(usageIn(JSON.stringify({ usage: { input_tokens: 3, cache_read_input_tokens: 40 } }))).toEqual({ inputTokens: 3, outputTokens: 0, cacheReadTokens: 40 })
    expect(usageIn("{\"usage\": null}")).toBeUndefined()
    expect(usageIn("data: {\"usage\":{\"prompt_tokens\":4,\"compl")).toBeUndefined()
    // a "usage" inside a string is not a usage
    expect(usageIn(JSON.stringify({ text: "the \"usage\": {\"input_tokens\": 99}" }))).toBeUndefined()
  })
})
