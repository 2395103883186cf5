/**
 * Misbehaving upstreams and hostile requests through the real server: every answer is either the
 * provider's whole answer or an error the client can see (an envelope, or an error event that ends a
 * stream), never a truncated success, a bare 500 or a dropped connection.
 */
import Anthropic from "@anthropic-ai/sdk"
import { connect } from "node:net"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { anthropicEvents, openaiChunks, type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let openai: OpenAI
let anthropic: Anthropic

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  gateway = await startGateway({
    manifests: scriptedProviders(upstream.url),
    config: { chatProvider: "mock", toolsDefault: "disabled", upstreamRetries: 0 }
  })
  openai = new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0 })
  anthropic = new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: demoToken, maxRetries: 0 })
})
afterAll(async () => {
  await gateway.close()
  await upstream.close()
})
beforeEach(() => {
  upstream.requests.length = 0
})

const post = (path: string, body: unknown, headers: Record<string, string> = {}) => gateway.post(path, body, headers)
const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: "user", content: "hi" }], ...extra })
const message = (model: string, extra: Record<string, unknown> = {}) => ({ model, max_tokens: 100, messages: [{ role: "user", content: "hi" }], ...extra })
const openaiError = (text: string) => (JSON.parse(text) as { error: { message: string; type: string } }).error
const anthropicError = (text: string) => {
  const body = JSON.parse(text) as { type: string; error: { message: string; type: string } }
  expect(body.type).toBe("error")
  return body.error
}
/** What the client gets of the provider's bytes: its own model id in place of the provider's. */
const echoed = (text: string) => text.replaceAll(`"model":"gpt-test"`, `"model":"gpt/gpt-test"`).replaceAll(`"model":"claude-test"`, `"model":"claude/claude-test"`)
/** A whole HTTP response whose body ends where the connection closes. */
const wire = (contentType: string, body: string, status = "200 OK") =>
  ({ wire: `HTTP/1.1 ${status}\r\ncontent-type: ${contentType}\r\nconnection: close\r\n\r\n${body}` })

