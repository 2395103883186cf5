import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { echoModel as anthropicEcho } from "../../src/dialect/anthropic/relayed.ts"
import { echoModel as openaiEcho } from "../../src/dialect/openai/relayed.ts"
import { eventRewriter } from "../../src/http/sse-rewrite.ts"

const relayed = (chunks: ReadonlyArray<Uint8Array>, rewrite: Parameters<typeof eventRewriter>[0]) => {
  const rewriter = eventRewriter(rewrite)
  return Effect.succeed(Buffer.concat([...chunks.map(rewriter.chunk), rewriter.end()].filter((b) => b !== undefined)))
}

/** `bytes` cut into pieces of `size` bytes, wherever that falls (inside a character too). */
const pieces = (bytes: Buffer, size: number) => Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size))

describe("eventRewriter", () => {
  it.effect("gives every chunk's model the client's id, keeping every other byte, however the bytes are cut", () =>
    Effect.gen(function*() {
      const chunk = (text: string) => `data: {"id":"c","model":"gpt-4o-2024","choices":[{"delta":{"content":"${text}"}}]}\n\n`
      const stream = Buffer.concat([
        Buffer.from(chunk("héllo ✓") + chunk("wörld")),
        Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a, 0x0a]), // not UTF-8: passed as it is
        Buffer.from("data: [DONE]\n\n")
      ])
      // the same bytes, but for the model: byte for byte, the invalid ones too
      const needle = Buffer.from("\"gpt-4o-2024\"")
      const parts: Array<Buffer> = []
      let from = 0
      for (let at = stream.indexOf(needle); at >= 0; at = stream.indexOf(needle, from)) {
        parts.push(stream.subarray(from, at), Buffer.from("\"gpt/ünï\"", "utf8"))
        from = at + needle.length
      }
      const expected = Buffer.concat([...parts, stream.subarray(from)])
      for (const size of [1, 3, 7, stream.length]) {
        expect(yield* relayed(pieces(stream, size), openaiEcho("gpt/ünï"))).toEqual(expected)
      }
    }))

  it.effect("reads again a chunk that does not begin like the last one", () =>
    Effect.gen(function*() {
      const events = [
        `data: {"id":"a","model":"m-1","choices":[]}\n\n`,
        `data: {"id":"a","model":"m-1","choices":[{"delta":{"content":"x"}}]}\n\n`,
        `data: {"id":"b","object":"chunk","model":"m-2","choices":[]}\n\n`,
        `data: {"id":"a","model":"m-1x","choices":[]}\n\n`,
        `data: [DONE]\n\n`
      ]
      const out = yield* relayed([Buffer.from(events.join(""))], openaiEcho("gpt/m"))
      expect(out.toString()).toBe(events.join("").replace(/"model":"m-[^"]*"/g, "\"model\":\"gpt/m\""))
    }))

  it.effect("rewrites only the first event of an Anthropic stream, CRLF framing included", () =>
    Effect.gen(function*() {
      const start = `event: message_start\r\ndata: {"type":"message_start","message":{"id":"m","model":"claude-x","content":[]}}\r\n\r\n`
      const rest = `event: content_block_delta\r\ndata: {"type":"content_block_delta","delta":{"text":"\\"model\\":\\"claude-x\\""}}\r\n\r\n`
      const out = yield* relayed(pieces(Buffer.from(start + rest), 5), anthropicEcho("claude/çlaude"))
      expect(out.toString("utf8")).toBe(start.replace("\"claude-x\"", "\"claude/çlaude\"") + rest)
    }))
})
