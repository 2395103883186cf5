/**
 * What `/metrics` and the access log say of chat requests, through the real server: the GenAI
 * latency and usage histograms by provider and model, the per-caller counters with their cap, the
 * upstream attempts and retries, in-flight gauges; for translated and relayed answers, whole and
 * streamed, and for a stream the client abandons.
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { captureStdout, demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { parseExposition } from "../support/prometheus.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let stdout: ReturnType<typeof captureStdout>

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  stdout = captureStdout()
  gateway = await startGateway({
    manifests: scriptedProviders(upstream.url),
    config: { chatProvider: "claude", toolsDefault: "disabled", upstreamRetries: 1, retryMaxWait: 1_000, logLevel: "info", metricsMaxCallers: 1 },
    otherTokens: { "token-of-bob": "system:serviceaccount:team-b:bob" }
  })
})
afterAll(async () => {
  stdout.stop()
  await gateway.close()
  await upstream.close()
})

/** The samples of `name` in a scrape of /metrics whose labels include all of `labels`. */
const series = async (name: string, labels: Record<string, string> = {}) =>
  parseExposition(await (await fetch(`${gateway.url}/metrics`)).text()).samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
const total = async (name: string, labels: Record<string, string> = {}) => (await series(name, labels)).reduce((sum, s) => sum + s.value, 0)

const logLine = (id: string) => stdout.lines(id).find((l) => l["msg"] === "request")

const openai = (apiKey = demoToken) => new OpenAI({ baseURL: gateway.openaiURL, apiKey, maxRetries: 0 })

