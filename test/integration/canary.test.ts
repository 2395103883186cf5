/**
 * Canary secrets: distinctive Provider keys, a Tool key and a caller token, and every error path that
 * could carry them out (upstream errors that echo the request, tool answers that echo theirs, bad
 * requests quoting the caller's input, streams failing midway). Every byte of every answer, every
 * log line and `/metrics` are searched: none may hold a canary. Each path is also checked to have
 * carried the echo (`***` where a canary was), so a test that sees nothing cannot pass by accident.
 */
import Anthropic from "@anthropic-ai/sdk"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { captureStdout, providerYaml, type RunningGateway, secretYaml, startGateway } from "../support/gateway.ts"
import { anthropicEvents, type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

// each starts with the marker, so that even a piece of one quoted somewhere is found
const anthropicKey = "CANARY-sk-ant-api03-anthropic-7f3a9c"
const openaiKey = "CANARY-sk-proj-openai-5d2e8b"
const toolKey = "CANARY-tool-key-91b4e0"
const token = "CANARY-orka-caller-token-c0ffee"
const canaries = [anthropicKey, openaiKey, toolKey, token, "CANARY"]

/** A Tool endpoint that echoes everything it was sent, with 200 (or 500 under /fail). */
const startEcho = async () => {
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (c: Buffer) => (body += c.toString()))
    req.on("end", () => {
      res.writeHead(req.url?.startsWith("/fail") ? 500 : 200, { "content-type": "application/json" })
      res.end(JSON.stringify({ youSent: { headers: req.headers, body } }))
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) }
}

let upstream: ScriptedUpstream
let echo: Awaited<ReturnType<typeof startEcho>>
let gateway: RunningGateway
let stdout: ReturnType<typeof captureStdout>
/** Every byte the gateway answered, over every path. */
const answered: Array<string> = []

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  echo = await startEcho()
  stdout = captureStdout()
  const tool = (name: string, path: string) =>
    JSON.stringify({
      apiVersion: "core.orka.ai/v1alpha1",
      kind: "Tool",
      metadata: { name },
      spec: { description: `the ${name} tool`, http: { url: `${echo.url}${path}`, authSecretRef: { name: "keys", key: "tool" } } }
    })
  gateway = await startGateway({
    manifests: {
      "keys.yaml": secretYaml("keys", { anthropic: anthropicKey, openai: openaiKey, tool: toolKey }),
      "providers.yaml": [
        providerYaml("claude", { type: "anthropic", secretRef: { name: "keys", key: "anthropic" }, baseURL: upstream.url, defaultModel: "claude-test" }),
        providerYaml("gpt", { type: "openai", secretRef: { name: "keys", key: "openai" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test" })
      ].join("\n---\n"),
      "tools.yaml": [tool("lookup", "/lookup"), tool("failing", "/fail")].join("\n---\n")
    },
    token,
    config: { chatProvider: "claude", toolsDefault: "disabled", upstreamRetries: 0, upstreamTimeout: 400, logLevel: "debug" }
  })
})
afterAll(async () => {
  stdout.stop()
  await gateway.close()
  await upstream.close()
  await echo.close()
})

const send = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })
  const text = `${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`
  answered.push(text)
  return text
}
const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: "user", content: "hi" }], ...extra })
const message = (model: string, extra: Record<string, unknown> = {}) => ({ model, max_tokens: 50, messages: [{ role: "user", content: "hi" }], ...extra })
const masked = (text: string) => expect(text, text.slice(0, 300)).toContain("***")

