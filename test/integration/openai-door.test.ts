/**
 * The OpenAI front door end to end: the official `openai` SDK against the real server on a loopback
 * port, in local mode, in front of scripted Anthropic, OpenAI and Azure upstreams.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, providerYaml, type RunningGateway, secretYaml, startGateway } from "../support/gateway.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

// Every test runs against the manifests loader and against the in-memory fake KubeClient.
describe.each(["manifests", "fake"] as const)("with Providers from %s", (kube) => {
let upstream: ScriptedUpstream
let gateway: RunningGateway
let client: OpenAI

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  gateway = await startGateway({
    manifests: {
      "keys.yaml": secretYaml("keys", { "api-key": "sk-upstream-secret" }),
      "providers.yaml": [
        providerYaml("claude", { type: "anthropic", secretRef: { name: "keys" }, baseURL: upstream.url, defaultModel: "claude-test" }),
        providerYaml("gpt", { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test", models: ["gpt-extra"] }),
        providerYaml("azure", { type: "azure-openai", secretRef: { name: "keys" }, baseURL: upstream.url, azure: { deploymentName: "dep-default" } }),
        providerYaml("mock", { type: "mock", defaultModel: "mock-1" })
      ].join("\n---\n")
    },
    config: { chatProvider: "claude", retryMaxWait: 1_000, toolsDefault: "disabled" },
    kube
  })
  client = new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0 })
})
afterAll(async () => {
  await gateway.close()
  await upstream.close()
})
beforeEach(() => {
  upstream.requests.length = 0
})

const user = (content: string) => ({ role: "user" as const, content })

describe("OpenAI client → Anthropic provider", () => {
  it("translates the request and the answer", async () => {
    upstream.script({ answer: { text: ["Hi ", "there"], inputTokens: 12, outputTokens: 3 } })
    const res = await client.chat.completions.create({
      model: "claude/claude-test",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "developer", content: "Answer in English." },
        { role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup", arguments: "{\"q\":\"x\"}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "result one" },
        { role: "user", content: "and then?" }
      ],
      tools: [{ type: "function", function: { name: "lookup", description: "Looks up", parameters: { type: "object", properties: { q: { type: "string" } } } } }],
      tool_choice: "required",
      temperature: 0,
      top_p: 0.5,
      stop: "END",
      user: "user-42"
    })
    expect(res.choices[0]!.message.content).toBe("Hi there")
    expect(res.choices[0]!.finish_reason).toBe("stop")
    expect(res.usage).toEqual({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 })
    expect(res.model).toBe("claude/claude-test")

    const sent = upstream.requests[0]!
    expect(sent.url).toBe("/v1/messages")
    expect(sent.headers["x-api-key"]).toBe("sk-upstream-secret")
    expect(sent.headers["anthropic-version"]).toBe("2023-06-01")
    expect(sent.body).toMatchObject({
      model: "claude-test",
      max_tokens: 4096,
      temperature: 0,
      top_p: 0.5,
      stop_sequences: ["END"],
      metadata: { user_id: "user-42" },
      tool_choice: { type: "any" },
      tools: [{ name: "lookup", description: "Looks up", input_schema: { type: "object", properties: { q: { type: "string" } } } }]
    })
    expect(sent.body.system).toEqual([{ type: "text", text: "Be brief." }, { type: "text", text: "Answer in English." }])
    expect(sent.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }] },
      { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "lookup", input: { q: "x" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: [{ type: "text", text: "result one" }] }, { type: "text", text: "and then?" }] }
    ])
  })

  it("streams text and parallel tool calls with stable indexes, one finish, the usage chunk, [DONE]", async () => {
    upstream.script({
      answer: {
        text: ["Let me ", "check."],
        toolCalls: [
          { id: "toolu_1", name: "weather", fragments: ["{\"city\":", " \"Paris\"}"] },
          { id: "toolu_2", name: "weather", fragments: ["{\"city\": \"Rome\"}"] }
        ],
        inputTokens: 20,
        outputTokens: 9
      },
      splitBytes: 7 // events split across reads
    })
    const stream = await client.chat.completions.create({
      model: "claude-test", // bare: the --chat-provider
      stream: true,
      stream_options: { include_usage: true },
      messages: [user("weather in Paris and Rome?")],
      tools: [{ type: "function", function: { name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }]
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant")
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")
    expect(text).toBe("Let me check.")
    const calls = new Map<number, { id?: string; name?: string; args: string }>()
    for (const c of chunks) {
      for (const t of c.choices[0]?.delta.tool_calls ?? []) {
        const call = calls.get(t.index) ?? { args: "" }
        if (t.id) call.id = t.id
        if (t.function?.name) call.name = t.function.name
        call.args += t.function?.arguments ?? ""
        calls.set(t.index, call)
      }
    }
    expect([...calls.entries()]).toEqual([
      [0, { id: "toolu_1", name: "weather", args: "{\"city\": \"Paris\"}" }],
      [1, { id: "toolu_2", name: "weather", args: "{\"city\": \"Rome\"}" }]
    ])
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0]!.finish_reason)).toEqual(["tool_calls"])
    expect(chunks.at(-1)!.choices).toEqual([])
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 })
  })

  it("an upstream error event mid-stream reaches the client as an error, never a clean finish", async () => {
    upstream.script({ answer: { text: ["partial"] }, failAfter: 4 })
    const stream = await client.chat.completions.create({ model: "claude/x", stream: true, messages: [user("hi")] })
    const seen: Array<string> = []
    await expect((async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.finish_reason ?? chunk.choices[0]?.delta.content ?? "")
    })()).rejects.toThrow(/Overloaded/)
    expect(seen).toContain("partial")
    expect(seen).not.toContain("stop")
  })

  it("retries 529 and 500 before anything was sent, honoring retry-after", async () => {
    upstream.script(
      { status: 529, body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, headers: { "retry-after": "0" } },
      { status: 500, body: { type: "error", error: { type: "api_error", message: "boom" } } },
      { answer: { text: ["ok"] } }
    )
    const res = await client.chat.completions.create({ model: "claude/x", messages: [user("hi")] })
    expect(res.choices[0]!.message.content).toBe("ok")
    expect(upstream.requests).toHaveLength(3)
  })

  it("maps upstream failures: 429 with retry-after, a rejected key as 502 without the key, 400 not retried", async () => {
    upstream.script({ status: 429, body: { type: "error", error: { type: "rate_limit_error", message: "slow down" } }, headers: { "retry-after": "30" } })
    const limited = await client.chat.completions.create({ model: "claude/x", messages: [user("hi")] }).catch((e: unknown) => e)
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError)
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after")).toBe("30")
    expect(upstream.requests).toHaveLength(1) // the wait asked for is longer than --retry-max-wait

    upstream.script({ status: 401, body: { type: "error", error: { type: "authentication_error", message: "invalid x-api-key sk-upstream-secret" } } })
    const rejected = await client.chat.completions.create({ model: "claude/x", messages: [user("hi")] }).catch((e: unknown) => e) as InstanceType<typeof OpenAI.APIError>
    expect(rejected.status).toBe(502)
    expect(JSON.stringify(rejected.error)).not.toContain("sk-upstream-secret")

    upstream.requests.length = 0
    upstream.script({ status: 400, body: { type: "error", error: { type: "invalid_request_error", message: "messages: bad" } } })
    const bad = await client.chat.completions.create({ model: "claude/x", messages: [user("hi")] }).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError)
    expect((bad as Error).message).toContain("messages: bad")
    expect(upstream.requests).toHaveLength(1)
  })

  it("a client that disconnects cancels the upstream request", async () => {
    upstream.script({ answer: { text: Array.from({ length: 50 }, (_, i) => `w${i} `) }, chunkDelayMs: 40 })
    const controller = new AbortController()
    const stream = await client.chat.completions.create({ model: "claude/x", stream: true, messages: [user("long")] }, { signal: controller.signal })
    const before = upstream.aborted()
    // the SDK ends the iteration quietly once aborted
    await (async () => {
      for await (const _ of stream) controller.abort()
    })().catch(() => undefined)
    const deadline = Date.now() + 3_000
    while (upstream.aborted() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(upstream.aborted()).toBe(before + 1)
  })
})

describe("OpenAI client → OpenAI-compatible and Azure providers (pass-through)", () => {
  it("forwards the body with only the model rewritten and returns the provider's answer but for the model id asked for", async () => {
    upstream.script({ answer: { text: ["pong"], id: "chatcmpl-upstream" } })
    const res = await client.chat.completions.create({
      model: "gpt/ft:gpt-4o:org/x",
      messages: [user("ping")],
      response_format: { type: "json_object" },
      seed: 7,
      temperature: 0
    })
    expect(res.id).toBe("chatcmpl-upstream")
    expect(res.model).toBe("gpt/ft:gpt-4o:org/x") // the id the client asked for, not the provider's "gpt-test"
    const sent = upstream.requests[0]!
    expect(sent.url).toBe("/v1/chat/completions")
    expect(sent.headers["authorization"]).toBe("Bearer sk-upstream-secret")
    expect(sent.body).toEqual({ model: "ft:gpt-4o:org/x", messages: [{ role: "user", content: "ping" }], response_format: { type: "json_object" }, seed: 7, temperature: 0 })
  })

  it("relays the provider's SSE bytes unchanged but for each chunk's model, the id the client asked for", async () => {
    upstream.script({ answer: { text: ["a", "b"] } })
    const res = await fetch(`${gateway.openaiURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${demoToken}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt/gpt-test", stream: true, stream_options: { include_usage: true }, messages: [user("x")] })
    })
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    const { openaiChunks } = await import("../support/scripted-upstream.ts")
    expect(await res.text()).toBe(openaiChunks({ text: ["a", "b"] }, true).replaceAll(`"model":"gpt-test"`, `"model":"gpt/gpt-test"`))
  })

  it("calls Azure's deployment URL with api-key, the deployment taken from the model or the spec", async () => {
    upstream.script({ answer: { text: ["hi"] } })
    await client.chat.completions.create({ model: "azure/my-deployment", messages: [user("x")] })
    await client.chat.completions.create({ model: "azure/", messages: [user("x")] })
    expect(upstream.requests.map((r) => r.url)).toEqual([
      "/openai/deployments/my-deployment/chat/completions?api-version=2024-02-15-preview",
      "/openai/deployments/dep-default/chat/completions?api-version=2024-02-15-preview"
    ])
    expect(upstream.requests[0]!.headers["api-key"]).toBe("sk-upstream-secret")
    expect(upstream.requests[0]!.headers["authorization"]).toBeUndefined()
  })
})

describe("errors and auth at the door", () => {
  it("401 without a valid token, in the OpenAI envelope", async () => {
    const anonymous = new OpenAI({ baseURL: gateway.openaiURL, apiKey: "wrong", maxRetries: 0 })
    const e = await anonymous.chat.completions.create({ model: "mock/x", messages: [user("x")] }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError)
    const raw = await fetch(`${gateway.openaiURL}/models`, { headers: { "x-api-key": demoToken } })
    expect(raw.status).toBe(200)
  })

  it("404 model_not_found for an unknown provider; 400 for bad JSON and bad fields; 413 for a huge body", async () => {
    const missing = await client.chat.completions.create({ model: "nope/x", messages: [user("x")] }).catch((x: unknown) => x) as InstanceType<typeof OpenAI.APIError>
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
    expect(missing.code).toBe("model_not_found")

    const post = (body: string) => fetch(`${gateway.openaiURL}/chat/completions`, {
      method: "POST", headers: { authorization: `Bearer ${demoToken}`, "content-type": "application/json" }, body
    })
    const malformed = await post("{\"model\":")
    expect(malformed.status).toBe(400)
    expect(((await malformed.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error")
    const badRole = await post(JSON.stringify({ model: "mock/x", messages: [{ role: "robot", content: "x" }] }))
    expect(((await badRole.json()) as { error: { param: string } }).error.param).toBe("messages.0.role")
    const huge = await post(JSON.stringify({ model: "mock/x", messages: [user("x".repeat(21 * 1024 * 1024))] }))
    expect(huge.status).toBe(413)
  })

  it("answers routes it does not serve with a JSON 404, naming the new place of old /v1 paths", async () => {
    const embeddings = await fetch(`${gateway.openaiURL}/embeddings`, { method: "POST", headers: { authorization: `Bearer ${demoToken}` }, body: "{}" })
    expect(embeddings.status).toBe(404)
    expect(((await embeddings.json()) as { error: { type: string; message: string } }).error).toMatchObject({
      type: "not_found_error",
      message: expect.stringContaining("/openai/v1/responses")
    })
    const old = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", body: "{}" })
    expect(old.status).toBe(404)
    expect(((await old.json()) as { error: { message: string } }).error.message).toContain("/openai/v1/chat/completions")
    const html = await fetch(`${gateway.url}/`)
    expect(html.headers.get("content-type")).toContain("application/json")
  })

  it("lists models in the OpenAI shape", async () => {
    const ids = []
    for await (const m of client.models.list()) ids.push([m.id, m.owned_by])
    expect(ids).toEqual([
      ["azure/dep-default", "azure"],
      ["claude/claude-test", "claude"],
      ["gpt/gpt-test", "gpt"],
      ["gpt/gpt-extra", "gpt"],
      ["mock/mock-1", "mock"],
      ["claude-test", "claude"]
    ])
    expect((await client.models.retrieve("gpt/gpt-extra")).owned_by).toBe("gpt")
  })

  it("serves a Provider added to the manifests within a second, with no restart", async () => {
    await gateway.apply("late.yaml", providerYaml("late", { type: "mock", defaultModel: "m" }))
    const deadline = Date.now() + 1_000
    let answer: string | null | undefined
    while (Date.now() < deadline && answer === undefined) {
      answer = await client.chat.completions.create({ model: "late/m", messages: [user("new")] })
        .then((r) => r.choices[0]!.message.content, () => undefined)
      if (answer === undefined) await new Promise((r) => setTimeout(r, 25))
    }
    expect(answer).toBe("Echo: new")
  })
})
})
