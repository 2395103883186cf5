/**
 * Limits through the real server and the official SDKs, one replica (memory counters): a Provider's
 * `spec.rateLimit` and the caller's ClientPolicies refused as 429s in each dialect's envelope, with
 * `retry-after` (which the SDKs' retries wait for) and the dialect's rate-limit headers, on answers
 * too; token reservations settled with the real usage; budgets that say when they reset; a
 * concurrency limit held by an open stream; fallbacks when a Provider is over its limit or not ready.
 * Windows are 2 s here (`--limits-window`) so the tests are quick.
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { captureStdout, demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

const windowMs = 2000
const bobToken = "bob-token-1"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let stdout: ReturnType<typeof captureStdout>

const policyYaml = (name: string, spec: Record<string, unknown>) =>
  JSON.stringify({ apiVersion: "gateway.orka.ai/v1alpha1", kind: "ClientPolicy", metadata: { name }, spec })

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  stdout = captureStdout()
  const anthropic = (extra: Record<string, unknown>) => ({ type: "anthropic", secretRef: { name: "keys" }, baseURL: upstream.url, defaultModel: "claude-test", ...extra })
  gateway = await startGateway({
    manifests: {
      ...scriptedProviders(upstream.url, {
        metered: anthropic({ rateLimit: { requestsPerMinute: 2 } }),
        spoken: anthropic({ rateLimit: { requestsPerMinute: 1 } }),
        worded: anthropic({ rateLimit: { requestsPerMinute: 1 } }),
        voiced: anthropic({ rateLimit: { requestsPerMinute: 1 } }),
        counted: { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test", rateLimit: { tokensPerMinute: 50 } },
        busy: anthropic({ rateLimit: { requestsPerMinute: 1 }, fallbacks: [{ provider: "gpt", model: "gpt-spare" }] }),
        broken: { type: "anthropic", secretRef: { name: "no-such-secret" }, baseURL: upstream.url, defaultModel: "claude-test", fallbacks: [{ provider: "gpt" }] },
        slow: anthropic({}),
        looped: anthropic({ rateLimit: { tokensPerMinute: 100000 } })
      }),
      "policies.yaml": [
        policyYaml("alice-streams", { subjects: [{ user: "alice" }], providers: ["slow"], limits: { concurrentRequests: 1 } }),
        policyYaml("bob-budget", { subjects: [{ group: "team-b" }], providers: ["claude"], limits: { tokensPerDay: 20 } })
      ].join("\n---\n")
    },
    otherTokens: { [bobToken]: "bob" },
    config: { chatProvider: "claude", toolsDefault: "disabled", upstreamRetries: 0, limitsWindow: windowMs, logLevel: "info" }
  })
})
afterAll(async () => {
  stdout.stop()
  await gateway?.close()
  await upstream?.close()
})
beforeEach(() => {
  upstream.requests.length = 0
})

/** Waits for a fresh window when this one is nearly over, so a test's requests share one. */
const inOneWindow = async () => {
  const left = windowMs - (Date.now() % windowMs)
  if (left < 800) await new Promise((r) => setTimeout(r, left + 20))
}
/** Settlements run as a request ends, just after its answer: give them a moment. */
const settled = () => new Promise((r) => setTimeout(r, 30))

