/**
 * What today's clients really send, through the real server: Claude Code's system turns inside
 * `messages`, fields, parts, tools and roles newer than this code, the model id they compare with
 * their own, the retry hints they obey. Request shapes are the ones captured from the clients
 * (docs/clients.md).
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { anthropicEvents, openaiChunks, type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  gateway = await startGateway({
    manifests: scriptedProviders(upstream.url, {
      capped: {
        type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-4o",
        maxOutputTokens: 16384, maxOutputTokensByModel: { "gpt-small": 4096 }
      }
    }),
    config: { chatProvider: "claude", toolsDefault: "disabled", upstreamRetries: 0 }
  })
})
afterAll(async () => {
  await gateway.close()
  await upstream.close()
})
beforeEach(() => {
  upstream.requests.length = 0
})

const post = (path: string, body: unknown, headers: Record<string, string> = {}) => gateway.post(path, body, { "anthropic-version": "2023-06-01", ...headers })

/** As Claude Code 2.1 sends it for a model it does not know: a system turn inside `messages`. */
const claudeCode = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  max_tokens: 32000,
  stream: true,
  system: [{ type: "text", text: "You are Claude Code.", cache_control: { type: "ephemeral" } }],
  messages: [
    { role: "user", content: [{ type: "text", text: "<system-reminder>context</system-reminder>" }, { type: "text", text: "say hi" }] },
    { role: "system", content: [{ type: "text", text: "Answer in one word." }] }
  ],
  tools: [{ name: "Bash", description: "Run a command", input_schema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] } }],
  metadata: { user_id: "{\"device_id\":\"d\",\"session_id\":\"s\"}" },
  thinking: { type: "adaptive", display: "omitted" },
  context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
  output_config: { effort: "medium" },
  ...extra
})

describe("system turns inside messages (the Anthropic door)", () => {
  it("reach an Anthropic provider untouched, tools off or on", async () => {
    for (const tools of ["disabled", "enabled"]) {
      upstream.requests.length = 0
      upstream.script({ answer: { text: ["Hi"] } })
      const res = await post("/anthropic/v1/messages", claudeCode("claude/claude-test"), { "x-orka-tools": tools })
      expect(res.status, tools).toBe(200)
      const sent = upstream.requests[0]!.body
      if (tools === "disabled") expect(sent).toEqual({ ...claudeCode("claude/claude-test"), model: "claude-test" })
      // through the loop, without the client's beta for them: folded into the system prompt
      else expect(sent.messages.map((m: { role: string }) => m.role)).toEqual(["user"])
      if (tools === "enabled") expect(JSON.stringify(sent.system)).toContain("Answer in one word.")
    }
  })

  it("keep their place through the loop when the client sent the mid-conversation-system beta", async () => {
    upstream.script({ answer: { text: ["Hi"] } })
    const res = await post("/anthropic/v1/messages", claudeCode("claude/claude-test"), {
      "x-orka-tools": "enabled",
      "anthropic-beta": "claude-code-20250219,mid-conversation-system-2026-04-07"
    })
    expect(res.status).toBe(200)
    expect(upstream.requests[0]!.body.messages.map((m: { role: string }) => m.role)).toEqual(["user", "system"])
  })

  it("become system messages at their place towards OpenAI, and the mock answers", async () => {
    upstream.script({ answer: { text: ["Hi"] } })
    const res = await post("/anthropic/v1/messages", claudeCode("gpt/gpt-test"))
    expect(res.status).toBe(200)
    expect(res.text).toContain("event: message_stop")
    expect(upstream.requests[0]!.body.messages.map((m: { role: string }) => m.role)).toEqual(["system", "user", "system"])
    expect(upstream.requests[0]!.body.messages[2]).toEqual({ role: "system", content: "Answer in one word." })
    const mock = await post("/anthropic/v1/messages", claudeCode("mock/mock-1", { stream: false }))
    expect(JSON.parse(mock.text).content[0].text).toContain("say hi")
  })
})

