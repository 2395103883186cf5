/**
 * The access log tells failures from successes: its level follows the outcome, and a failure says
 * what kind it was and, briefly, why; what translation leaves out is said once per request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { captureStdout, demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { anthropicEvents, type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let upstream: ScriptedUpstream
let gateway: RunningGateway
let stdout: ReturnType<typeof captureStdout>

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  stdout = captureStdout()
  gateway = await startGateway({
    manifests: scriptedProviders(upstream.url),
    config: { chatProvider: "claude", toolsDefault: "disabled", upstreamRetries: 0, logLevel: "info" }
  })
})
afterAll(async () => {
  stdout.stop()
  await gateway.close()
  await upstream.close()
})

const send = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
  const id = `req-${Math.random().toString(36).slice(2)}`
  const res = await fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${demoToken}`, "content-type": "application/json", "x-request-id": id, ...headers },
    body: JSON.stringify(body)
  })
  await res.text()
  await new Promise((r) => setTimeout(r, 20))
  const lines = stdout.lines(id)
  return Object.assign(lines, { headers: res.headers })
}
const message = (model: string, extra: Record<string, unknown> = {}) => ({ model, max_tokens: 50, messages: [{ role: "user", content: "hi" }], ...extra })

describe("the access log", () => {
  it("info for a success, warn with the kind and a short reason for a 4xx, error for a 5xx", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    expect([...await send("/anthropic/v1/messages", message("claude/claude-test"))]).toEqual([
      expect.objectContaining({ level: "info", msg: "request", status: 200, outcome: "completed" })
    ])
    const [unauthorized] = await send("/anthropic/v1/messages", message("claude/claude-test"), { authorization: "Bearer nope" })
    expect(unauthorized).toMatchObject({ level: "warn", status: 401, outcome: "failed", error_type: "authentication" })
    expect(typeof unauthorized!["reason"]).toBe("string")
    const [notFound] = await send("/openai/v1/chat/completions", { model: "nope/x", messages: [] })
    expect(notFound).toMatchObject({ level: "warn", status: 404, error_type: "not_found", code: "model_not_found" })
    upstream.script({ status: 500, body: { error: { message: "db down" } } })
    const [failed] = await send("/openai/v1/chat/completions", { model: "gpt/gpt-test", messages: [{ role: "user", content: "x" }] })
    expect(failed).toMatchObject({ level: "error", status: 502, error_type: "upstream", reason: "provider gpt: db down (upstream HTTP 500)" })
    // a long reason is cut, and says by how much
    upstream.script({ status: 500, body: { error: { message: "x".repeat(1000) } } })
    const [long] = await send("/openai/v1/chat/completions", { model: "gpt/gpt-test", messages: [{ role: "user", content: "x" }] })
    expect(long!["reason"]).toMatch(/^provider gpt: x{186}… \(\d+ more characters\)$/)
  })

  it("a stream that failed midway is an error with outcome failed, though its status was 200", async () => {
    upstream.script({ sse: anthropicEvents({ text: ["Hel", "lo"] }, 4) })
    const [line] = await send("/openai/v1/chat/completions", { model: "claude/claude-test", stream: true, messages: [{ role: "user", content: "x" }] })
    expect(line).toMatchObject({ level: "error", status: 200, outcome: "failed", error_type: "overloaded" })
  })

  it("says once what translation leaves out: Claude Code's fields and cache_control towards OpenAI", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    const lines = await send("/anthropic/v1/messages", message("gpt/gpt-test", {
      system: [{ type: "text", text: "sys", cache_control: { type: "ephemeral" } }],
      thinking: { type: "enabled", budget_tokens: 1024 },
      context_management: { edits: [] },
      output_config: { effort: "high" }
    }))
    const leftOut = lines.filter((l) => l["msg"] === "left out in translation")
    expect(leftOut).toEqual([expect.objectContaining({ level: "info", provider: "gpt", fields: "thinking,context_management,output_config,cache_control" })])
    // and the answer says so
    expect(lines.headers.get("x-orka-left-out")).toBe("thinking, context_management, output_config, cache_control")
    expect(JSON.stringify(lines)).not.toContain(demoToken)
    expect(JSON.stringify(lines)).not.toContain("sk-upstream-secret")
  })
})
