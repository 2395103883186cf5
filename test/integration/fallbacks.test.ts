/**
 * Provider fallbacks and cooldown, through the real server: a Provider that fails with a retryable
 * error before anything reached the client is replaced by its `spec.fallbacks` (of another type:
 * translated), in the client's own format; one that fails again and again is skipped for a while,
 * then tried once.
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { captureStdout, demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let stdout: ReturnType<typeof captureStdout>

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  stdout = captureStdout()
  const anthropic = (fallbacks?: Array<{ provider: string; model?: string }>) => ({
    type: "anthropic", secretRef: { name: "keys" }, baseURL: upstream.url, defaultModel: "claude-test", ...(fallbacks === undefined ? {} : { fallbacks })
  })
  gateway = await startGateway({
    manifests: scriptedProviders(upstream.url, {
      primary: anthropic([{ provider: "missing" }, { provider: "gpt", model: "gpt-fallback" }]),
      cooling: anthropic([{ provider: "gpt" }]),
      stranded: anthropic([{ provider: "missing" }]),
      alone: anthropic(),
      throttled: anthropic([{ provider: "gpt" }]),
      "cooling-tight": anthropic([{ provider: "tight" }]),
      tight: { ...anthropic(), rateLimit: { requestsPerMinute: 1 } },
      hanging: anthropic([{ provider: "gpt" }]),
      unreachable: { type: "anthropic", secretRef: { name: "keys" }, baseURL: "http://127.0.0.1:9", defaultModel: "claude-test", fallbacks: [{ provider: "gpt" }] }
    }),
    config: { chatProvider: "claude", toolsDefault: "disabled", upstreamRetries: 0, upstreamTimeout: 300, providerCooldownFailures: 2, providerCooldown: 400, logLevel: "info" }
  })
})
afterAll(async () => {
  stdout.stop()
  await gateway.close()
  await upstream.close()
})
beforeEach(() => {
  upstream.requests.length = 0
})

const openai = () => new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0 })
const overloaded = { status: 529, body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } }
const logLine = (id: string) => stdout.lines(id).find((l) => l["msg"] === "request")

describe("fallbacks", () => {
  it("answers from the next Provider that can (another type: translated), and says which", async () => {
    upstream.script(overloaded, { answer: { text: ["From the fallback"] } })
    const { data, response } = await openai().chat.completions
      .create({ model: "primary/claude-test", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-request-id": "req-fb-1" } })
      .withResponse()
    expect(data.choices[0]!.message.content).toBe("From the fallback")
    // the client's model names the answer, whoever served it
    expect(data.model).toBe("primary/claude-test")
    expect(response.headers.get("x-orka-provider")).toBe("gpt")
    expect(upstream.requests.map((r) => r.url)).toEqual(["/v1/messages", "/v1/chat/completions"])
    expect(upstream.requests[1]!.body.model).toBe("gpt-fallback")
    await new Promise((r) => setTimeout(r, 20))
    expect(logLine("req-fb-1")).toMatchObject({ provider: "primary", served_by: "gpt/gpt-fallback", fallbacks: 2, status: 200 })
    const scrape = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(scrape).toMatch(/orka_fallbacks_total\{from="primary",to="gpt",reason="overloaded"\} 1/)
  })

  it("streams from the fallback in the client's format", async () => {
    upstream.script({ status: 500, body: { type: "error", error: { type: "api_error", message: "boom" } } }, { answer: { text: ["Stre", "amed"] } })
    const message = await new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: demoToken, maxRetries: 0 }).messages
      .stream({ model: "primary/claude-test", max_tokens: 50, messages: [{ role: "user", content: "hi" }] })
      .finalMessage()
    expect(message.content).toEqual([{ type: "text", text: "Streamed" }])
    expect(upstream.requests.map((r) => r.url)).toEqual(["/v1/messages", "/v1/chat/completions"])
  })

  it("falls back on the provider's own 429, a timeout and no connection", async () => {
    const ask = (model: string) => openai().chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }).withResponse()
    upstream.script({ status: 429, body: { type: "error", error: { type: "rate_limit_error", message: "slow down" } }, headers: { "retry-after": "0" } }, { answer: { text: ["after a 429"] } })
    expect((await ask("throttled/claude-test")).data.choices[0]!.message.content).toBe("after a 429")
    upstream.script({ hang: true }, { answer: { text: ["after a timeout"] } })
    const timedOut = await ask("hanging/claude-test")
    expect(timedOut.data.choices[0]!.message.content).toBe("after a timeout")
    expect(timedOut.response.headers.get("x-orka-provider")).toBe("gpt")
    upstream.script({ answer: { text: ["after no connection"] } })
    const unreachable = await ask("unreachable/claude-test")
    expect(unreachable.data.choices[0]!.message.content).toBe("after no connection")
    expect(unreachable.response.headers.get("x-orka-provider")).toBe("gpt")
  })

  it("does not fall back on the caller's own error", async () => {
    upstream.script({ status: 400, body: { type: "error", error: { type: "invalid_request_error", message: "bad field" } } })
    const error = await openai().chat.completions.create({ model: "primary/claude-test", messages: [{ role: "user", content: "hi" }] }).catch((e) => e)
    expect(error).toMatchObject({ status: 400 })
    expect(upstream.requests).toHaveLength(1)
  })
})

describe("cooldown", () => {
  it("skips a Provider after failures in a row, serves from its fallback meanwhile, then tries it once again", async () => {
    upstream.script(overloaded, { answer: { text: ["fallback 1"] } }, overloaded, { answer: { text: ["fallback 2"] } }, { answer: { text: ["fallback 3"] } })
    const ask = () => openai().chat.completions.create({ model: "cooling/claude-test", messages: [{ role: "user", content: "hi" }] })
    await ask()
    await ask()
    expect(upstream.requests.map((r) => r.url)).toEqual(["/v1/messages", "/v1/chat/completions", "/v1/messages", "/v1/chat/completions"])
    // two failures in a row: skipped, straight to the fallback
    expect((await ask()).choices[0]!.message.content).toBe("fallback 3")
    expect(upstream.requests.at(-1)!.url).toBe("/v1/chat/completions")
    expect(upstream.requests).toHaveLength(5)
    // once the cooldown is over, one request tries it again, and its success ends the cooldown
    await new Promise((r) => setTimeout(r, 450))
    upstream.script({ answer: { text: ["back"] } })
    expect((await ask()).choices[0]!.message.content).toBe("back")
    expect(upstream.requests.at(-1)!.url).toBe("/v1/messages")
  })

  it("a Provider cooling down whose fallbacks cannot even be tried is tried itself", async () => {
    upstream.script(overloaded, overloaded, { answer: { text: ["still here"] } })
    const ask = () => openai().chat.completions.create({ model: "stranded/claude-test", messages: [{ role: "user", content: "hi" }] }).catch((e) => e)
    await ask()
    await ask()
    expect((await ask()).choices[0]!.message.content).toBe("still here")
    expect(upstream.requests).toHaveLength(3)
  })

  it("a Provider cooling down whose fallback is over its limit is tried itself", async () => {
    // the three requests in one minute's window
    const left = 60_000 - (Date.now() % 60_000)
    if (left < 2000) await new Promise((r) => setTimeout(r, left + 20))
    upstream.script(overloaded, { answer: { text: ["from tight"] } }, overloaded, { answer: { text: ["back again"] } })
    const ask = () => openai().chat.completions.create({ model: "cooling-tight/claude-test", messages: [{ role: "user", content: "hi" }] }).catch((e) => e)
    expect((await ask()).choices[0]!.message.content).toBe("from tight")
    // tight's one request of the minute is spent: the 429 is the answer
    expect(await ask()).toMatchObject({ status: 429 })
    // two failures: cooling down, and its fallback is over its limit: it is tried all the same
    expect((await ask()).choices[0]!.message.content).toBe("back again")
    expect(upstream.requests).toHaveLength(4)
  })

  it("without fallbacks, a failing Provider is still tried: nothing else could answer", async () => {
    upstream.script(overloaded)
    const ask = () => openai().chat.completions.create({ model: "alone/claude-test", messages: [{ role: "user", content: "hi" }] }).catch((e) => e)
    for (let i = 0; i < 3; i++) expect(await ask()).toMatchObject({ status: 503 })
    expect(upstream.requests).toHaveLength(3)
  })
})