describe("pass-through validates only what the gateway uses", () => {
  it("OpenAI: unknown part types, freeform tools and new roles reach an OpenAI provider as sent, tools off or on", async () => {
    const body = {
      model: "gpt/gpt-test",
      messages: [{ role: "critic", content: "be harsh" }, { role: "user", content: [{ type: "input_video", video_url: "https://v" }, { type: "text", text: "hi" }] }],
      tools: [{ type: "custom", name: "apply_patch", description: "Apply a patch", format: { type: "grammar", syntax: "lark", definition: "start: /.+/" } }]
    }
    for (const tools of ["disabled", "enabled"]) {
      upstream.requests.length = 0
      upstream.script({ answer: { text: ["ok"] } })
      const res = await post("/openai/v1/chat/completions", body, { authorization: `Bearer ${demoToken}`, "x-orka-tools": tools })
      expect(res.status, res.text).toBe(200)
      expect(upstream.requests[0]!.body).toEqual({ ...body, model: "gpt-test" })
    }
    // towards another dialect they cannot be carried: a 400 naming the first
    const res = await post("/openai/v1/chat/completions", { ...body, model: "claude/claude-test" }, { authorization: `Bearer ${demoToken}` })
    expect(res.status).toBe(400)
    expect(JSON.parse(res.text).error.param).toBe("messages.0.role")
  })

  it("Anthropic: a request this code cannot decode reaches an Anthropic provider anyway, tools off or on", async () => {
    const body = { model: "claude/claude-test", max_tokens: 10, messages: [{ role: "critic", content: "x" }, { role: "user", content: [{ type: "video", source: {} }] }] }
    for (const tools of ["disabled", "enabled"]) {
      upstream.requests.length = 0
      upstream.script({ answer: { text: ["ok"] } })
      const res = await post("/anthropic/v1/messages", body, { "x-orka-tools": tools })
      expect(res.status, res.text).toBe(200)
      expect(upstream.requests[0]!.body).toEqual({ ...body, model: "claude-test" })
    }
    // without max_tokens the provider says so, not the gateway
    upstream.script({ status: 400, body: { type: "error", error: { type: "invalid_request_error", message: "max_tokens: Field required" } } })
    const res = await post("/anthropic/v1/messages", { model: "claude/claude-test", messages: [{ role: "user", content: "x" }] })
    expect(res.status).toBe(400)
    expect(JSON.parse(res.text).error.message).toBe("provider claude: max_tokens: Field required (upstream HTTP 400)")
  })
})

describe("every answer names the model the client asked for", () => {
  it("Anthropic pass-through: JSON and message_start, the rest byte for byte, split at any byte", async () => {
    upstream.script({ answer: { text: ["Hi"], model: "claude-test-20260101" } })
    const json = await post("/anthropic/v1/messages", { model: "claude/claude-test", max_tokens: 5, messages: [{ role: "user", content: "x" }] })
    expect(JSON.parse(json.text).model).toBe("claude/claude-test")
    const events = anthropicEvents({ text: ["Hel", "lo"], toolCalls: [{ id: "t1", name: "pick", fragments: [`{"model":"not-this-one"}`] }], model: "claude-test-20260101" })
    for (const splitBytes of [3, 64]) {
      upstream.script({ sse: events, splitBytes })
      const res = await post("/anthropic/v1/messages", { model: "claude/claude-test", max_tokens: 5, stream: true, messages: [{ role: "user", content: "x" }] })
      expect(res.text).toBe(events.replace(`"model":"claude-test-20260101"`, `"model":"claude/claude-test"`))
    }
    // a tool's own "model" argument is left alone
    upstream.script({ status: 200, body: { id: "m", type: "message", role: "assistant", content: [{ type: "tool_use", id: "t", name: "pick", input: { model: "x" } }], model: "claude-test", stop_reason: "tool_use", usage: { input_tokens: 1, output_tokens: 1 } } })
    const tool = JSON.parse((await post("/anthropic/v1/messages", { model: "claude-test", max_tokens: 5, messages: [{ role: "user", content: "x" }] })).text)
    expect(tool).toMatchObject({ model: "claude-test", content: [{ input: { model: "x" } }] })
  })

  it("OpenAI pass-through: the JSON answer and every chunk, through the SDK", async () => {
    const client = new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0 })
    upstream.script({ answer: { text: ["a", "b"], model: "gpt-test-2026-01-01" } })
    expect((await client.chat.completions.create({ model: "gpt/gpt-test", messages: [{ role: "user", content: "x" }] })).model).toBe("gpt/gpt-test")
    upstream.script({ sse: openaiChunks({ text: ["a", "b"], model: "gpt-test-2026-01-01" }, true), splitBytes: 5 })
    const stream = await client.chat.completions.create({ model: "gpt/gpt-test", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "x" }] })
    const models = new Set<string>()
    let text = ""
    for await (const chunk of stream) {
      models.add(chunk.model)
      text += chunk.choices[0]?.delta.content ?? ""
    }
    expect([...models]).toEqual(["gpt/gpt-test"])
    expect(text).toBe("ab")
  })
})

