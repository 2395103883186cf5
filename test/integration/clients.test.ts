/**
 * The light clients of the matrix (docs/clients.md) in the suite, through the real server, against a
 * scripted Anthropic and a scripted OpenAI upstream: the AI SDK (`ai` 7 with `@ai-sdk/anthropic` and
 * `@ai-sdk/openai` `.chat()`) and LangChain (`ChatAnthropic`, `ChatOpenAI`). Each streams an answer
 * while one of the gateway's tools runs, and completes a round trip through a tool of its own; the
 * AI SDK's Anthropic client gets signed thinking back to the provider on its next turn.
 */
import { createAnthropic } from "@ai-sdk/anthropic"
import { createOpenAI } from "@ai-sdk/openai"
import { ChatAnthropic } from "@langchain/anthropic"
import { HumanMessage, ToolMessage } from "@langchain/core/messages"
import { ChatOpenAI } from "@langchain/openai"
import { jsonSchema, type LanguageModel, stepCountIs, streamText, tool } from "ai"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, providerYaml, type RunningGateway, secretYaml, startGateway } from "../support/gateway.ts"
import { type Answer, type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let ticketServer: ReturnType<typeof createServer>
let ticketUrl: string

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  ticketServer = createServer((req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ticket: req.url?.split("/").at(-1), state: "open" })))
  await new Promise<void>((r) => ticketServer.listen(0, "127.0.0.1", r))
  ticketUrl = `http://127.0.0.1:${(ticketServer.address() as AddressInfo).port}`
  gateway = await startGateway({
    manifests: {
      "keys.yaml": secretYaml("keys", { "api-key": "sk-upstream-secret" }),
      "providers.yaml": [
        providerYaml("claude", { type: "anthropic", secretRef: { name: "keys" }, baseURL: upstream.url, defaultModel: "claude-test" }),
        providerYaml("gpt", { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test" })
      ].join("\n---\n"),
      "tools.yaml": JSON.stringify({
        apiVersion: "core.orka.ai/v1alpha1",
        kind: "Tool",
        metadata: { name: "ticket" },
        spec: { description: "Look up a ticket", parameters: { type: "object", properties: { id: { type: "string" } }, required: ["id"] }, http: { url: `${ticketUrl}/tickets/{{id}}`, method: "GET" } }
      })
    },
    config: { chatProvider: "claude", toolsDefault: "enabled" }
  })
})
afterAll(async () => {
  await gateway.close()
  await upstream.close()
  await new Promise<void>((r) => ticketServer.close(() => r()))
})
beforeEach(() => {
  upstream.requests.length = 0
})

const turn = (answer: Answer) => ({ answer: { inputTokens: 120, outputTokens: 12, ...answer } })
const calls = (id: string, name: string, args: unknown) => turn({ toolCalls: [{ id, name, fragments: [JSON.stringify(args)] }] })
const says = (...text: Array<string>) => turn({ text })

interface Client {
  /** streams a prompt, returning the text and the input tokens it was told of */
  readonly stream: (model: string, prompt: string) => Promise<{ text: string; inputTokens: number }>
  /** one round trip through the client's own Bash tool, returning the final text */
  readonly roundTrip: (model: string, prompt: string) => Promise<string>
}

const bash = { type: "object", properties: { command: { type: "string" } }, required: ["command"] } as const

const aiSdk = (model: (id: string) => LanguageModel): Client => ({
  stream: async (id, prompt) => {
    const result = streamText({ model: model(id), prompt, onError: ({ error }) => { throw error } })
    let text = ""
    for await (const part of result.fullStream) {
      if (part.type === "error") throw part.error
      if (part.type === "text-delta") text += part.text
    }
    return { text, inputTokens: (await result.usage).inputTokens ?? 0 }
  },
  roundTrip: async (id, prompt) => {
    const result = streamText({
      model: model(id),
      prompt,
      tools: { Bash: tool({ description: "Run a command", inputSchema: jsonSchema<{ command: string }>(bash), execute: async ({ command }) => `ran ${command}` }) },
      stopWhen: stepCountIs(3)
    })
    for await (const part of result.fullStream) if (part.type === "error") throw part.error
    return result.text
  }
})

