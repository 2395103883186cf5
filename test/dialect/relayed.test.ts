import { describe, expect, it } from "vitest"
import { streamEnd as anthropicEnd } from "../../src/dialect/anthropic/relayed.ts"
import { streamEnd as openaiEnd } from "../../src/dialect/openai/relayed.ts"
import { lastTailEvent, tailEvents } from "../../src/dialect/relay.ts"
import { anthropicEvents, openaiChunks } from "../support/scripted-upstream.ts"

describe("how a relayed stream ended, from its tail", () => {
  it("OpenAI: [DONE] or the provider's error chunk is whole; a finish without [DONE] misses it; the rest is cut", () => {
    const whole = openaiChunks({ text: ["a", "b"] }, true)
    expect(openaiEnd(whole, true)).toBe("whole")
    expect(openaiEnd(whole.slice(whole.length - 40), false)).toBe("whole") // only the end is kept
    expect(openaiEnd(whole.replace(/\n\n/g, "\r\n\r\n"), true)).toBe("whole")
    expect(openaiEnd(whole.replace("data: [DONE]\n\n", ""), true)).toBe("done_missing")
    expect(openaiEnd(openaiChunks({ text: ["a"] }, false, 2), true)).toBe("whole")
    expect(openaiEnd(whole.slice(0, whole.indexOf("finish_reason\":\"stop")), true)).toBe("cut")
    expect(openaiEnd("", true)).toBe("cut")
    expect(openaiEnd(": keep-alive\n\n", true)).toBe("cut")
  })

  it("Anthropic: message_stop or an error event is whole; anything else is cut, even inside the last event", () => {
    const whole = anthropicEvents({ text: ["a"] })
    expect(anthropicEnd(whole, true)).toBe("whole")
    expect(anthropicEnd(anthropicEvents({ text: ["a"] }, 3), true)).toBe("whole")
    expect(anthropicEnd(whole.slice(0, whole.indexOf("event: message_stop")), true)).toBe("cut")
    expect(anthropicEnd(whole.slice(0, -5), true)).toBe("cut")
    expect(anthropicEnd(`event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"x"}}\n\n`, true)).toBe("whole")
  })
})

describe("a tail's events", () => {
  it("the last one read alone is the last of all, comments, partial first blocks and CRLF framing alike", () => {
    const tails = [
      openaiChunks({ text: ["a", "b"] }, true),
      anthropicEvents({ text: ["a"] }),
      anthropicEvents({ text: ["a"] }).replace(/\n/g, "\r\n"),
      "data: {\"x\":1}\n\n: keep-alive\n\n",
      "data: [DONE]",
      "ial\"}\n\ndata: {\"y\":2}\n\n\n\n",
      ": only a comment\n\n",
      ""
    ]
    for (const tail of tails) {
      for (const fromStart of [true, false]) expect(lastTailEvent(tail, fromStart)).toEqual(tailEvents(tail, fromStart).at(-1))
    }
    expect(lastTailEvent("data: {\"x\":1}\n\n: keep-alive\n\n", true)).toEqual({ event: "", data: "{\"x\":1}" })
  })
})
