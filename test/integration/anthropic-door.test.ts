/**
 * The Anthropic front door end to end: the official `@anthropic-ai/sdk` (and a Claude Code-shaped
 * request) against the real server, in front of scripted Anthropic and OpenAI upstreams and the mock.
 */
import Anthropic from "@anthropic-ai/sdk"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, providerYaml, type RunningGateway, secretYaml, startGateway } from "../support/gateway.ts"
import { anthropicEvents, type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let client: Anthropic

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  gateway = await startGateway({
    manifests: {
      "all.yaml": [
        secretYaml("keys", { "api-key": "sk-upstream-secret" }),
        providerYaml("claude", { type: "anthropic", secretRef: { name: "keys" }, baseURL: upstream.url, defaultModel: "claude-test" }),
        providerYaml("gpt", { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test" }),
        providerYaml("azure", { type: "azure-openai", secretRef: { name: "keys" }, baseURL: upstream.url, azure: { apiVersion: "2024-10-21" } }),
        providerYaml("mock", { type: "mock", defaultModel: "mock-1" })
      ].join("\n---\n")
    },
    config: { chatProvider: "claude", toolsDefault: "disabled" }
  })
  client = new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: demoToken, maxRetries: 0 })
})
afterAll(async () => {
  await gateway.close()
  await upstream.close()
})
beforeEach(() => {
  upstream.requests.length = 0
})

/** A request as Claude Code sends it: system blocks with cache_control, many tools, betas. */
const claudeCodeRequest = {
  model: "claude/claude-sonnet-4-5",
  max_tokens: 32000,
  stream: true,
  system: [
    { type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: { type: "ephemeral" } },
    { type: "text", text: "Working directory: /repo", cache_control: { type: "ephemeral" } }
  ],
  messages: [{ role: "user", content: [{ type: "text", text: "list files", cache_control: { type: "ephemeral" } }] }],
  tools: Array.from({ length: 12 }, (_, i) => ({
    name: `Tool${i}`,
    description: `tool number ${i}`,
    input_schema: { type: "object", properties: { path: { type: "string" } }, required: ["path"], additionalProperties: false, $schema: "http://json-schema.org/draft-07/schema#" }
  })),
  metadata: { user_id: "user_abc_account_def_session_ghi" },
  thinking: { type: "enabled", budget_tokens: 1024 },
  temperature: 1
}