describe("GenAI metrics and the access log", () => {
  it("a translated stream: duration, time to first token, per-token time, usage, the caller, and the log line", async () => {
    upstream.script({ answer: { text: ["One", " two", " three"], inputTokens: 40, outputTokens: 3, model: "claude-test-20260101" }, chunkDelayMs: 5 })
    const id = "req-stream-1"
    const stream = await openai().chat.completions.create({ model: "claude/claude-test", stream: true, messages: [{ role: "user", content: "count" }] }, { headers: { "x-request-id": id } })
    for await (const _ of stream) { /* read to the end */ }
    await new Promise((r) => setTimeout(r, 30))
    const labels = { gen_ai_operation_name: "chat", gen_ai_provider_name: "anthropic", gen_ai_request_model: "claude-test", gen_ai_response_model: "claude-test-20260101", orka_provider: "claude", orka_dialect: "openai" }
    expect(await total("gen_ai_server_request_duration_seconds_count", labels)).toBe(1)
    expect(await total("gen_ai_server_time_to_first_token_seconds_count", labels)).toBe(1)
    expect(await total("gen_ai_server_time_per_output_token_seconds_count", labels)).toBe(1)
    expect(await total("gen_ai_client_token_usage_sum", { ...labels, gen_ai_token_type: "input" })).toBe(40)
    expect(await total("gen_ai_client_token_usage_sum", { ...labels, gen_ai_token_type: "output" })).toBe(3)
    expect(await total("orka_caller_tokens_total", { namespace: "-", serviceaccount: "alice", gen_ai_token_type: "input" })).toBe(40)
    expect(logLine(id)).toMatchObject({ identity: "alice", operation: "chat", dialect: "openai", input_tokens: 40, output_tokens: 3, attempts: 1, response_model: "claude-test-20260101" })
    expect(typeof logLine(id)!["ttft_ms"]).toBe("number")
  })

  it("a relayed stream: usage and first token read from the provider's own bytes", async () => {
    upstream.script({ answer: { text: ["Hi"], inputTokens: 12, outputTokens: 7 } })
    const anthropic = new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: demoToken, maxRetries: 0 })
    await anthropic.messages.stream({ model: "claude/claude-test", max_tokens: 20, messages: [{ role: "user", content: "hi" }] }, { headers: { "x-request-id": "req-relay-1" } }).finalMessage()
    await new Promise((r) => setTimeout(r, 30))
    expect(logLine("req-relay-1")).toMatchObject({ operation: "messages", input_tokens: 12, output_tokens: 7, response_model: "claude-test" })
    expect(typeof logLine("req-relay-1")!["ttft_ms"]).toBe("number")
    expect(await total("gen_ai_client_token_usage_sum", { gen_ai_operation_name: "messages", gen_ai_token_type: "output" })).toBeGreaterThanOrEqual(7)
  })

  it("counts attempts and retries by status and reason, and a failure's error type", async () => {
    upstream.script({ status: 429, body: { error: { message: "slow down" } } }, { answer: { text: ["after a retry"] } })
    await openai().chat.completions.create({ model: "gpt/gpt-test", messages: [{ role: "user", content: "x" }] }, { headers: { "x-request-id": "req-retry-1" } })
    expect(await total("orka_upstream_attempts_total", { orka_provider: "gpt", status: "429" })).toBe(1)
    expect(await total("orka_upstream_attempts_total", { orka_provider: "gpt", status: "200" })).toBeGreaterThanOrEqual(1)
    expect(await total("orka_upstream_retries_total", { orka_provider: "gpt", reason: "rate_limit" })).toBe(1)
    // a whole answer passed through: its usage and model read from its own bytes
    expect(logLine("req-retry-1")).toMatchObject({ attempts: 2, input_tokens: 10, output_tokens: 5, response_model: "gpt-test" })

    upstream.script({ status: 401, body: { error: { message: "bad key" } } })
    await openai().chat.completions.create({ model: "gpt/gpt-test", messages: [{ role: "user", content: "x" }] }).catch(() => undefined)
    expect(await total("orka_upstream_attempts_total", { orka_provider: "gpt", status: "401" })).toBe(1)
    expect(await total("gen_ai_server_request_duration_seconds_count", { orka_provider: "gpt", error_type: "upstream" })).toBeGreaterThanOrEqual(1)
  })

  it("names a model the Provider does not list `other`, and callers past the cap `other`", async () => {
    upstream.script({ status: 404, body: { error: { message: "no such model" } } })
    await openai().chat.completions.create({ model: "gpt/secret-looking-model-xyz", messages: [{ role: "user", content: "x" }] }).catch(() => undefined)
    const scrape = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(scrape).not.toContain("secret-looking-model-xyz")
    expect(await total("gen_ai_server_request_duration_seconds_count", { orka_provider: "gpt", gen_ai_request_model: "other" })).toBe(1)

    upstream.script({ answer: { text: ["hi bob"], inputTokens: 5, outputTokens: 2 } })
    await openai("token-of-bob").chat.completions.create({ model: "claude/claude-test", messages: [{ role: "user", content: "x" }] })
    expect(await total("orka_caller_requests_total", { namespace: "other", serviceaccount: "other" })).toBe(1)
    expect(await series("orka_caller_requests_total", { serviceaccount: "bob" })).toEqual([])
  })

  it("counts a stream the client abandons, with whatever usage arrived", async () => {
    upstream.script({ answer: { text: Array.from({ length: 50 }, (_, i) => `w${i} `), inputTokens: 33, outputTokens: 50 }, chunkDelayMs: 20 })
    const before = await total("gen_ai_server_request_duration_seconds_count", { error_type: "client_closed" })
    const controller = new AbortController()
    // an Anthropic provider says the input count first (message_start): that much arrives
    const res = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      signal: controller.signal,
      headers: { authorization: `Bearer ${demoToken}`, "content-type": "application/json", "x-request-id": "req-abandon-1" },
      body: JSON.stringify({ model: "claude/claude-test", stream: true, messages: [{ role: "user", content: "long" }] })
    })
    const reader = res.body!.getReader()
    await reader.read()
    await reader.read()
    controller.abort()
    const deadline = Date.now() + 3_000
    while ((await total("gen_ai_server_request_duration_seconds_count", { error_type: "client_closed" })) === before) {
      if (Date.now() > deadline) throw new Error("the abandoned stream was not counted")
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(logLine("req-abandon-1")).toMatchObject({ outcome: "client_closed", operation: "chat", provider: "claude", input_tokens: 33 })
    expect(await total("orka_caller_requests_total", { serviceaccount: "alice", outcome: "client_closed" })).toBe(1)
  })

  it("gauges requests and streams in flight, back to zero once they end", async () => {
    expect(await total("orka_requests_in_flight", { orka_dialect: "openai" })).toBe(0)
    expect(await total("orka_streams_in_flight", { orka_dialect: "openai" })).toBe(0)
  })
})
