/**
 * The clients that speak the Responses API, through the real server with server-side tools on:
 * the OpenAI Agents SDK (`@openai/agents`, its default Responses model) with a tool of its own, the
 * AI SDK's default `openai(model)` with multi-step tools, and a hosted `code_interpreter` served by
 * the gateway's own `code_exec`, against scripted Anthropic and Chat Completions upstreams.
 */
import { createOpenAI } from "@ai-sdk/openai"
import { Agent, OpenAIProvider, Runner, setTracingDisabled, tool as agentTool } from "@openai/agents"
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let client: OpenAI

beforeAll(async () => {
  setTracingDisabled(true)
  upstream = await startScriptedUpstream()
  gateway = await startGateway({
    manifests: scriptedProviders(upstream.url, {
      gptr: { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test", responsesAPI: true }
    }),
    config: { chatProvider: "claude", toolsDefault: "enabled", upstreamRetries: 0 }
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

const toolNames = (body: any): Array<string> => (body.tools ?? []).map((t: any) => t.name ?? t.function?.name)

describe("the OpenAI Agents SDK", () => {
  // its own OpenAI client, towards the gateway, with the Responses API (the SDK's default)
  const runner = () => new Runner({ modelProvider: new OpenAIProvider({ baseURL: gateway.openaiURL, apiKey: demoToken, useResponses: true }) })

  it("runs an agent whose tool the SDK calls, over an Anthropic provider, with the gateway's tools beside it", async () => {
    upstream.script(
      { answer: { toolCalls: [{ id: "toolu_a1", name: "add", fragments: ["{\"a\":2,\"b\":3}"] }] } },
      { answer: { text: ["2 + 3 = 5"] } }
    )
    const add = agentTool({
      name: "add",
      description: "Adds two numbers",
      parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"], additionalProperties: false },
      strict: true,
      execute: async (input: any) => String(input.a + input.b)
    })
    const agent = new Agent({ name: "Calculator", instructions: "Use the add tool.", tools: [add], model: "claude/claude-test" })
    const result = await runner().run(agent, "What is 2 + 3?")
    expect(result.finalOutput).toBe("2 + 3 = 5")
    expect(toolNames(upstream.requests[0]!.body)).toEqual(expect.arrayContaining(["add", "code_exec"]))
    // the SDK's tool result went back as a tool_result for the provider
    expect(JSON.stringify(upstream.requests[1]!.body.messages)).toContain("\"tool_use_id\":\"toolu_a1\"")
  })

  it("streams an agent run", async () => {
    upstream.script({ answer: { text: ["Streaming ", "agent"] } })
    const agent = new Agent({ name: "Echo", instructions: "Be brief.", model: "gpt/gpt-test" })
    const result = await runner().run(agent, "Hi", { stream: true })
    let text = ""
    for await (const event of result) {
      if (event.type === "raw_model_stream_event" && event.data.type === "output_text_delta") text += event.data.delta
    }
    await result.completed
    expect(text).toBe("Streaming agent")
    expect(result.finalOutput).toBe("Streaming agent")
  })
})

describe("the AI SDK's default openai(model), the Responses API", () => {
  const openai = () => createOpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken })
  const weather = tool({
    description: "Weather in a city",
    inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
    execute: async ({ city }) => `${city}: sunny`
  })

  it("completes multi-step tools, whole", async () => {
    upstream.script(
      { answer: { toolCalls: [{ id: "toolu_w1", name: "weather", fragments: ["{\"city\":\"Rome\"}"] }] } },
      { answer: { text: ["Rome is sunny."] } }
    )
    const result = await generateText({ model: openai()("claude/claude-test"), prompt: "Weather in Rome?", tools: { weather }, stopWhen: stepCountIs(3) })
    expect(result.text).toBe("Rome is sunny.")
    expect(result.steps).toHaveLength(2)
    expect(upstream.requests.map((r) => r.url)).toEqual(["/v1/messages", "/v1/messages"])
  })

  it("completes multi-step tools, streamed, over a Chat Completions provider", async () => {
    upstream.script(
      { answer: { toolCalls: [{ id: "call_w2", name: "weather", fragments: ["{\"city\":", "\"Oslo\"}"] }] } },
      { answer: { text: ["Oslo ", "is sunny."] } }
    )
    const result = streamText({ model: openai()("gpt/gpt-test"), prompt: "Weather in Oslo?", tools: { weather }, stopWhen: stepCountIs(3) })
    let text = ""
    for await (const part of result.fullStream) {
      if (part.type === "text-delta") text += part.text
      if (part.type === "error") throw part.error
    }
    expect(text).toBe("Oslo is sunny.")
    expect(upstream.requests.map((r) => r.url)).toEqual(["/v1/chat/completions", "/v1/chat/completions"])
  })
})

describe("hosted tools", () => {
  it("serves code_interpreter with the gateway's code_exec, shown as a code_interpreter_call item", async () => {
    upstream.script(
      { answer: { toolCalls: [{ id: "toolu_c1", name: "code_exec", fragments: ["{\"language\":\"javascript\",\"code\":\"console.log(6*7)\"}"] }] } },
      { answer: { text: ["The answer is 42."] } }
    )
    const response = await client.responses.create(
      { model: "claude/claude-test", input: "Compute 6*7", tools: [{ type: "code_interpreter", container: { type: "auto" } }] },
      { headers: { "x-orka-tools": "disabled" } }
    )
    expect(response.output_text).toBe("The answer is 42.")
    const call = response.output.find((item) => item.type === "code_interpreter_call")
    expect(call).toMatchObject({ type: "code_interpreter_call", status: "completed", code: "console.log(6*7)" })
    expect(JSON.stringify(call)).toContain("42")
    // with the gateway's tools off, only the hosted tool was offered
    expect(toolNames(upstream.requests[0]!.body)).toEqual(["code_exec"])
  })

  it("leaves out a hosted web_search the gateway has no backend for, and answers", async () => {
    upstream.script({ answer: { text: ["No search needed."] } })
    const res = await gateway.post("/openai/v1/responses", { model: "claude/claude-test", input: "hi", tools: [{ type: "web_search", external_web_access: false }] }, { "x-orka-tools": "disabled" })
    expect(res.status).toBe(200)
    expect(res.headers.get("x-orka-left-out")).toBe("tools")
    expect(upstream.requests[0]!.body.tools).toBeUndefined()
  })

  it("passes a hosted web_search it cannot serve through to a provider of the API, which serves it", async () => {
    upstream.script({ answer: { text: ["Searched upstream."] } })
    const body = { model: "gptr/gpt-test", input: "news?", tools: [{ type: "web_search" }] }
    const res = await gateway.post("/openai/v1/responses", body)
    expect(res.status).toBe(200)
    expect(upstream.requests[0]!.url).toBe("/v1/responses")
    expect(upstream.requests[0]!.body).toEqual({ ...body, model: "gpt-test" })
  })
})