describe("Anthropic client → Anthropic provider (pass-through)", () => {
  it("passes a Claude Code-shaped request through untouched but for model, with its headers, and relays the bytes but for the model id", async () => {
    const sse = anthropicEvents({ text: ["Here ", "they are"], toolCalls: [{ id: "toolu_9", name: "Tool1", fragments: ["{\"path\":", "\".\"}"] }] })
    upstream.script({ sse })
    const res = await fetch(`${gateway.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": demoToken,
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
        "content-type": "application/json"
      },
      body: JSON.stringify(claudeCodeRequest)
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    // message_start names the model the client asked for (Claude Code compares it with its own)
    expect(await res.text()).toBe(sse.replace(`"model":"claude-test"`, `"model":${JSON.stringify(claudeCodeRequest.model)}`))
    const sent = upstream.requests[0]!
    expect(sent.url).toBe("/v1/messages")
    expect(sent.body).toEqual({ ...claudeCodeRequest, model: "claude-sonnet-4-5" })
    expect(sent.headers["anthropic-beta"]).toBe("claude-code-20250219,interleaved-thinking-2025-05-14")
    expect(sent.headers["anthropic-version"]).toBe("2023-06-01")
    expect(sent.headers["x-api-key"]).toBe("sk-upstream-secret")
  })

  it("streams to the SDK, finalMessage() included, and returns non-streamed messages as sent", async () => {
    upstream.script({ answer: { text: ["Hello", " there"], inputTokens: 9, outputTokens: 2 } })
    const stream = client.messages.stream({ model: "claude-test", max_tokens: 100, messages: [{ role: "user", content: "hi" }] })
    const final = await stream.finalMessage()
    expect(final.content).toEqual([{ type: "text", text: "Hello there", citations: undefined }].map(({ citations: _, ...b }) => b))
    expect(final.usage.output_tokens).toBe(2)

    upstream.script({ answer: { text: ["plain"], id: "msg_upstream" } })
    const message = await client.messages.create({ model: "claude/claude-test", max_tokens: 10, messages: [{ role: "user", content: "hi" }] })
    expect(message.id).toBe("msg_upstream")
    expect(message.model).toBe("claude/claude-test")
    expect(message.content).toEqual([{ type: "text", text: "plain" }])
  })

  it("forwards count_tokens", async () => {
    upstream.script({ status: 200, body: { input_tokens: 1234 } })
    const counted = await client.messages.countTokens({ model: "claude/claude-test", messages: [{ role: "user", content: "hi" }] })
    expect(counted.input_tokens).toBe(1234)
    expect(upstream.requests[0]!.url).toBe("/v1/messages/count_tokens")
  })

  it("an upstream error event mid-stream makes the SDK throw", async () => {
    upstream.script({ answer: { text: ["partial"] }, failAfter: 4 })
    const stream = client.messages.stream({ model: "claude/x", max_tokens: 10, messages: [{ role: "user", content: "hi" }] })
    await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/)
  })
})

describe("Anthropic client → OpenAI provider (translation)", () => {
  it("translates tools, tool results and images both ways, streaming included", async () => {
    upstream.script({ answer: { text: ["Calling."], toolCalls: [{ id: "call_1", name: "weather", fragments: ["{\"city\":", "\"Oslo\"}"] }], inputTokens: 30, outputTokens: 8 } })
    const stream = client.messages.stream({
      model: "gpt/gpt-test",
      max_tokens: 200,
      system: "Be helpful.",
      tools: [{ name: "weather", description: "Weather by city", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
      tool_choice: { type: "any" },
      messages: [
        { role: "user", content: [{ type: "text", text: "Weather?" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } }] },
        { role: "assistant", content: [{ type: "tool_use", id: "call_0", name: "weather", input: { city: "Rome" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "call_0", content: "sunny" }, { type: "text", text: "And Oslo?" }] }
      ]
    })
    const final = await stream.finalMessage()
    expect(final.stop_reason).toBe("tool_use")
    expect(final.content).toEqual([
      { type: "text", text: "Calling." },
      { type: "tool_use", id: "call_1", name: "weather", input: { city: "Oslo" } }
    ])
    expect(final.usage).toMatchObject({ input_tokens: 30, output_tokens: 8 })

    const sent = upstream.requests[0]!.body
    expect(sent).toMatchObject({ model: "gpt-test", max_tokens: 200, tool_choice: "required", stream: true })
    expect(sent.messages).toEqual([
      { role: "system", content: "Be helpful." },
      { role: "user", content: [{ type: "text", text: "Weather?" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] },
      { role: "assistant", content: null, tool_calls: [{ id: "call_0", type: "function", function: { name: "weather", arguments: "{\"city\":\"Rome\"}" } }] },
      { role: "tool", tool_call_id: "call_0", content: "sunny" },
      { role: "user", content: "And Oslo?" }
    ])
  })

  it("reaches Azure OpenAI deployments the same way", async () => {
    upstream.script({ answer: { text: ["from ", "azure"], inputTokens: 4, outputTokens: 2 } })
    const final = await client.messages.stream({ model: "azure/gpt-4o-deploy", max_tokens: 20, messages: [{ role: "user", content: "hi" }] }).finalMessage()
    expect(final.content).toEqual([{ type: "text", text: "from azure" }])
    expect(final.usage).toMatchObject({ input_tokens: 4, output_tokens: 2 })
    expect(upstream.requests[0]!.url).toBe("/openai/deployments/gpt-4o-deploy/chat/completions?api-version=2024-10-21")
    expect(upstream.requests[0]!.body.stream_options).toEqual({ include_usage: true })
  })

  it("drops what the provider cannot take (thinking, server tools) with a note, not a 500; estimates count_tokens", async () => {
    upstream.script({ answer: { text: ["fine"] } })
    const message = await client.messages.create({
      model: "gpt/gpt-test",
      max_tokens: 50,
      thinking: { type: "enabled", budget_tokens: 1024 },
      tools: [{ type: "web_search_20250305", name: "web_search" }],
      messages: [{ role: "user", content: "hi" }]
    })
    expect(message.content).toEqual([{ type: "text", text: "fine" }])
    expect(message.stop_reason).toBe("end_turn")

    const res = await fetch(`${gateway.url}/anthropic/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "x-api-key": demoToken, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt/gpt-test", messages: [{ role: "user", content: "a".repeat(400) }] })
    })
    expect(res.headers.get("x-orka-token-count")).toBe("estimate")
    const body = (await res.json()) as { input_tokens: number; estimated: boolean }
    expect(body.estimated).toBe(true)
    expect(body.input_tokens).toBeGreaterThan(90)
  })
})

describe("Anthropic client → mock provider, errors and models", () => {
  it("answers from the mock, tool calls included", async () => {
    const message = await client.messages.create({
      model: "mock/mock-1",
      max_tokens: 50,
      tools: [{ name: "lookup", input_schema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } }],
      messages: [{ role: "user", content: "call_tool lookup: find it" }]
    })
    expect(message.content).toEqual([{ type: "tool_use", id: expect.any(String), name: "lookup", input: { q: "find it" } }])
  })

  it("errors arrive in Anthropic's envelope with its types", async () => {
    const anonymous = new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: "wrong", maxRetries: 0 })
    await expect(anonymous.messages.create({ model: "mock/x", max_tokens: 5, messages: [{ role: "user", content: "x" }] }))
      .rejects.toBeInstanceOf(Anthropic.AuthenticationError)
    await expect(client.messages.create({ model: "nope/x", max_tokens: 5, messages: [{ role: "user", content: "x" }] }))
      .rejects.toBeInstanceOf(Anthropic.NotFoundError)
    const res = await fetch(`${gateway.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": demoToken, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock/x", messages: [{ role: "user", content: "x" }] })
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ type: "error", error: { type: "invalid_request_error", message: "max_tokens: Field required" } })
    upstream.script({ status: 529, body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, headers: { "retry-after": "60" } })
    await expect(client.messages.create({ model: "gpt/x", max_tokens: 5, messages: [{ role: "user", content: "x" }] }))
      .rejects.toMatchObject({ status: 529 })
    const unknown = await fetch(`${gateway.url}/anthropic/v1/batches`, { headers: { "x-api-key": demoToken } })
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { type: string }).type).toBe("error")
  })

  it("lists models in Anthropic's shape", async () => {
    const page = await client.models.list()
    expect(page.data.map((m) => m.id)).toEqual(["claude/claude-test", "gpt/gpt-test", "mock/mock-1", "claude-test"])
    expect(page.data[0]).toMatchObject({ type: "model", display_name: "claude/claude-test" })
    const raw = (await (await fetch(`${gateway.url}/anthropic/v1/models`, { headers: { "x-api-key": demoToken } })).json()) as Record<string, unknown>
    expect(raw).toMatchObject({ has_more: false, first_id: "claude/claude-test", last_id: "claude-test" })
  })
})