describe("a pass-through stream cut short", () => {
  it("OpenAI: ends with an error chunk and no [DONE]; the SDK throws", async () => {
    const whole = openaiChunks({ text: ["Hel", "lo"] }, false)
    const cut = whole.split("\n\n").slice(0, 2).join("\n\n") + "\n\n" // the role chunk and one delta
    upstream.script({ sse: cut })
    const raw = await post("/openai/v1/chat/completions", chat("gpt/gpt-test", { stream: true }))
    expect(raw.status).toBe(200)
    expect(raw.text.startsWith(echoed(cut))).toBe(true) // the provider's bytes, untouched but for the model
    expect(raw.text).not.toContain("[DONE]")
    expect(raw.text.slice(echoed(cut).length)).toMatch(/^data: \{"error":\{"message":"provider gpt's stream ended before the answer was complete"/)

    upstream.script({ sse: cut })
    const stream = await openai.chat.completions.create({ model: "gpt/gpt-test", stream: true, messages: [{ role: "user", content: "hi" }] })
    await expect((async () => {
      for await (const _ of stream) { /* drain */ }
    })()).rejects.toThrow("ended before the answer was complete")
  })

  it("OpenAI: a stream that finished but left out [DONE] gets it, and is whole", async () => {
    const noDone = openaiChunks({ text: ["Hi"] }, false).replace("data: [DONE]\n\n", "")
    upstream.script({ sse: noDone })
    const raw = await post("/openai/v1/chat/completions", chat("gpt/gpt-test", { stream: true }))
    expect(raw.text).toBe(echoed(noDone) + "data: [DONE]\n\n")
  })

  it("OpenAI: a stream the provider ended with its own error chunk is passed on as it is", async () => {
    const failed = openaiChunks({ text: ["Hel", "lo"] }, false, 2)
    upstream.script({ sse: failed })
    const raw = await post("/openai/v1/chat/completions", chat("gpt/gpt-test", { stream: true }))
    expect(raw.text).toBe(echoed(failed))
  })

  it("Anthropic: ends with an error event and no message_stop; the SDK throws", async () => {
    const whole = anthropicEvents({ text: ["Hel", "lo"] })
    const cut = whole.slice(0, whole.indexOf("event: message_delta"))
    upstream.script({ sse: cut })
    const raw = await post("/anthropic/v1/messages", message("claude/claude-test", { stream: true }))
    expect(raw.text.startsWith(echoed(cut))).toBe(true)
    expect(raw.text).not.toContain("message_stop")
    expect(raw.text.slice(echoed(cut).length)).toMatch(/^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"provider claude's stream ended/)

    upstream.script({ sse: cut })
    await expect(anthropic.messages.stream({ model: "claude/claude-test", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).finalMessage())
      .rejects.toThrow("ended before the answer was complete")

    // a whole stream passes untouched, byte for byte but for the model
    upstream.script({ sse: whole })
    expect((await post("/anthropic/v1/messages", message("claude/claude-test", { stream: true }))).text).toBe(echoed(whole))
  })

  it("Anthropic: a cut inside the last event is a cut too", async () => {
    const whole = anthropicEvents({ text: ["Hi"] })
    upstream.script({ sse: whole.slice(0, -12) }) // inside message_stop's data
    const raw = await post("/anthropic/v1/messages", message("claude/claude-test", { stream: true }))
    expect(raw.text).toMatch(/event: error\ndata: .*ended before the answer was complete/)
  })
})

describe("a stream that fails midway", () => {
  const errorFrames = (text: string) => text.split("\n\n").filter((f) => f.includes("\"error\""))

  it("passed through, a connection reset: what came whole, then one error event, no [DONE]; the SDK throws", async () => {
    const whole = openaiChunks({ text: ["Hel", "lo"] }, false)
    const start = whole.split("\n\n").slice(0, 2).join("\n\n") + "\n\n"
    upstream.script({ sse: start + "data: {\"id\":\"half", then: "reset" })
    const raw = await post("/openai/v1/chat/completions", chat("gpt/gpt-test", { stream: true }))
    expect(raw.status).toBe(200)
    expect(raw.text.startsWith(echoed(start))).toBe(true)
    expect(raw.text).not.toContain("[DONE]")
    expect(errorFrames(raw.text)).toHaveLength(1)
    expect(raw.text.slice(echoed(start).length)).toMatch(/^data: \{"error":\{"message":"the connection to provider gpt broke mid-response"/)

    upstream.script({ sse: start, then: "reset" })
    const stream = await openai.chat.completions.create({ model: "gpt/gpt-test", stream: true, messages: [{ role: "user", content: "hi" }] })
    await expect((async () => {
      for await (const _ of stream) { /* drain */ }
    })()).rejects.toThrow("broke mid-response")
  })

  it("passed through, a reset inside an event: the half event never reaches the client, the SDK throws the error event's", async () => {
    const whole = anthropicEvents({ text: ["Hel", "lo"] })
    const start = whole.slice(0, whole.indexOf("event: content_block_stop"))
    const cut = start + "event: content_block_delta\ndata: {\"type\":\"content_blo"
    upstream.script({ sse: cut, then: "reset" })
    const raw = await post("/anthropic/v1/messages", message("claude/claude-test", { stream: true }))
    expect(raw.text.startsWith(echoed(start))).toBe(true)
    expect(raw.text).not.toContain("content_blo\n")
    expect(raw.text.slice(echoed(start).length)).toMatch(/^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"the connection to provider claude broke mid-response"/)

    upstream.script({ sse: cut, then: "reset" })
    const texts: Array<string> = []
    const failure = await (async () => {
      const stream = anthropic.messages.stream({ model: "claude/claude-test", max_tokens: 50, messages: [{ role: "user", content: "hi" }] })
      stream.on("text", (text) => texts.push(text))
      await stream.done()
    })().catch((e: unknown) => e)
    expect(texts.join("")).toBe("Hello")
    expect(failure).toBeInstanceOf(Anthropic.APIError)
    expect(String(failure)).toContain("broke mid-response")
  })

  it("translated, a connection reset: the text that came, then one error event, no [DONE]", async () => {
    const whole = anthropicEvents({ text: ["Hel", "lo"] })
    upstream.script({ sse: whole.slice(0, whole.indexOf("event: content_block_stop")) + "event: content_block_delta\ndata: {\"ty", then: "reset" })
    const raw = await post("/openai/v1/chat/completions", chat("claude/claude-test", { stream: true }))
    expect(raw.status).toBe(200)
    const frames = raw.text.split("\n\n").filter((f) => f !== "")
    expect(frames.filter((f) => f.includes("\"content\":\"Hel\"") || f.includes("\"content\":\"lo\""))).toHaveLength(2)
    expect(raw.text).not.toContain("[DONE]")
    expect(errorFrames(raw.text)).toHaveLength(1)
    expect(frames.at(-1)).toMatch(/^data: \{"error":\{"message":"the connection to provider claude broke mid-response"/)
  })

  it("a provider gone silent: an error event naming the idle limit, in the Anthropic door's shape", async () => {
    const quick = await startGateway({
      manifests: scriptedProviders(upstream.url),
      config: { chatProvider: "mock", toolsDefault: "disabled", upstreamRetries: 0, streamIdleTimeout: 300 }
    })
    try {
      const whole = anthropicEvents({ text: ["Hel", "lo"] })
      const start = whole.slice(0, whole.indexOf("event: content_block_delta"))
      upstream.script({ sse: start, then: "stall" })
      const raw = await quick.post("/anthropic/v1/messages", message("claude/claude-test", { stream: true }))
      expect(raw.text.startsWith(echoed(start))).toBe(true)
      expect(raw.text).not.toContain("message_stop")
      expect(errorFrames(raw.text)).toHaveLength(1)
      expect(raw.text.slice(echoed(start).length)).toMatch(/^event: error\ndata: \{"type":"error","error":\{"type":"timeout_error","message":"provider claude sent nothing for 0.3s"/)
    } finally {
      await quick.close()
    }
  })
})

describe("a pass-through JSON body cut short", () => {
  it("is a 502 in each door's envelope, not a truncated 200", async () => {
    upstream.script(wire("application/json", `{"id":"chatcmpl-1","object":"chat.completion","choi`))
    const a = await post("/openai/v1/chat/completions", chat("gpt/gpt-test"))
    expect(a.status).toBe(502)
    expect(openaiError(a.text).message).toBe("provider gpt answered with incomplete or invalid JSON")

    upstream.script(wire("application/json", `{"id":"msg_1","type":"message","content":[{"type":"te`))
    const b = await post("/anthropic/v1/messages", message("claude/claude-test"))
    expect(b.status).toBe(502)
    expect(anthropicError(b.text).message).toBe("provider claude answered with incomplete or invalid JSON")

    // count_tokens is passed through the same way
    upstream.script(wire("application/json", `{"input_tok`))
    const c = await post("/anthropic/v1/messages/count_tokens", { model: "claude/claude-test", messages: [{ role: "user", content: "hi" }] })
    expect(c.status).toBe(502)
  })
})

describe("a 200 that is not an answer", () => {
  const html = wire("text/html; charset=utf-8", "<!doctype html><html><body>Sign in to the Wi-Fi</body></html>")
  const jsonError = { status: 200, body: { error: { message: "quota exceeded for this key", type: "insufficient_quota" } } }

  it("a JSON error body with a 200 is a 502 naming the provider, streamed or not, passed through or translated", async () => {
    for (const [path, body, dialect] of [
      ["/openai/v1/chat/completions", chat("gpt/gpt-test"), "openai"],
      ["/openai/v1/chat/completions", chat("gpt/gpt-test", { stream: true }), "openai"],
      ["/openai/v1/chat/completions", chat("claude/claude-test"), "openai"],
      ["/anthropic/v1/messages", message("claude/claude-test"), "anthropic"],
      ["/anthropic/v1/messages", message("gpt/gpt-test", { stream: true }), "anthropic"]
    ] as const) {
      upstream.script(jsonError)
      const res = await post(path, body)
      expect(res.status, JSON.stringify(body)).toBe(502)
      const error = dialect === "openai" ? openaiError(res.text) : anthropicError(res.text)
      expect(error.message).toMatch(/^provider (gpt|claude) answered (with an error|HTTP 200 with application\/json instead of an event stream): quota exceeded for this key$/)
    }
  })

  it("an HTML page is a 502 that points at the base URL, on every path", async () => {
    for (const [path, body] of [
      ["/openai/v1/chat/completions", chat("gpt/gpt-test")],
      ["/openai/v1/chat/completions", chat("gpt/gpt-test", { stream: true })],
      ["/openai/v1/chat/completions", chat("claude/claude-test", { stream: true })],
      ["/anthropic/v1/messages", message("claude/claude-test", { stream: true })],
      ["/anthropic/v1/messages", message("gpt/gpt-test")]
    ] as const) {
      upstream.script(html)
      const res = await post(path, body)
      expect(res.status).toBe(502)
      expect(res.headers.get("content-type")).toContain("application/json")
      expect(res.text).toMatch(/answered HTTP 200 with an HTML page instead of (a JSON answer|an event stream); check the Provider's spec.baseURL/)
    }
  })
})

describe("hostile requests", () => {
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth)

  it("deep nesting is a 400 in the door's envelope; real depths pass", async () => {
    const deep = `{"model":"mock-1","messages":[{"role":"user","content":"hi"}],"metadata":${nested(10_000)}}`
    const a = await post("/openai/v1/chat/completions", deep)
    expect(a.status).toBe(400)
    expect(openaiError(a.text).message).toBe("the request body is nested deeper than 64 levels (the limit is --max-json-depth)")
    const b = await post("/anthropic/v1/messages", deep.replace(`"model":"mock-1"`, `"model":"mock-1","max_tokens":5`))
    expect(b.status).toBe(400)
    expect(anthropicError(b.text).type).toBe("invalid_request_error")
    // a tool schema 40 levels deep is far beyond what clients send, and still fine
    let schema: Record<string, unknown> = { type: "string" }
    for (let i = 0; i < 19; i++) schema = { type: "object", properties: { x: schema } }
    const ok = await post("/openai/v1/chat/completions", chat("mock-1", { tools: [{ type: "function", function: { name: "deep", parameters: schema } }] }))
    expect(ok.status).toBe(200)
  })

  it("a malformed percent-encoding gets a JSON 404 in the door's envelope, and the server keeps serving", async () => {
    for (const path of ["/openai/v1/models/%ZZ", "/openai/v1/models/%E0%A4%A", "/anthropic/v1/models/%ZZ", "/%"]) {
      const res = await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${demoToken}` } })
      expect(res.status, path).toBe(404)
      const text = await res.text()
      if (path.startsWith("/anthropic")) expect(anthropicError(text).type).toBe("not_found_error")
      else expect(openaiError(text).type).toBe("not_found_error")
    }
    expect((await post("/openai/v1/chat/completions", chat("mock-1"))).status).toBe(200)
  })

  it("what Node's parser rejects still gets a JSON answer: an unknown method 400, oversized headers 431", async () => {
    const send = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(gateway.url).port), "127.0.0.1")
        let got = ""
        socket.on("data", (d) => (got += d.toString()))
        socket.on("end", () => resolve(got))
        socket.on("error", reject)
        socket.write(request)
      })
    const method = await send("FETCH /openai/v1/models HTTP/1.1\r\nhost: x\r\n\r\n")
    expect(method).toMatch(/^HTTP\/1\.1 400 /)
    expect(openaiError(method.slice(method.indexOf("\r\n\r\n") + 4)).message).toBe("the request method is not one this server knows")
    const big = await send(`GET /anthropic/v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`)
    expect(big).toMatch(/^HTTP\/1\.1 431 /)
    expect(anthropicError(big.slice(big.indexOf("\r\n\r\n") + 4)).message).toBe("the request headers are larger than this server accepts")
  })

  it("a wrong method on the Anthropic door is a 405 in Anthropic's envelope", async () => {
    const res = await fetch(`${gateway.url}/anthropic/v1/messages`, { headers: { "x-api-key": demoToken } })
    expect(res.status).toBe(405)
    expect(anthropicError(await res.text())).toMatchObject({ type: "invalid_request_error", message: "GET is not allowed on /anthropic/v1/messages; use POST" })
  })

  it("a 5 MB model name is a short 400, not echoed into logs and chunks", async () => {
    const huge = "m".repeat(5 * 1024 * 1024)
    const a = await post("/openai/v1/chat/completions", chat(huge, { stream: true }))
    expect(a.status).toBe(400)
    expect(a.text.length).toBeLessThan(500)
    expect(openaiError(a.text).message).toBe(`model: at most 256 characters, got ${huge.length}`)
    const b = await post("/anthropic/v1/messages", message(huge))
    expect(b.status).toBe(400)
    expect(b.text.length).toBeLessThan(500)
  })

  it("error messages quoting client strings are bounded, and a huge request id is not echoed", async () => {
    const role = "r".repeat(100_000)
    const res = await post("/openai/v1/chat/completions", { model: "mock-1", messages: [{ role, content: "hi" }] }, { "x-request-id": "i".repeat(4000) })
    expect(res.status).toBe(400)
    expect(openaiError(res.text).message.length).toBeLessThan(2100)
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
    const id = (await post("/openai/v1/chat/completions", chat("mock-1"), { "x-request-id": "trace-42" })).headers.get("x-request-id")
    expect(id).toBe("trace-42")
  })
})
