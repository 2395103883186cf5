/**
 * A relayed stream longer than the bytes kept of its end (a few KiB, by dialect): how it ended is
 * judged, and its usage read, from those last bytes. A whole one reaches the client byte for byte
 * (but for the model id) with its usage in the access log; one cut short gets the dialect's ending
 * (an error event, or OpenAI's missing `[DONE]`), never a clean finish.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { captureStdout, demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { anthropicEvents, openaiChunks, type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let stdout: ReturnType<typeof captureStdout>

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  stdout = captureStdout()
  gateway = await startGateway({
    manifests: scriptedProviders(upstream.url),
    config: { chatProvider: "claude", toolsDefault: "disabled", upstreamRetries: 0, logLevel: "info" }
  })
})
afterAll(async () => {
  stdout.stop()
  await gateway.close()
  await upstream.close()
})

/** 400 words, about 40 KB of events: far more than a tail keeps */
const long = { text: Array.from({ length: 400 }, (_, i) => `word${i} `), inputTokens: 17, outputTokens: 401 }

/** The body as the client got it, and the request's access log line. */
const streamed = async (path: string, body: unknown) => {
  const id = `req-${Math.random().toString(36).slice(2)}`
  const res = await fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${demoToken}`, "content-type": "application/json", "x-request-id": id, "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ ...body as object, stream: true })
  })
  const text = await res.text()
  await new Promise((r) => setTimeout(r, 20))
  return { text, log: stdout.lines(id).find((line) => line["msg"] === "request")! }
}
const anthropicAsk = { model: "claude/claude-test", max_tokens: 500, messages: [{ role: "user", content: "hi" }] }
const openaiAsk = { model: "gpt/gpt-test", max_tokens: 500, messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } }

describe("a long Anthropic stream relayed", () => {
  it("whole: byte for byte but the model id, its usage read from its two ends", async () => {
    const events = anthropicEvents(long)
    upstream.script({ sse: events, splitBytes: 256 })
    const { log, text } = await streamed("/anthropic/v1/messages", anthropicAsk)
    expect(text).toBe(events.replace('"model":"claude-test"', '"model":"claude/claude-test"'))
    expect(log).toMatchObject({ status: 200, outcome: "completed", input_tokens: 17, output_tokens: 401 })
  })

  it("cut after its usage, before message_stop: it ends with an error event", async () => {
    const events = anthropicEvents(long)
    upstream.script({ sse: events.slice(0, events.lastIndexOf("event: message_stop")), splitBytes: 256 })
    const { log, text } = await streamed("/anthropic/v1/messages", anthropicAsk)
    expect(text).toContain('"stop_reason":"end_turn"')
    expect(text.slice(text.lastIndexOf("event: "))).toMatch(/^event: error\ndata: \{"type":"error","error":\{[^\n]*ended before/)
    expect(log).toMatchObject({ output_tokens: 401 })
  })
})

describe("a long Chat Completions stream relayed", () => {
  it("whole: byte for byte but the model id, its usage read from its last chunk", async () => {
    const chunks = openaiChunks(long, true)
    upstream.script({ sse: chunks, splitBytes: 256 })
    const { log, text } = await streamed("/openai/v1/chat/completions", openaiAsk)
    expect(text).toBe(chunks.replaceAll('"model":"gpt-test"', '"model":"gpt/gpt-test"'))
    expect(log).toMatchObject({ status: 200, outcome: "completed", input_tokens: 17, output_tokens: 401 })
  })

  it("finished and counted but without [DONE]: the gateway adds it", async () => {
    const chunks = openaiChunks(long, true)
    upstream.script({ sse: chunks.slice(0, chunks.lastIndexOf("data: [DONE]")), splitBytes: 256 })
    const { text } = await streamed("/openai/v1/chat/completions", openaiAsk)
    expect(text.endsWith('"total_tokens":418}}\n\ndata: [DONE]\n\n')).toBe(true)
  })

  it("cut before it finished: it ends with an error, not [DONE]", async () => {
    const chunks = openaiChunks(long, true)
    upstream.script({ sse: chunks.slice(0, chunks.indexOf('data: {', chunks.indexOf("word390"))), splitBytes: 256 })
    const { text } = await streamed("/openai/v1/chat/completions", openaiAsk)
    expect(text).not.toContain("[DONE]")
    expect(text.slice(text.lastIndexOf("data: "))).toMatch(/^data: \{"error":\{[^\n]*ended before/)
  })
})

describe("a relayed stream and its client", () => {
  const metric = async (name: string) => {
    const line = (await (await fetch(`${gateway.url}/metrics`)).text()).split("\n").find((l) => l.startsWith(`${name}{`) && l.includes('orka_dialect="anthropic"'))
    return Number(line?.split(" ").at(-1) ?? 0)
  }

  it("a client that leaves midway: the provider's answer is dropped, the request logged as the client's closing, no stream left open", async () => {
    const aborted = upstream.aborted()
    upstream.script({ answer: { text: Array.from({ length: 100 }, (_, i) => `w${i} `) }, chunkDelayMs: 20 })
    const controller = new AbortController()
    const res = await fetch(`${gateway.url}/anthropic/v1/messages`, {
      method: "POST",
      signal: controller.signal,
      headers: { authorization: `Bearer ${demoToken}`, "content-type": "application/json", "x-request-id": "req-relay-left", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ ...anthropicAsk, stream: true })
    })
    const reader = res.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("event: message_start")
    expect(await metric("orka_streams_in_flight")).toBe(1)
    controller.abort()
    const deadline = Date.now() + 3000
    while (upstream.aborted() === aborted || stdout.lines("req-relay-left").find((l) => l["msg"] === "request") === undefined) {
      expect(Date.now()).toBeLessThan(deadline)
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(stdout.lines("req-relay-left").find((l) => l["msg"] === "request")).toMatchObject({ status: 200, outcome: "client_closed", input_tokens: 10 })
    expect(await metric("orka_streams_in_flight")).toBe(0)
  })

  it("a client that reads slowly gets every byte of a long stream, the provider held back meanwhile", async () => {
    const events = anthropicEvents({ text: Array.from({ length: 20_000 }, (_, i) => `word${i} `), inputTokens: 3, outputTokens: 20_001 })
    upstream.script({ sse: events })
    const res = await fetch(`${gateway.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${demoToken}`, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ ...anthropicAsk, stream: true })
    })
    const reader = res.body!.getReader()
    const chunks: Array<Uint8Array> = []
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks.push(read.value)
      // a pause now and then: the buffers between fill, and the relay waits for the client
      if (chunks.length % 20 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    expect(Buffer.concat(chunks).toString("utf8")).toBe(events.replace('"model":"claude-test"', '"model":"claude/claude-test"'))
  })
})
