/**
 * Server-side tools end to end: the official `openai` and `@anthropic-ai/sdk` clients against the
 * real server, in front of scripted Anthropic and OpenAI upstreams, with custom HTTP tools (`Tool`
 * resources) served by a local endpoint and the built-ins running for real.
 */
import Anthropic from "@anthropic-ai/sdk"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, providerYaml, type RunningGateway, secretYaml, startGateway } from "../support/gateway.ts"
import { type Answer, type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

/** The endpoint behind the Tool resources: records each call; `/slow/…` takes a while. */
const startToolEndpoint = async () => {
  const calls: Array<{ url: string; authorization: string | undefined; aborted: boolean; at: number }> = []
  const server = createServer((req: IncomingMessage, res) => {
    const call = { url: req.url ?? "", authorization: req.headers.authorization, aborted: false, at: Date.now() }
    calls.push(call)
    res.on("close", () => {
      if (!res.writableFinished) call.aborted = true
    })
    const delay = req.url?.startsWith("/slow/") ? 2_000 : req.url?.startsWith("/tickets/") ? 150 : 0
    setTimeout(() => {
      if (req.url?.startsWith("/broken/")) {
        res.writeHead(500, { "content-type": "text/plain" })
        return res.end("database unavailable")
      }
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ ticket: req.url?.split("/").at(-1), state: "open" }))
    }, delay)
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) })
  }
}

const toolYaml = (name: string, url: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: "core.orka.ai/v1alpha1",
    kind: "Tool",
    metadata: { name },
    spec: {
      description: `The ${name} tool`,
      parameters: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
      http: { url, method: "GET", ...extra }
    }
  })

const call = (id: string, name: string, args: unknown) => ({ id, name, fragments: [JSON.stringify(args)] })
const calling = (...calls: Array<ReturnType<typeof call>>): { answer: Answer } => ({ answer: { toolCalls: calls, inputTokens: 100, outputTokens: 10 } })
const saying = (...text: Array<string>): { answer: Answer } => ({ answer: { text, inputTokens: 200, outputTokens: 20 } })

let upstream: ScriptedUpstream
let tools: Awaited<ReturnType<typeof startToolEndpoint>>
let gateway: RunningGateway
let openai: OpenAI
let anthropic: Anthropic

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  tools = await startToolEndpoint()
  gateway = await startGateway({
    manifests: {
      "keys.yaml": secretYaml("keys", { "api-key": "sk-upstream-secret" }),
      "tool-keys.yaml": secretYaml("tool-keys", { token: "tool-secret-token" }),
      "providers.yaml": [
        providerYaml("claude", { type: "anthropic", secretRef: { name: "keys" }, baseURL: upstream.url, defaultModel: "claude-test" }),
        providerYaml("gpt", { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test" }),
        providerYaml("plain", { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test", tools: { default: "disabled" } }),
        providerYaml("mock", { type: "mock", defaultModel: "mock-1" })
      ].join("\n---\n"),
      "tools.yaml": [
        toolYaml("ticket", `${tools.url}/tickets/{{id}}`, { authSecretRef: { name: "tool-keys", key: "token" } }),
        toolYaml("broken", `${tools.url}/broken/{{id}}`),
        toolYaml("slow", `${tools.url}/slow/{{id}}`, { timeout: "300ms" }),
        toolYaml("sleepy", `${tools.url}/slow/{{id}}`, { timeout: "10s" })
      ].join("\n---\n")
    },
    config: { chatProvider: "claude", toolMaxIterations: 4 }
  })
  // these clients ask for progress as structured events; the default (comments) has its own tests
  const defaultHeaders = { "x-orka-tool-progress": "events" }
  openai = new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0, defaultHeaders })
  anthropic = new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: demoToken, maxRetries: 0, defaultHeaders })
})
afterAll(async () => {
  await gateway.close()
  await upstream.close()
  await tools.close()
})
beforeEach(() => {
  upstream.requests.length = 0
  tools.calls.length = 0
})

const builtins = ["web_fetch", "code_exec", "file_read", "file_write"]
const toolNames = (body: { tools?: Array<{ name?: string; function?: { name: string } }> }) => (body.tools ?? []).map((t) => t.name ?? t.function?.name)