describe("canary secrets", () => {
  it("upstream errors that echo the request, JSON or text, any status, streamed or not, on every path", async () => {
    const paths: Array<[string, (stream: boolean) => unknown]> = [
      ["/openai/v1/chat/completions", (stream) => chat("claude/claude-test", { stream })], // translated to Anthropic
      ["/openai/v1/chat/completions", (stream) => chat("gpt/gpt-test", { stream })], // passed through
      ["/anthropic/v1/messages", (stream) => message("claude/claude-test", { stream })], // passed through
      ["/anthropic/v1/messages", (stream) => message("gpt/gpt-test", { stream })] // translated to OpenAI
    ]
    for (const [path, body] of paths) {
      for (const stream of [false, true]) {
        for (const reply of [{ echo: 500 }, { echo: 400, as: "text" as const }, { echo: 401 }, { echo: 200 }, { echo: 429, as: "text" as const }]) {
          upstream.script(reply)
          const text = await send(path, body(stream))
          expect(text).not.toMatch(/^2/) // never a success
          if (reply.echo !== 401) masked(text) // a 401 says the key was rejected, without the provider's words
        }
      }
    }
  })

  it("a stream that fails midway with an error that echoes the key", async () => {
    const leaking = anthropicEvents({ text: ["Hel", "lo"] }, 4).replace("Overloaded", `Overloaded (key ${anthropicKey}, caller ${token})`)
    upstream.script({ sse: leaking })
    masked(await send("/openai/v1/chat/completions", chat("claude/claude-test", { stream: true }))) // translated: the error chunk
    // passed through: the provider's own error event, masked in its bytes
    upstream.script({ sse: leaking })
    masked(await send("/anthropic/v1/messages", message("claude/claude-test", { stream: true })))
    upstream.script({ sse: leaking, splitBytes: 5 }) // the key split across reads
    masked(await send("/anthropic/v1/messages", message("claude/claude-test", { stream: true })))
    // a whole answer that holds a key
    upstream.script({ status: 200, body: { id: "msg_1", type: "message", role: "assistant", model: "m", content: [{ type: "text", text: `here: ${anthropicKey}` }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 1 } } })
    masked(await send("/anthropic/v1/messages", message("claude/claude-test")))
  })

  it("tool answers that echo the tool's request, to the model and in the progress", async () => {
    for (const name of ["lookup", "failing"]) {
      upstream.requests.length = 0
      upstream.script({ answer: { toolCalls: [{ id: "toolu_1", name, fragments: [JSON.stringify({ q: "status" })] }] } }, { answer: { text: ["done"] } })
      const text = await send("/anthropic/v1/messages", message("claude/claude-test", { stream: true }), { "x-orka-tools": "enabled" })
      masked(text)
      // what went back to the model
      const toModel = JSON.stringify(upstream.requests[1]?.body)
      expect(toModel).toContain("youSent")
      for (const canary of canaries) expect(toModel).not.toContain(canary)
    }
  })

  it("bad requests quoting the caller's input", async () => {
    upstream.script({ echo: 404 }) // the provider does not know the model, and quotes the request
    masked(await send("/openai/v1/chat/completions", chat(`gpt/${token}`)))
    masked(await send("/openai/v1/chat/completions", chat(`${token}/x`)))
    masked(await send("/openai/v1/chat/completions", chat("gpt/gpt-test"), { "x-orka-tools": token }))
    await send("/openai/v1/chat/completions", `{"model": ${token}}`) // V8 would quote a piece of it
    await send("/openai/v1/chat/completions", `{"model": "${token}`)
    await send("/anthropic/v1/messages", { model: "claude/claude-test", max_tokens: 5, messages: [{ role: token, content: "hi" }] })
    await send("/openai/v1/chat/completions", chat("gpt/gpt-test"), { authorization: `Token ${token}` })
    await send("/anthropic/v1/messages", message("claude/claude-test"), { authorization: "", "x-api-key": `${token}-wrong` })
  })

  it("timeouts", async () => {
    upstream.script({ hang: true })
    expect(await send("/openai/v1/chat/completions", chat("gpt/gpt-test"))).toMatch(/^504 /)
    upstream.script({ hang: true })
    expect(await send("/anthropic/v1/messages", message("claude/claude-test", { stream: true }))).toMatch(/^504 /)
  })

  it("the official SDK's error holds no canary either", async () => {
    upstream.script({ echo: 500 })
    const client = new Anthropic({ baseURL: `${gateway.url}/anthropic`, apiKey: token, maxRetries: 0 })
    const error = await client.messages.create({ model: "claude/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)
    expect(String(error)).toContain("***")
    for (const canary of canaries) expect(String(error)).not.toContain(canary)
  })

  it("nothing anywhere: not in one answer, not in the logs, not in /metrics", async () => {
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(answered.length).toBeGreaterThan(40)
    const logs = stdout.text()
    expect(logs).toContain("request") // the access log was captured
    for (const canary of canaries) {
      for (const text of answered) expect(text, text.slice(0, 300)).not.toContain(canary)
      expect(logs).not.toContain(canary)
      expect(metrics).not.toContain(canary)
    }
  })
})
