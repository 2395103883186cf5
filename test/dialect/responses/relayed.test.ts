import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { echoModel, lastSequence, relayed, streamEnd } from "../../../src/dialect/responses/relayed.ts"
import { gatewayError } from "../../../src/errors.ts"
import { eventRewriter } from "../../../src/http/sse-rewrite.ts"
import { responsesEvents } from "../../support/responses-wire.ts"

const relay = (chunks: ReadonlyArray<Uint8Array>, model: string) => {
  const rewriter = eventRewriter(echoModel(model))
  return Effect.succeed(Buffer.concat([...chunks.map(rewriter.chunk), rewriter.end()].filter((b) => b !== undefined)))
}

/** `bytes` cut into pieces of `size` bytes, wherever that falls (inside a character too). */
const pieces = (bytes: Buffer, size: number) => Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size))

const answer = { text: ["Hel", "lo"], toolCalls: [{ id: "call_1", name: "f", fragments: ['{"model":', '"gpt-test-2025"}'] }] }

const dataOf = (frame: string) => JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as Record<string, any>

describe("echoModel", () => {
  it.effect("gives the response events' model the client's id, every other byte kept, however the bytes are cut", () =>
    Effect.gen(function*() {
      const upstream = Buffer.from(responsesEvents(answer), "utf8")
      // the model is named in created, in_progress and completed; a tool's argument that says "model" is not touched
      const expected = Buffer.from(
        responsesEvents(answer).replace(/("response":\{[^]*?"model":)"gpt-test-2025"/g, "$1\"openai/gpt-ünï ✓\""),
        "utf8"
      )
      expect(expected.toString("utf8").match(/gpt-ünï/g)).toHaveLength(3)
      expect(expected.toString("utf8")).toContain('"arguments":"{\\"model\\":\\"gpt-test-2025\\"}"')
      for (const size of [1, 5, 64, upstream.length]) {
        expect(yield* relay(pieces(upstream, size), "openai/gpt-ünï ✓")).toEqual(expected)
      }
    }))

  it("reads only the events that carry the response", () => {
    const rewrite = echoModel("gw/m")
    const created = `event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"r","model":"m-1","output":[]}}\n\n`
    expect(rewrite.event(created)).toBe(created.replace('"m-1"', '"gw/m"'))
    expect(rewrite.event(created.replace(/\n/g, "\r\n"))).toBe(created.replace(/\n/g, "\r\n").replace('"m-1"', '"gw/m"'))
    const queued = `: comment\nevent: response.queued\ndata: {"type":"response.queued","response":{"model":"m-1"}}\n\n`
    expect(rewrite.event(queued)).toBe(queued.replace('"m-1"', '"gw/m"'))
    // an item event is passed over by its event line, even one holding a `response` with a model
    expect(rewrite.event(`event: response.output_item.done\ndata: {"type":"response.output_item.done","response":{"model":"m-1"}}\n\n`)).toBeUndefined()
    // without an event line, the data's type tells
    expect(rewrite.event(`data: {"type":"response.output_text.delta","delta":"x"}\n\n`)).toBeUndefined()
    expect(rewrite.event(`data: {"type":"response.completed","response":{"model":"m-1"}}\n\n`)).toBe(`data: {"type":"response.completed","response":{"model":"gw/m"}}\n\n`)
    expect(rewrite.firstOnly).toBe(false)
  })
})

describe("how a relayed Responses stream ended", () => {
  const whole = responsesEvents(answer)
  const onEnd = relayed.onEnd("p1")

  it("whole after response.completed, response.incomplete, response.failed or error; anything else is cut", () => {
    expect(streamEnd(whole, true)).toBe("whole")
    expect(streamEnd(responsesEvents({ text: ["a"], stop: "max_tokens" }), true)).toBe("whole")
    expect(streamEnd(`event: response.failed\ndata: {"type":"response.failed","sequence_number":3,"response":{"status":"failed"}}\n\n`, true)).toBe("whole")
    expect(streamEnd(`event: error\ndata: {"type":"error","sequence_number":1,"code":"server_error","message":"x","param":null}\n\n`, true)).toBe("whole")
    expect(streamEnd(responsesEvents(answer, 7), true)).toBe("cut")
    expect(streamEnd(whole.slice(0, -10), true)).toBe("cut")
    expect(streamEnd("", true)).toBe("cut")
    for (const end of [whole, responsesEvents({ text: ["a"], stop: "max_tokens" })]) expect(onEnd(end, true)).toBeUndefined()
  })

  it("reads the end of a last event longer than the tail: a Response with its usage is whole, anything else cut", () => {
    // Codex's instructions and tools, echoed in every event that carries the response
    const long = (events: string) => events.replace(/"instructions":null/g, `"instructions":${JSON.stringify("You are Codex. \"usage\": {}\n".repeat(800))}`)
    const tailOf = (events: string) => events.slice(-8192)
    const completed = long(whole)
    expect(completed.length - completed.lastIndexOf("event: response.completed")).toBeGreaterThan(8192)
    expect(streamEnd(tailOf(completed), false)).toBe("whole")
    expect(onEnd(tailOf(completed), false)).toBeUndefined()
    expect(streamEnd(tailOf(long(responsesEvents({ text: ["a"], stop: "max_tokens" }))), false)).toBe("whole")
    // cut after response.in_progress (its usage is null), or after a long item
    expect(streamEnd(tailOf(long(responsesEvents(answer, 2))), false)).toBe("cut")
    const item = responsesEvents({ text: ["x".repeat(20000)] }, 8)
    expect(item.slice(item.lastIndexOf("event:"))).toMatch(/^event: response.output_item.done/)
    expect(streamEnd(tailOf(item), false)).toBe("cut")
    // and a tail cut inside the last event is never whole
    expect(streamEnd(tailOf(completed).slice(0, -3), false)).toBe("cut")
    expect(dataOf(onEnd(tailOf(long(responsesEvents(answer, 2))), false)!).sequence_number).toBe(2)
  })

  it("a cut stream gets response.failed, numbered after the last event sent", () => {
    const cut = responsesEvents(answer, 7)
    expect(lastSequence(cut)).toBe(6)
    const frame = onEnd(cut, true)!
    expect(frame.startsWith("event: response.failed\ndata: ")).toBe(true)
    expect(dataOf(frame)).toMatchObject({
      type: "response.failed",
      sequence_number: 7,
      response: { object: "response", status: "failed", error: { code: "server_error", message: "provider p1's stream ended before the answer was complete" }, output: [] }
    })
    expect(dataOf(frame).response.id).toMatch(/^resp_[0-9a-f]{48}$/)
    expect(dataOf(onEnd("", true)!)).toMatchObject({ sequence_number: 0 })
    expect(dataOf(onEnd(": keep-alive\n\n", true)!)).toMatchObject({ sequence_number: 0 })
  })

  it("a stream cut inside an event: the failure comes after a blank line, as an event of its own", () => {
    const inside = whole.slice(0, whole.indexOf("event: response.completed") + 40)
    const frame = onEnd(inside, true)!
    expect(frame.startsWith("\n\nevent: response.failed\n")).toBe(true)
    expect(dataOf(frame).sequence_number).toBe(lastSequence(inside)! + 1)
    expect(onEnd(inside.replace(/\n/g, "\r\n").slice(0, inside.lastIndexOf("\n") + 1), true)!.startsWith("\n\nevent:")).toBe(true)
  })

  it("a failure midway is a response.failed event with the error's code", () => {
    expect(dataOf(relayed.errorFrame(gatewayError("rate_limit", "slow down")))).toMatchObject({
      type: "response.failed",
      sequence_number: 0,
      response: { status: "failed", error: { code: "rate_limit_exceeded", message: "slow down" } }
    })
  })
})