describe("the tool loop through the OpenAI door", () => {
  it("streams text, each tool call and its result as progress, one finish and the usage of every model call", async () => {
    upstream.script(calling(call("toolu_1", "ticket", { id: "T-7" })), saying("T-7 is ", "open."))
    const stream = await openai.chat.completions.create({
      model: "claude/claude-test",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "What about T-7?" }]
    })
    const chunks: Array<any> = []
    for await (const chunk of stream) chunks.push(chunk)

    expect(chunks.flatMap((c) => c.choices.map((x: any) => x.delta?.content ?? "")).join("")).toBe("T-7 is open.")
    const progress = chunks.flatMap((c) => (c.orka_tool ? [c.orka_tool] : []))
    expect(progress).toEqual([
      { id: "toolu_1", name: "ticket", status: "running", arguments: "{\"id\":\"T-7\"}" },
      { id: "toolu_1", name: "ticket", status: "succeeded", result: "{\"ticket\":\"T-7\",\"state\":\"open\"}" }
    ])
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual(["stop"])
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 300, completion_tokens: 30, total_tokens: 330 })
    expect(chunks.every((c) => c.id === chunks[0].id)).toBe(true)

    // the model got the tools and one sentence beside the client's own system prompt, then the result
    const [first, second] = upstream.requests.map((r) => r.body)
    expect([first.stream, second.stream]).toEqual([true, true])
    expect(toolNames(first)).toEqual([...builtins, "ticket", "broken", "slow", "sleepy"])
    expect(first.system[0].text).toBe("Be brief.")
    expect(first.system).toHaveLength(2)
    expect(second.messages.slice(1)).toEqual([
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "ticket", input: { id: "T-7" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "{\"ticket\":\"T-7\",\"state\":\"open\"}" }] }] }
    ])
    // the Tool's key went to the tool, never into what the model or the client saw
    expect(tools.calls).toEqual([{ url: "/tickets/T-7", authorization: "Bearer tool-secret-token", aborted: false, at: expect.any(Number) }])
    expect(JSON.stringify([chunks, upstream.requests.map((r) => r.body)])).not.toContain("tool-secret-token")
  })

  it("runs parallel calls at the same time and answers non-streamed with the final text only", async () => {
    upstream.script(calling(call("c1", "ticket", { id: "A" }), call("c2", "ticket", { id: "B" })), saying("Both are open."))
    const completion = await openai.chat.completions.create({ model: "gpt/gpt-test", messages: [{ role: "user", content: "A and B?" }] })
    // each call takes 150 ms: one after the other, the second would start 150 ms after the first
    const [a, b] = tools.calls
    expect(Math.abs(a!.at - b!.at)).toBeLessThan(100)
    expect(completion.choices[0]!.message.content).toBe("Both are open.")
    expect(completion.choices[0]!.finish_reason).toBe("stop")
    expect(completion.usage).toMatchObject({ prompt_tokens: 300, completion_tokens: 30 })
    expect(tools.calls.map((c) => c.url).sort()).toEqual(["/tickets/A", "/tickets/B"])
    // the client waits for the whole answer: each model call is asked whole too
    expect(upstream.requests.map((r) => r.body.stream ?? false)).toEqual([false, false])
    const second = upstream.requests[1]!.body
    expect(second.messages.slice(-2)).toEqual([
      { role: "tool", tool_call_id: "c1", content: "{\"ticket\":\"A\",\"state\":\"open\"}" },
      { role: "tool", tool_call_id: "c2", content: "{\"ticket\":\"B\",\"state\":\"open\"}" }
    ])
  })

  it("hands a client tool call to the client, and a client tool shadows the built-in of the same name", async () => {
    upstream.script(calling(call("c1", "ticket", { id: "T-1" })), calling(call("c2", "web_fetch", { url: "https://example.com" })))
    const completion = await openai.chat.completions.create({
      model: "gpt/gpt-test",
      messages: [{ role: "user", content: "fetch it yourself" }],
      tools: [{ type: "function", function: { name: "web_fetch", description: "the client's fetch", parameters: { type: "object", properties: { url: { type: "string" } } } } }]
    })
    expect(completion.choices[0]!.finish_reason).toBe("tool_calls")
    expect(completion.choices[0]!.message.tool_calls).toEqual([
      { id: "c2", type: "function", function: { name: "web_fetch", arguments: "{\"url\":\"https://example.com\"}" } }
    ])
    expect(completion.usage).toMatchObject({ prompt_tokens: 200, completion_tokens: 20 })
    const offered = toolNames(upstream.requests[0]!.body)
    expect(offered.filter((n) => n === "web_fetch")).toHaveLength(1)
    expect(upstream.requests[0]!.body.tools[0].function.description).toBe("the client's fetch")
    expect(tools.calls.map((c) => c.url)).toEqual(["/tickets/T-1"])
  })

  it("keeps what an OpenAI client asked for on the way to an OpenAI provider: strict tools, response format, seed", async () => {
    upstream.script(saying("{}"))
    await openai.chat.completions.create({
      model: "gpt/gpt-test",
      messages: [{ role: "user", content: "json please" }],
      tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: {}, additionalProperties: false }, strict: true } }],
      response_format: { type: "json_object" },
      seed: 7,
      reasoning_effort: "low"
    })
    const sent = upstream.requests[0]!.body
    expect(sent.tools[0]).toEqual({ type: "function", function: { name: "lookup", parameters: { type: "object", properties: {}, additionalProperties: false }, strict: true } })
    expect(sent).toMatchObject({ response_format: { type: "json_object" }, seed: 7, reasoning_effort: "low" })
  })

  it("stops after the iteration limit with one last call without tools, and still answers", async () => {
    upstream.script(
      calling(call("c1", "ticket", { id: "1" })),
      calling(call("c2", "ticket", { id: "2" })),
      calling(call("c3", "ticket", { id: "3" })),
      calling(call("c4", "ticket", { id: "4" })),
      saying("Tickets 1 to 3 are open.")
    )
    const completion = await openai.chat.completions.create({ model: "gpt/gpt-test", messages: [{ role: "user", content: "all tickets" }] })
    expect(completion.choices[0]!.message.content).toBe("Tickets 1 to 3 are open.")
    expect(upstream.requests).toHaveLength(5)
    const last = upstream.requests[4]!.body
    expect(last.tool_choice).toBe("none")
    expect(JSON.stringify(last.messages.at(-1))).toContain("Stop using tools now")
    expect(completion.usage).toMatchObject({ prompt_tokens: 600, completion_tokens: 60 })
    // the calls of the turn that hit the limit were not run
    expect(tools.calls.map((c) => c.url)).toEqual(["/tickets/1", "/tickets/2", "/tickets/3"])
  })

  it("tells the model to change approach when it repeats the same call", async () => {
    const same = call("c", "ticket", { id: "same" })
    upstream.script(calling(same), calling(same), calling(same), saying("Changed approach."))
    const completion = await openai.chat.completions.create({ model: "gpt/gpt-test", messages: [{ role: "user", content: "again and again" }] })
    expect(completion.choices[0]!.message.content).toBe("Changed approach.")
    expect(tools.calls).toHaveLength(2)
    expect(JSON.stringify(upstream.requests[3]!.body.messages.at(-1))).toContain("change your approach")
  })

  it("returns a tool's failure and timeout to the model as {success: false}", async () => {
    upstream.script(calling(call("c1", "broken", { id: "x" }), call("c2", "slow", { id: "y" })), saying("Both failed."))
    const stream = await openai.chat.completions.create({ model: "gpt/gpt-test", stream: true, messages: [{ role: "user", content: "try" }] })
    const progress: Array<any> = []
    for await (const chunk of stream) if ((chunk as any).orka_tool?.status === "failed") progress.push((chunk as any).orka_tool)
    expect(progress.map((p) => p.name).sort()).toEqual(["broken", "slow"])
    const results = upstream.requests[1]!.body.messages.filter((m: any) => m.role === "tool").map((m: any) => JSON.parse(m.content))
    expect(results).toEqual([
      { success: false, error: "the tool answered HTTP 500: database unavailable" },
      { success: false, error: "the tool did not answer within 300ms" }
    ])
  })

  it("refuses web_fetch to loopback and private addresses, whatever their spelling", async () => {
    const targets = [`${tools.url}/tickets/secret`, `http://[::1]:${tools.url.split(":").at(-1)}/`, "http://2130706433/", "http://169.254.169.254/latest/meta-data/"]
    upstream.script(calling(...targets.map((url, i) => call(`f${i}`, "web_fetch", { url }))), saying("Refused."))
    await openai.chat.completions.create({ model: "gpt/gpt-test", messages: [{ role: "user", content: "fetch" }] })
    const results = upstream.requests[1]!.body.messages.filter((m: any) => m.role === "tool").map((m: any) => JSON.parse(m.content))
    expect(results).toHaveLength(4)
    for (const r of results) expect(r).toMatchObject({ success: false, error: expect.stringMatching(/is an address tools may not reach/) })
    expect(tools.calls).toEqual([])
  })

  it("ends a stream whose model call fails mid-loop with an error, not silence", async () => {
    upstream.script(calling(call("c1", "ticket", { id: "1" })), { status: 400, body: { error: { message: "bad tool result", type: "invalid_request_error" } } })
    const stream = await openai.chat.completions.create({ model: "gpt/gpt-test", stream: true, messages: [{ role: "user", content: "x" }] })
    const consume = async () => {
      for await (const _ of stream) { /* drain */ }
    }
    await expect(consume()).rejects.toThrow(/bad tool result/)
  })

  it("stops at once when the client goes away: no tool and no model call after it", async () => {
    upstream.script(calling(call("c1", "sleepy", { id: "z" })), saying("never sent"))
    const controller = new AbortController()
    const stream = await openai.chat.completions.create(
      { model: "gpt/gpt-test", stream: true, messages: [{ role: "user", content: "slowly" }] },
      { signal: controller.signal }
    )
    const seen: Array<string> = []
    // the SDK ends the iteration quietly when its own signal aborts
    for await (const chunk of stream) {
      const progress = (chunk as any).orka_tool
      if (progress !== undefined) {
        seen.push(progress.status)
        // leave once the tool is running, to show that it is stopped too
        while (tools.calls.length === 0) await new Promise((r) => setTimeout(r, 10))
        controller.abort()
      }
    }
    expect(seen).toEqual(["running"])
    await new Promise((r) => setTimeout(r, 2_600))
    expect(tools.calls).toEqual([expect.objectContaining({ url: "/slow/z", aborted: true })])
    expect(upstream.requests).toHaveLength(1)
  })

  it("runs the built-ins for real: code_exec in the sandbox through the mock provider", async () => {
    const completion = await openai.chat.completions.create({
      model: "mock/mock-1",
      messages: [{ role: "user", content: "call_tool code_exec {\"language\":\"javascript\",\"code\":\"console.log(6 * 7)\"}" }]
    })
    const text = completion.choices[0]!.message.content ?? ""
    expect(text).toMatch(/^Tool code_exec returned: /)
    expect(JSON.parse(text.replace("Tool code_exec returned: ", ""))).toEqual({ output: "42\n", error: "", exit_code: 0, timed_out: false })
  })
})