const langChain = (make: (id: string) => ChatOpenAI | ChatAnthropic): Client => ({
  stream: async (id, prompt) => {
    let text = ""
    let inputTokens = 0
    for await (const chunk of await make(id).stream([new HumanMessage(prompt)])) {
      text += typeof chunk.content === "string" ? chunk.content : chunk.content.map((c) => ("text" in c && typeof c.text === "string" ? c.text : "")).join("")
      inputTokens += (chunk.usage_metadata as { input_tokens?: number } | undefined)?.input_tokens ?? 0
    }
    return { text, inputTokens }
  },
  roundTrip: async (id, prompt) => {
    const model = make(id).bindTools([{ type: "function", function: { name: "Bash", description: "Run a command", parameters: bash } }])
    const first = await model.invoke([new HumanMessage(prompt)])
    const call = first.tool_calls?.[0]
    if (call === undefined) throw new Error(`no tool call in ${JSON.stringify(first.content)}`)
    const second = await model.invoke([new HumanMessage(prompt), first, new ToolMessage({ tool_call_id: call.id!, content: `ran ${call.args["command"]}` })])
    return typeof second.content === "string" ? second.content : second.content.map((c) => ("text" in c ? c.text : "")).join("")
  }
})

const clients: ReadonlyArray<readonly [string, Client]> = [
  ["AI SDK @ai-sdk/anthropic", aiSdk((id) => createAnthropic({ baseURL: `${gateway.url}/anthropic/v1`, apiKey: demoToken })(id))],
  ["AI SDK @ai-sdk/openai .chat()", aiSdk((id) => createOpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken }).chat(id))],
  ["LangChain ChatAnthropic", langChain((id) => new ChatAnthropic({ model: id, anthropicApiUrl: `${gateway.url}/anthropic`, apiKey: demoToken, maxRetries: 0 }))],
  ["LangChain ChatOpenAI", langChain((id) => new ChatOpenAI({ model: id, apiKey: demoToken, configuration: { baseURL: gateway.openaiURL }, maxRetries: 0 }))]
]

describe.each(clients)("%s", (_, client) => {
  describe.each(["claude/claude-test", "gpt/gpt-test"])("through %s", (model) => {
    it("streams the answer while the gateway's tool runs, with the input tokens", async () => {
      upstream.script(calls("c1", "ticket", { id: "T-1" }), says("T-1 ", "is open."))
      const { inputTokens, text } = await client.stream(model, "What about T-1?")
      expect(text).toBe("T-1 is open.")
      expect(inputTokens).toBeGreaterThan(0)
      expect(upstream.requests).toHaveLength(2) // the ticket ran on the gateway between the two model calls
    })

    it("completes a round trip through its own tool", async () => {
      upstream.script(calls("b1", "Bash", { command: "ls" }), says("Listed."))
      expect(await client.roundTrip(model, "List the files")).toBe("Listed.")
      const result = JSON.stringify(upstream.requests[1]!.body.messages.at(-1))
      expect(result).toContain("ran ls")
    })
  })
})

describe("signed thinking with the AI SDK's Anthropic client", () => {
  it.each(["enabled", "disabled"])("goes back to the provider with its signature on the next turn (tools %s)", async (tools) => {
    upstream.script(
      turn({ thinking: { text: ["Let me ", "list."], signature: "sig-abc" }, toolCalls: [{ id: "b1", name: "Bash", fragments: ["{\"command\":\"ls\"}"] }] }),
      says("Listed.")
    )
    const anthropic = createAnthropic({ baseURL: `${gateway.url}/anthropic/v1`, apiKey: demoToken, headers: { "x-orka-tools": tools } })
    const result = streamText({
      model: anthropic("claude/claude-test"),
      prompt: "List the files",
      providerOptions: { anthropic: { thinking: { type: "enabled", budgetTokens: 1024 } } },
      tools: { Bash: tool({ inputSchema: jsonSchema<{ command: string }>(bash), execute: async () => "a.ts" }) },
      stopWhen: stepCountIs(3)
    })
    for await (const part of result.fullStream) if (part.type === "error") throw part.error
    expect(await result.text).toBe("Listed.")
    const assistant = upstream.requests[1]!.body.messages.find((m: { role: string }) => m.role === "assistant")
    expect(assistant.content[0]).toEqual({ type: "thinking", thinking: "Let me list.", signature: "sig-abc" })
  })
})
