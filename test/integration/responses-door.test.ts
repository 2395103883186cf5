/**
 * The Responses API door end to end: the official `openai` SDK (`responses.create`,
 * `responses.stream`, `previous_response_id`, a function-call round trip, the stored responses)
 * against the real server, in front of scripted Anthropic, Chat Completions and Responses upstreams.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let client: OpenAI
let stranger: OpenAI

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  gateway = await startGateway({
    manifests: scriptedProviders(upstream.url, {
      // an OpenAI-compatible server that serves the Responses API too
      gptr: { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test", responsesAPI: true },
      azure: { type: "azure-openai", secretRef: { name: "keys" }, baseURL: upstream.url, azure: { deploymentName: "dep-default" } }
    }),
    config: { chatProvider: "claude", retryMaxWait: 1_000, toolsDefault: "disabled", upstreamRetries: 0 },
    otherTokens: { "token-of-bob": "bob" }
  })
  client = new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0 })
  stranger = new OpenAI({ baseURL: gateway.openaiURL, apiKey: "token-of-bob", maxRetries: 0 })
})
afterAll(async () => {
  await gateway.close()
  await upstream.close()
})
beforeEach(() => {
  upstream.requests.length = 0
})

const weather = { type: "function" as const, name: "get_weather", description: "Weather in a city", strict: false, parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }

describe("Responses client → Anthropic provider", () => {
  it("translates a whole answer: instructions, input, usage, and the model the client asked for", async () => {
    upstream.script({ answer: { text: ["Bonjour", " !"], inputTokens: 21, outputTokens: 4 } })
    const response = await client.responses.create({
      model: "claude/claude-test",
      instructions: "Answer in French.",
      input: [{ role: "user", content: "Hello" }],
      max_output_tokens: 300,
      temperature: 0.2
    })
    expect(response.object).toBe("response")
    expect(response.status).toBe("completed")
    expect(response.model).toBe("claude/claude-test")
    expect(response.output_text).toBe("Bonjour !")
    expect(response.usage).toMatchObject({ input_tokens: 21, output_tokens: 4, total_tokens: 25 })
    expect(response.id).toMatch(/^resp_/)
    const sent = upstream.requests[0]!
    expect(sent.url).toBe("/v1/messages")
    expect(sent.body).toMatchObject({ model: "claude-test", system: "Answer in French.", max_tokens: 300, temperature: 0.2, messages: [{ role: "user", content: [{ type: "text", text: "Hello" }] }] })
  })

  it("streams the events the SDK assembles, ending with response.completed", async () => {
    upstream.script({ answer: { text: ["One", ", two"], outputTokens: 2 } })
    const stream = client.responses.stream({ model: "claude/claude-test", input: "Count" })
    const types: Array<string> = []
    let text = ""
    for await (const event of stream) {
      types.push(event.type)
      if (event.type === "response.output_text.delta") text += event.delta
    }
    const final = await stream.finalResponse()
    expect(text).toBe("One, two")
    expect(final.output_text).toBe("One, two")
    expect(types[0]).toBe("response.created")
    expect(types.at(-1)).toBe("response.completed")
    expect(types).toContain("response.output_item.done")
  })

  it("continues a stored response by previous_response_id, with a function call round trip", async () => {
    upstream.script(
      { answer: { toolCalls: [{ id: "toolu_1", name: "get_weather", fragments: ["{\"city\":", "\"Oslo\"}"] }] } },
      { answer: { text: ["It is sunny in Oslo."] } }
    )
    const first = await client.responses.create({ model: "claude/claude-test", input: "Weather in Oslo?", tools: [weather] })
    const call = first.output.find((item) => item.type === "function_call")
    if (call?.type !== "function_call") throw new Error("expected a function call")
    expect(call).toMatchObject({ call_id: "toolu_1", name: "get_weather", arguments: "{\"city\":\"Oslo\"}" })
    const second = await client.responses.create({
      model: "claude/claude-test",
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny, 21°C" }],
      tools: [weather]
    })
    expect(second.output_text).toBe("It is sunny in Oslo.")
    expect(second.previous_response_id).toBe(first.id)
    // the provider got the whole conversation back from the store
    expect(upstream.requests[1]!.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Oslo?" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "sunny, 21°C" }] }] }
    ])
  })

  it("resolves an item_reference to an item of a stored response", async () => {
    upstream.script({ answer: { text: ["Remembered."] } }, { answer: { text: ["Yes."] } })
    const made = await client.responses.create({ model: "claude/claude-test", input: "Remember 42" })
    const said = made.output.find((item) => item.type === "message")!
    await client.responses.create({
      model: "claude/claude-test",
      input: [{ type: "item_reference", id: said.id! }, { role: "user", content: "Did you?" }]
    })
    expect(upstream.requests[1]!.body.messages).toEqual([
      { role: "assistant", content: [{ type: "text", text: "Remembered." }] },
      { role: "user", content: [{ type: "text", text: "Did you?" }] }
    ])
    const unknown = await client.responses.create({ model: "claude/claude-test", input: [{ type: "item_reference", id: "msg_nope" }] }).catch((e) => e)
    expect(unknown).toMatchObject({ status: 404, param: "input" })
  })

  it("keeps stored responses to their caller: read back, input items, delete", async () => {
    upstream.script({ answer: { text: ["Kept."] } })
    const made = await client.responses.create({ model: "claude/claude-test", input: "Keep this" })
    const read = await client.responses.retrieve(made.id)
    expect(read.output_text).toBe("Kept.")
    const items = await client.responses.inputItems.list(made.id)
    expect(items.data).toHaveLength(1)
    expect(items.data[0]).toMatchObject({ type: "message", role: "user" })
    // another ServiceAccount sees nothing, not even that it exists
    await expect(stranger.responses.retrieve(made.id)).rejects.toMatchObject({ status: 404 })
    await expect(stranger.responses.create({ model: "claude/claude-test", previous_response_id: made.id, input: "more" })).rejects.toMatchObject({ status: 404 })
    await expect(stranger.responses.delete(made.id)).rejects.toMatchObject({ status: 404 })
    await client.responses.delete(made.id)
    await expect(client.responses.retrieve(made.id)).rejects.toMatchObject({ status: 404 })
  })

  it("does not keep a response sent with store: false, and an unknown previous id is a 404, not a fresh start", async () => {
    upstream.script({ answer: { text: ["Not kept."] } })
    const made = await client.responses.create({ model: "claude/claude-test", input: "Forget this", store: false })
    await expect(client.responses.retrieve(made.id)).rejects.toMatchObject({ status: 404 })
    const error = await client.responses.create({ model: "claude/claude-test", previous_response_id: "resp_nope", input: "again" }).catch((e) => e)
    expect(error).toMatchObject({ status: 404, code: "previous_response_not_found", param: "previous_response_id" })
  })

  it("says max_output_tokens when the answer was cut", async () => {
    upstream.script({ answer: { text: ["Long"], stop: "max_tokens" } })
    const response = await client.responses.create({ model: "claude/claude-test", input: "Go on", max_output_tokens: 16 })
    expect(response.status).toBe("incomplete")
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" })
  })

  it("ends a stream cut mid-way with response.failed, never response.completed", async () => {
    upstream.script({ answer: { text: ["Part", "ial", "never"] }, failAfter: 6 })
    const stream = await client.responses.create({ model: "claude/claude-test", input: "Hi", stream: true })
    const types: Array<string> = []
    for await (const event of stream) types.push(event.type)
    expect(types.at(-1)).toBe("response.failed")
    expect(types).not.toContain("response.completed")
  })
})

describe("Responses client → OpenAI providers", () => {
  it("translates to Chat Completions for a server that only speaks that", async () => {
    upstream.script({ answer: { text: ["From chat"] } })
    const response = await client.responses.create({ model: "gpt/gpt-test", instructions: "Be terse.", input: "Hi", text: { format: { type: "json_object" } } })
    expect(response.output_text).toBe("From chat")
    const sent = upstream.requests[0]!
    expect(sent.url).toBe("/v1/chat/completions")
    expect(sent.body).toMatchObject({ model: "gpt-test", messages: [{ role: "system", content: "Be terse." }, { role: "user", content: "Hi" }], response_format: { type: "json_object" } })
  })

  it("passes the body through to a server that speaks the Responses API, only the model rewritten", async () => {
    upstream.script({ answer: { text: ["Passed"], model: "gpt-test-2025" } })
    const body: OpenAI.Responses.ResponseCreateParamsNonStreaming = {
      model: "gptr/gpt-test", input: "Hi", store: false, include: ["reasoning.encrypted_content"], reasoning: { effort: "low" }, prompt_cache_key: "k1"
    }
    const response = await client.responses.create(body)
    expect(response.output_text).toBe("Passed")
    expect(response.model).toBe("gptr/gpt-test")
    expect(upstream.requests[0]!.url).toBe("/v1/responses")
    expect(upstream.requests[0]!.body).toEqual({ ...body, model: "gpt-test" })
  })

  it("relays a Responses stream with the model rewritten, and fails one cut short", async () => {
    upstream.script({ answer: { text: ["Re", "layed"], model: "gpt-test-2025" } })
    const stream = client.responses.stream({ model: "gptr/gpt-test", input: "Hi" })
    const models: Array<string> = []
    for await (const event of stream) if ("response" in event) models.push(event.response.model)
    expect((await stream.finalResponse()).output_text).toBe("Relayed")
    expect(new Set(models)).toEqual(new Set(["gptr/gpt-test"]))

    upstream.script({ answer: { text: ["Cut", "short"] }, failAfter: 4 })
    const cut = await client.responses.create({ model: "gptr/gpt-test", input: "Hi", stream: true })
    const types: Array<string> = []
    for await (const event of cut) types.push(event.type)
    expect(types.at(-1)).toBe("response.failed")
  })

  it("passes through to Azure's v1 Responses API, the deployment as the model", async () => {
    upstream.script({ answer: { text: ["From Azure"] } })
    const response = await client.responses.create({ model: "azure/", input: "Hi" })
    expect(response.output_text).toBe("From Azure")
    expect(response.model).toBe("azure/")
    expect(upstream.requests[0]!.url).toBe("/openai/v1/responses")
    expect(upstream.requests[0]!.headers["api-key"]).toBe("sk-upstream-secret")
    expect(upstream.requests[0]!.body.model).toBe("dep-default")
  })

  it("forwards an input token count to a server that serves the Responses API", async () => {
    upstream.script({ status: 200, body: { object: "response.input_tokens", input_tokens: 7 } })
    const res = await gateway.post("/openai/v1/responses/input_tokens", { model: "gptr/gpt-test", input: "Hi" })
    expect(JSON.parse(res.text)).toEqual({ object: "response.input_tokens", input_tokens: 7 })
    expect(upstream.requests[0]!.url).toBe("/v1/responses/input_tokens")
    expect(upstream.requests[0]!.body).toEqual({ model: "gpt-test", input: "Hi" })
  })

  it("passes a previous_response_id it did not store to a server that may have stored it", async () => {
    upstream.script({ answer: { text: ["Continued upstream"] } })
    const response = await client.responses.create({ model: "gptr/gpt-test", previous_response_id: "resp_upstream_kept", input: "and?" })
    expect(response.output_text).toBe("Continued upstream")
    expect(upstream.requests[0]!.body.previous_response_id).toBe("resp_upstream_kept")
  })
})

describe("Responses door errors", () => {
  it("answers bad input with a 400 in the OpenAI envelope, naming the field", async () => {
    const res = await gateway.post("/openai/v1/responses", { model: "claude/claude-test", input: [{ type: "message", role: "robot", content: "hi" }] })
    expect(res.status).toBe(400)
    expect(JSON.parse(res.text)).toMatchObject({ error: { type: "invalid_request_error", param: "input.0.role" } })
  })

  it("refuses a hosted tool only OpenAI serves, towards another provider", async () => {
    const res = await gateway.post("/openai/v1/responses", { model: "claude/claude-test", input: "hi", tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] })
    expect(res.status).toBe(400)
    expect(JSON.parse(res.text).error.message).toContain("file_search")
  })

  it("counts input tokens: an estimate, said to be one, where the provider has no such endpoint", async () => {
    const res = await gateway.post("/openai/v1/responses/input_tokens", { model: "claude/claude-test", input: "How many tokens is this?" })
    expect(res.status).toBe(200)
    expect(res.headers.get("x-orka-token-count")).toBe("estimate")
    expect(JSON.parse(res.text)).toMatchObject({ object: "response.input_tokens", estimated: true })
    expect(JSON.parse(res.text).input_tokens).toBeGreaterThan(0)
  })
})