describe("a turn calling the gateway's tool and the client's together", () => {
  const bash = { type: "function" as const, function: { name: "Bash", parameters: { type: "object", properties: { command: { type: "string" } } } } }
  const mixed = () => ({ answer: { toolCalls: [call("c_bash", "Bash", { command: "ls" }), call("c_ticket", "ticket", { id: "T-5" })], inputTokens: 100, outputTokens: 10 } })

  it("OpenAI door: the gateway's call runs, the client gets its own at once, and its next request gets the gateway's back in place", async () => {
    upstream.script(mixed(), saying("Listed, and T-5 is open."))
    const completion = await openai.chat.completions.create({ model: "claude/claude-test", tools: [bash], messages: [{ role: "user", content: "T-5, then ls" }] })
    const message = completion.choices[0]!.message
    expect(message.tool_calls?.map((t) => [t.id, t.type === "function" ? t.function.arguments : ""])).toEqual([["c_bash", "{\"command\":\"ls\"}"]])
    expect(completion.choices[0]!.finish_reason).toBe("tool_calls")
    expect(tools.calls.map((c) => c.url)).toEqual(["/tickets/T-5"])
    // one model call: the client's call was not held back for another
    expect(upstream.requests).toHaveLength(1)

    const next = await openai.chat.completions.create({
      model: "claude/claude-test",
      tools: [bash],
      messages: [
        { role: "user", content: "T-5, then ls" },
        { role: "assistant", content: message.content, tool_calls: message.tool_calls! },
        { role: "tool", tool_call_id: "c_bash", content: "a.txt" }
      ]
    })
    expect(next.choices[0]!.message.content).toBe("Listed, and T-5 is open.")
    const history = upstream.requests[1]!.body.messages
    expect(history.at(-2).content.map((b: any) => [b.type, b.id])).toEqual([["tool_use", "c_ticket"], ["tool_use", "c_bash"]])
    expect(history.at(-1).content.map((b: any) => [b.type, b.tool_use_id])).toEqual([["tool_result", "c_ticket"], ["tool_result", "c_bash"]])
    expect(JSON.stringify(history.at(-1).content[0].content)).toContain("open")
  })

  it("Anthropic door, streamed: the same, and the metric counts it", async () => {
    upstream.script(mixed(), saying("Listed, and T-5 is open."))
    const tool = { name: "Bash", input_schema: { type: "object" as const, properties: { command: { type: "string" } } } }
    const message = await anthropic.messages.stream({ model: "gpt/gpt-test", max_tokens: 100, tools: [tool], messages: [{ role: "user", content: "T-5, then ls" }] }).finalMessage()
    expect(message.content).toEqual([{ type: "tool_use", id: "c_bash", name: "Bash", input: { command: "ls" } }])
    expect(message.stop_reason).toBe("tool_use")
    expect(tools.calls.map((c) => c.url)).toEqual(["/tickets/T-5"])

    await anthropic.messages.create({
      model: "gpt/gpt-test",
      max_tokens: 100,
      tools: [tool],
      messages: [
        { role: "user", content: "T-5, then ls" },
        { role: "assistant", content: message.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "c_bash", content: "a.txt" }] }
      ]
    })
    const history = upstream.requests[1]!.body.messages
    expect(history.find((m: any) => m.role === "assistant").tool_calls.map((t: any) => t.id)).toEqual(["c_ticket", "c_bash"])
    expect(history.filter((m: any) => m.role === "tool").map((m: any) => m.tool_call_id)).toEqual(["c_ticket", "c_bash"])
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(metrics).toMatch(/orka_tool_loop_mixed_turns_total(\{[^}]*\})? [1-9]/)
  })
})