const openai = (maxRetries = 0) => new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries })
const anthropicSdk = (token = demoToken, maxRetries = 0) => new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: token, maxRetries })
const ask = (model: string, client = openai()) => client.chat.completions.create({ model, max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).withResponse()

describe("a Provider's requests per minute", () => {
  it("answers with the OpenAI rate-limit headers, then refuses past the limit with a 429 that says when to come back", async () => {
    await inOneWindow()
    upstream.script({ answer: { text: ["one"] } }, { answer: { text: ["two"] } })
    const first = await ask("metered/claude-test")
    expect(first.response.headers.get("x-ratelimit-limit-requests")).toBe("2")
    expect(first.response.headers.get("x-ratelimit-remaining-requests")).toBe("1")
    expect(first.response.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+ms|[1-2]s)$/)
    expect((await ask("metered/claude-test")).response.headers.get("x-ratelimit-remaining-requests")).toBe("0")

    const error = await ask("metered/claude-test").catch((e) => e)
    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    expect(error.error).toMatchObject({ code: "rate_limit_exceeded" })
    expect(error.message).toMatch(/Provider metered allows 2 requests per 2 s; try again in [1-2] s/)
    expect(Number(error.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    expect(error.headers.get("x-ratelimit-remaining-requests")).toBe("0")
    // refused before any provider was called
    expect(upstream.requests).toHaveLength(2)
    const scrape = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(scrape).toMatch(/orka_rate_limited_total\{orka_provider="metered",source="provider",limit="requests_per_minute"\} [1-9]/)
  })

  it("the SDKs' own retries wait for retry-after and then get their answer", async () => {
    await inOneWindow()
    upstream.script({ answer: { text: ["first"] } }, { answer: { text: ["after waiting"] } }, { answer: { text: ["anthropic first"] } }, { answer: { text: ["anthropic after waiting"] } })
    await ask("spoken/claude-test")
    const started = Date.now()
    const { data } = await ask("spoken/claude-test", openai(2))
    expect(data.choices[0]!.message.content).toBe("after waiting")
    expect(Date.now() - started).toBeGreaterThan(500)
    expect(upstream.requests).toHaveLength(2)

    await inOneWindow()
    const claude = anthropicSdk(demoToken, 2)
    await claude.messages.create({ model: "voiced/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
    const again = Date.now()
    const message = await claude.messages.create({ model: "voiced/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
    expect(message.content).toEqual([{ type: "text", text: "anthropic after waiting" }])
    expect(Date.now() - again).toBeGreaterThan(500)
  })

  it("refuses in the Anthropic envelope with Anthropic's rate-limit headers", async () => {
    await inOneWindow()
    upstream.script({ answer: { text: ["ok"] } })
    const claude = anthropicSdk()
    const { response } = await claude.messages.create({ model: "worded/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).withResponse()
    expect(response.headers.get("anthropic-ratelimit-requests-limit")).toBe("1")
    expect(response.headers.get("anthropic-ratelimit-requests-remaining")).toBe("0")
    const reset = Date.parse(response.headers.get("anthropic-ratelimit-requests-reset")!)
    expect(reset - Date.now()).toBeGreaterThan(0)
    expect(reset - Date.now()).toBeLessThanOrEqual(windowMs + 1000)
    const error = await claude.messages.create({ model: "worded/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).catch((e) => e)
    expect(error).toBeInstanceOf(Anthropic.RateLimitError)
    expect(error.error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } })
    expect(error.headers.get("anthropic-ratelimit-requests-remaining")).toBe("0")
    expect(error.headers.get("retry-after")).toMatch(/^[1-2]$/)
  })
})

describe("a Provider's tokens per minute", () => {
  it("reserves each request's estimate and settles it with the usage the provider reported", async () => {
    await inOneWindow()
    // 10 input + 5 output tokens, as the scripted upstream reports, then a larger one
    upstream.script({ answer: { text: ["a"] } }, { answer: { text: ["b"] } }, { answer: { text: ["c"], inputTokens: 30 } })
    const remaining = async () => Number((await ask("counted/gpt-test")).response.headers.get("x-ratelimit-remaining-tokens"))
    // while the first ran its estimate was reserved (more than the 15 it used)
    const first = await remaining()
    expect(first).toBeLessThan(50 - 15)
    await settled()
    // settled to its 15, and the same estimate reserved for this one
    expect(await remaining()).toBe(first - 15)
    await settled()
    await remaining()
    await settled()
    // 15 + 15 + 35 used: past the limit
    const error = await ask("counted/gpt-test").catch((e) => e)
    expect(error).toMatchObject({ status: 429 })
    expect(error.message).toMatch(/Provider counted allows 50 tokens per 2 s/)
    expect(error.headers.get("x-ratelimit-remaining-tokens")).toBe("0")
    expect(upstream.requests).toHaveLength(3)
  })
})

describe("a tool loop", () => {
  it("settles with the usage of all its model calls", async () => {
    await inOneWindow()
    const writes = { answer: { toolCalls: [{ id: "c1", name: "file_write", fragments: [JSON.stringify({ path: "a.txt", content: "x" })] }], inputTokens: 300, outputTokens: 20 } }
    const done = { answer: { text: ["written"], inputTokens: 400, outputTokens: 30 } }
    upstream.script(writes, done, writes, done)
    const loop = () =>
      openai().chat.completions
        .create({ model: "looped/claude-test", max_tokens: 50, messages: [{ role: "user", content: "write a file" }] }, { headers: { "x-orka-tools": "enabled" } })
        .withResponse()
    const first = await loop()
    expect(first.data.choices[0]!.message.content).toBe("written")
    await settled()
    const second = await loop()
    expect(upstream.requests).toHaveLength(4)
    // the first loop's two calls, 750 tokens, replaced its reservation; the second holds the same reservation
    expect(Number(second.response.headers.get("x-ratelimit-remaining-tokens"))).toBe(Number(first.response.headers.get("x-ratelimit-remaining-tokens")) - 750)
  })
})

describe("ClientPolicies", () => {
  it("a spent budget says so and when it resets, and the SDK does not retry it", async () => {
    upstream.script({ answer: { text: ["spent"], inputTokens: 15, outputTokens: 10 } })
    const claude = anthropicSdk(bobToken, 2)
    await claude.messages.create({ model: "claude/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
    await settled()
    const started = Date.now()
    const error = await claude.messages.create({ model: "claude/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).catch((e) => e)
    expect(error).toBeInstanceOf(Anthropic.RateLimitError)
    const midnight = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1)).toISOString()
    expect(error.message).toContain(`the token budget of ClientPolicy bob-budget (20 tokens a UTC day per caller) is spent; it resets at ${midnight}`)
    expect(error.headers.get("x-should-retry")).toBe("false")
    expect(error.headers.get("anthropic-ratelimit-tokens-remaining")).toBe("0")
    expect(error.headers.get("anthropic-ratelimit-tokens-reset")).toBe(midnight.replace(".000Z", "Z"))
    expect(Date.now() - started).toBeLessThan(1000)
    expect(upstream.requests).toHaveLength(1)
    // the policy covers bob and only on claude: alice is not limited by it
    upstream.script({ answer: { text: ["alice"] } })
    expect((await anthropicSdk().messages.create({ model: "claude/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })).content).toEqual([{ type: "text", text: "alice" }])
  })

  it("a concurrency limit holds while a stream is open and frees when it ends", async () => {
    upstream.script({ answer: { text: ["slow ", "stream ", "ends"] }, chunkDelayMs: 60 }, { answer: { text: ["next"] } })
    const claude = anthropicSdk()
    const open = claude.messages.stream({ model: "slow/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
    await new Promise<void>((resolve) => open.on("text", () => resolve()))
    const error = await claude.messages.create({ model: "slow/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).catch((e) => e)
    expect(error).toBeInstanceOf(Anthropic.RateLimitError)
    expect(error.message).toContain("ClientPolicy alice-streams allows 1 concurrent request per caller; try again when one has ended")
    expect((await open.finalMessage()).content).toEqual([{ type: "text", text: "slow stream ends" }])
    await settled()
    expect((await claude.messages.create({ model: "slow/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })).content).toEqual([{ type: "text", text: "next" }])
  })
})

describe("an abandoned stream", () => {
  it("frees its concurrency slot when the client goes away", async () => {
    upstream.script({ answer: { text: ["never ", "read ", "to ", "the ", "end"] }, chunkDelayMs: 100 }, { answer: { text: ["after"] } })
    const claude = anthropicSdk()
    const abandoned = claude.messages.stream({ model: "slow/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
    await new Promise<void>((resolve) => abandoned.on("text", () => resolve()))
    const gone = abandoned.done().catch((e) => e)
    abandoned.abort()
    expect(await gone).toBeInstanceOf(Anthropic.APIUserAbortError)
    await settled()
    await settled()
    expect((await claude.messages.create({ model: "slow/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })).content).toEqual([{ type: "text", text: "after" }])
  })
})

describe("fallbacks for limits and readiness", () => {
  it("a Provider over its own limit passes the request to its fallback", async () => {
    await inOneWindow()
    upstream.script({ answer: { text: ["busy answered"] } }, { answer: { text: ["the spare answered"] } })
    await ask("busy/claude-test")
    const { data, response } = await openai().chat.completions
      .create({ model: "busy/claude-test", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-request-id": "req-limit-fb" } })
      .withResponse()
    expect(data.choices[0]!.message.content).toBe("the spare answered")
    expect(response.headers.get("x-orka-provider")).toBe("gpt")
    expect(upstream.requests.at(-1)!.body.model).toBe("gpt-spare")
    await settled()
    expect(stdout.lines("req-limit-fb").find((l) => l["msg"] === "request")).toMatchObject({ provider: "busy", served_by: "gpt/gpt-spare", fallbacks: 1 })
    expect(await (await fetch(`${gateway.url}/metrics`)).text()).toMatch(/orka_fallbacks_total\{from="busy",to="gpt",reason="limit"\} 1/)
  })

  it("a Provider that is not ready is served by its fallbacks", async () => {
    upstream.script({ answer: { text: ["from gpt"] } })
    const { data, response } = await ask("broken/claude-test")
    expect(data.choices[0]!.message.content).toBe("from gpt")
    expect(response.headers.get("x-orka-provider")).toBe("gpt")
    // the fallback's own default model, not the broken Provider's
    expect(upstream.requests[0]!.body.model).toBe("gpt-test")
    expect(await (await fetch(`${gateway.url}/metrics`)).text()).toMatch(/orka_fallbacks_total\{from="broken",to="gpt",reason="not_ready"\} 1/)
  })

  it("a request no limit applies to carries no rate-limit headers", async () => {
    upstream.script({ answer: { text: ["free"] } })
    const { response } = await ask("gpt/gpt-test")
    expect([...response.headers.keys()].filter((h) => h.includes("ratelimit"))).toEqual([])
  })
})