describe("output caps and usage", () => {
  it("a Provider's maxOutputTokens lowers Claude Code's max_tokens: 32000, translated or passed through, per model too", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    expect((await post("/anthropic/v1/messages", claudeCode("capped/gpt-4o", { stream: false }))).status).toBe(200)
    expect(upstream.requests[0]!.body.max_tokens).toBe(16384)
    upstream.requests.length = 0
    const headers = { authorization: `Bearer ${demoToken}` }
    await post("/openai/v1/chat/completions", { model: "capped/gpt-4o", max_completion_tokens: 32000, messages: [{ role: "user", content: "x" }] }, headers)
    await post("/openai/v1/chat/completions", { model: "capped/gpt-small", max_tokens: 8000, messages: [{ role: "user", content: "x" }] }, headers)
    await post("/openai/v1/chat/completions", { model: "capped/gpt-4o", max_tokens: 100, messages: [{ role: "user", content: "x" }] }, headers)
    expect(upstream.requests.map((r) => r.body.max_completion_tokens ?? r.body.max_tokens)).toEqual([16384, 4096, 100])
  })

  it("an Anthropic stream translated from OpenAI estimates the input in message_start and gives the real count in message_delta", async () => {
    upstream.script({ answer: { text: ["ok"], inputTokens: 321, outputTokens: 7 } })
    const res = await post("/anthropic/v1/messages", { model: "gpt/gpt-test", max_tokens: 50, stream: true, messages: [{ role: "user", content: "How many tokens is this question, roughly?" }] })
    const data = res.text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)))
    const start = data.find((d) => d.type === "message_start")
    expect(start.message.usage.input_tokens).toBeGreaterThan(0)
    expect(start.message.usage.input_tokens).not.toBe(321)
    expect(data.find((d) => d.type === "message_delta").usage).toMatchObject({ input_tokens: 321, output_tokens: 7 })
  })
})

describe("retry hints and probes", () => {
  it("x-should-retry says whether to try again: never for a bad token or request, always for overload", async () => {
    const anthropic = new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: "wrong-token", maxRetries: 0 })
    const bad = await anthropic.messages.create({ model: "claude-test", max_tokens: 5, messages: [{ role: "user", content: "x" }] }).catch((e: { headers: Headers }) => e)
    expect((bad as { headers: Headers }).headers.get("x-should-retry")).toBe("false")
    const invalid = await post("/openai/v1/chat/completions", { model: "" }, { authorization: `Bearer ${demoToken}` })
    expect(invalid.headers.get("x-should-retry")).toBe("false")
    expect((await post("/openai/v1/chat/completions", { model: "nope/x", messages: [] }, { authorization: `Bearer ${demoToken}` })).headers.get("x-should-retry")).toBe("false")
    upstream.script({ status: 529, body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } })
    const overloaded = await post("/anthropic/v1/messages", { model: "claude/claude-test", max_tokens: 5, messages: [{ role: "user", content: "x" }] })
    expect(overloaded.status).toBe(529)
    expect(overloaded.headers.get("x-should-retry")).toBe("true")
  })

  it("HEAD on the base URLs and on Claude Code's /api/hello (its connectivity probes) answers 200", async () => {
    for (const path of ["/anthropic", "/anthropic/", "/anthropic/api/hello", "/openai/v1", "/openai/v1/"]) {
      expect((await fetch(`${gateway.url}${path}`, { method: "HEAD" })).status, path).toBe(200)
    }
  })
})