describe("progress by default: comment lines, which no client's parser sees", () => {
  const raw = async (path: string, body: unknown) => {
    const res = await fetch(`${gateway.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${demoToken}` },
      body: JSON.stringify(body)
    })
    return res.text()
  }
  it("in both doors, and the SDKs see only the model's answer", async () => {
    for (const [path, body] of [
      ["/openai/v1/chat/completions", { model: "claude/claude-test", stream: true, messages: [{ role: "user", content: "T-1?" }] }],
      ["/anthropic/v1/messages", { model: "gpt/gpt-test", max_tokens: 50, stream: true, messages: [{ role: "user", content: "T-1?" }] }]
    ] as const) {
      upstream.script(calling(call("c1", "ticket", { id: "T-1" })), saying("T-1 is open."))
      const text = await raw(path, body)
      expect(text).toContain(`: orka_tool {"id":"c1","name":"ticket","status":"running","arguments":"{\\"id\\":\\"T-1\\"}"}\n\n`)
      expect(text).toMatch(/: orka_tool \{"id":"c1","name":"ticket","status":"succeeded","result":/)
      expect(text).not.toContain("orka_tool_progress")
      expect(text).not.toContain("\"orka_tool\":")
    }
    upstream.script(calling(call("c1", "ticket", { id: "T-1" })), saying("T-1 is open."))
    const plain = new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: demoToken, maxRetries: 0 })
    const events: Array<string> = []
    const stream = plain.messages.stream({ model: "gpt/gpt-test", max_tokens: 100, messages: [{ role: "user", content: "T-1?" }] })
    stream.on("streamEvent", (e) => events.push(e.type))
    expect((await stream.finalMessage()).content).toEqual([{ type: "text", text: "T-1 is open." }])
    expect(events).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"])
  })
})

describe("the tool loop through the Anthropic door", () => {
  it("streams progress as orka_tool_progress events between content blocks; the SDK's message holds the answer", async () => {
    upstream.script(calling(call("call_1", "ticket", { id: "T-9" })), saying("T-9 is open."))
    const events: Array<any> = []
    const stream = anthropic.messages.stream({ model: "gpt/gpt-test", max_tokens: 100, messages: [{ role: "user", content: "T-9?" }] })
    stream.on("streamEvent", (e) => events.push(e))
    const message = await stream.finalMessage()
    expect(message.content).toEqual([{ type: "text", text: "T-9 is open." }])
    // the SDK passes the progress events on to listeners and keeps them out of the message
    expect(events.filter((e) => e.type === "orka_tool_progress").map((e) => e.status)).toEqual(["running", "succeeded"])
    expect(message.stop_reason).toBe("end_turn")
    expect(message.usage).toMatchObject({ input_tokens: 300, output_tokens: 30 })

    const raw = await rawAnthropicEvents({ model: "gpt/gpt-test", max_tokens: 100, stream: true, messages: [{ role: "user", content: "T-9?" }] },
      [calling(call("call_1", "ticket", { id: "T-9" })), saying("T-9 is open.")])
    expect(raw.map((e) => e.event)).toEqual([
      "message_start", "ping",
      "orka_tool_progress", "orka_tool_progress",
      "content_block_start", "content_block_delta", "content_block_stop",
      "message_delta", "message_stop"
    ])
    expect(raw[2]!.data).toEqual({ type: "orka_tool_progress", id: "call_1", name: "ticket", status: "running", arguments: "{\"id\":\"T-9\"}" })
    expect(raw[3]!.data).toMatchObject({ type: "orka_tool_progress", status: "succeeded", result: "{\"ticket\":\"T-9\",\"state\":\"open\"}" })
  })

  it("answers non-streamed with the final content and summed usage, towards an Anthropic provider too", async () => {
    upstream.script(calling(call("toolu_1", "ticket", { id: "Q" })), saying("Q is open."))
    const message = await anthropic.messages.create({ model: "claude/claude-test", max_tokens: 100, messages: [{ role: "user", content: "Q?" }] })
    expect(message.content).toEqual([{ type: "text", text: "Q is open." }])
    expect(message.usage).toMatchObject({ input_tokens: 300, output_tokens: 30 })
    expect(upstream.requests.map((r) => r.url)).toEqual(["/v1/messages", "/v1/messages"])
  })

  it("keeps the client's cache breakpoints and beta header towards an Anthropic provider, and drops them for others", async () => {
    upstream.script(saying("Cached."))
    const request = {
      max_tokens: 100,
      system: [{ type: "text" as const, text: "You are a coding agent.", cache_control: { type: "ephemeral" as const } }],
      tools: [{ name: "Bash", input_schema: { type: "object" as const }, cache_control: { type: "ephemeral" as const } }],
      messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "hi", cache_control: { type: "ephemeral" as const } }] }]
    }
    const beta = { headers: { "anthropic-beta": "interleaved-thinking-2025-05-14" } }
    await anthropic.messages.create({ ...request, model: "claude/claude-test" }, beta)
    const sent = upstream.requests[0]!
    expect(sent.headers["anthropic-beta"]).toBe("interleaved-thinking-2025-05-14")
    expect(sent.body.system[0]).toEqual({ type: "text", text: "You are a coding agent.", cache_control: { type: "ephemeral" } })
    expect(sent.body.tools[0]).toEqual({ name: "Bash", input_schema: { type: "object" }, cache_control: { type: "ephemeral" } })
    expect(sent.body.tools.slice(1).every((t: any) => t.cache_control === undefined)).toBe(true)
    expect(sent.body.messages[0].content).toEqual([{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }])

    await anthropic.messages.create({ ...request, model: "gpt/gpt-test" }, beta)
    expect(JSON.stringify(upstream.requests[1]!.body)).not.toMatch(/cache_control|cacheControl/)
    expect(upstream.requests[1]!.headers["anthropic-beta"]).toBeUndefined()
  })

  it("hands a client tool call back as tool_use", async () => {
    upstream.script(calling(call("toolu_2", "get_weather", { city: "Oslo" })))
    const message = await anthropic.messages.create({
      model: "claude/claude-test",
      max_tokens: 100,
      tools: [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
      messages: [{ role: "user", content: "Weather?" }]
    })
    expect(message.stop_reason).toBe("tool_use")
    expect(message.content).toEqual([{ type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Oslo" } }])
    expect(toolNames(upstream.requests[0]!.body)).toEqual(["get_weather", ...builtins, "ticket", "broken", "slow", "sleepy"])
  })
})

describe("when the loop runs", () => {
  it("X-Orka-Tools: disabled makes a transparent proxy; the Provider's default applies without the header; the header wins", async () => {
    upstream.script(saying("plain"))
    const body = { model: "gpt/gpt-test", messages: [{ role: "user", content: "hi" }] }
    await openai.chat.completions.create(body as any, { headers: { "X-Orka-Tools": "disabled" } })
    expect(upstream.requests[0]!.body).toEqual({ ...body, model: "gpt-test" })

    await openai.chat.completions.create({ ...body, model: "plain/gpt-test" } as any)
    expect(upstream.requests[1]!.body.tools).toBeUndefined()

    await openai.chat.completions.create({ ...body, model: "plain/gpt-test" } as any, { headers: { "x-orka-tools": "Enabled" } })
    expect(toolNames(upstream.requests[2]!.body)).toContain("web_fetch")

    const bad = await openai.chat.completions.create(body as any, { headers: { "X-Orka-Tools": "sometimes" } }).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError)
  })
})

describe("what the loop cannot carry", () => {
  it("goes to a provider of its own dialect as it is, without the gateway's tools; elsewhere it is left out, and the answer says so", async () => {
    upstream.script(saying("A PDF."))
    const pdf = { type: "file", file: { filename: "q3.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } }
    const body = { model: "gpt/gpt-test", n: 2, messages: [{ role: "user", content: [{ type: "text", text: "Summarize" }, pdf] }] }
    await openai.chat.completions.create(body as any)
    expect(upstream.requests[0]!.body).toEqual({ ...body, model: "gpt-test" })

    upstream.script(saying("No PDF here."))
    const { data, response } = await openai.chat.completions.create({ ...body, model: "claude/claude-test", n: 1 } as any).withResponse()
    expect(data.choices[0]!.message.content).toBe("No PDF here.")
    expect(response.headers.get("x-orka-left-out")).toBe("messages.0.content.1.type")
    expect(upstream.requests[1]!.body["messages"]).toEqual([{ role: "user", content: [{ type: "text", text: "Summarize" }] }])

    // but more than one choice cannot be answered by one: a 400 naming n
    const two = await openai.chat.completions.create({ ...body, model: "claude/claude-test" } as any).catch((e: unknown) => e)
    expect(two).toBeInstanceOf(OpenAI.BadRequestError)
    expect((two as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ param: "n" })
    expect(upstream.requests).toHaveLength(2)
  })

  it("passes an Anthropic request with a PDF through to an Anthropic provider untouched", async () => {
    upstream.script(saying("A PDF."))
    const request = {
      model: "claude/claude-test",
      max_tokens: 100,
      messages: [{
        role: "user" as const,
        content: [
          { type: "document" as const, source: { type: "base64" as const, media_type: "application/pdf" as const, data: "JVBERi0xLjQK" } },
          { type: "text" as const, text: "Summarize" }
        ]
      }]
    }
    const message = await anthropic.messages.create(request)
    expect(message.content).toEqual([{ type: "text", text: "A PDF." }])
    expect(upstream.requests[0]!.body).toEqual({ ...request, model: "claude-test" })
  })
})

describe("metrics", () => {
  it("count tool calls by tool and outcome, and loops by how they ended", async () => {
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(metrics).toMatch(/orka_tool_calls_total\{[^}]*tool="ticket"[^}]*outcome="ok"[^}]*\} [1-9]/)
    expect(metrics).toMatch(/orka_tool_calls_total\{[^}]*tool="broken"[^}]*outcome="error"[^}]*\} [1-9]/)
    for (const outcome of ["answered", "client_tool", "iteration_limit"]) {
      expect(metrics).toMatch(new RegExp(`orka_tool_loops_total\\{[^}]*outcome="${outcome}"[^}]*\\} [1-9]`))
    }
    expect(metrics).toContain("orka_tool_loop_model_calls_bucket")
    expect(metrics).not.toContain("tool-secret-token")
  })
})

/** The Anthropic door's raw SSE, event by event. */
const rawAnthropicEvents = async (body: unknown, script: Array<{ answer: Answer }>) => {
  upstream.script(...script)
  const res = await fetch(`${gateway.url}/anthropic/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": demoToken, "anthropic-version": "2023-06-01", "x-orka-tool-progress": "events" },
    body: JSON.stringify(body)
  })
  const text = await res.text()
  return text.split("\n\n").filter((f) => f !== "").map((frame) => {
    const [eventLine, dataLine] = frame.split("\n")
    return { event: eventLine!.slice("event: ".length), data: JSON.parse(dataLine!.slice("data: ".length)) }
  })
}
