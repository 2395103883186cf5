/**
 * The command line as other tools run it: `orka-gateway serve` from the bin entry, in local mode over
 * examples/local, then a SIGTERM: readiness turns 503 first, the in-flight stream finishes, exit 0.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { freePort } from "../support/host.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))
const token = "orka-local-dev-token"


const waitFor = async (check: () => Promise<boolean>, what: string, ms = 15_000) => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${what} not reached within ${ms} ms`)
}

let child: ChildProcess | undefined
afterEach(() => void child?.kill("SIGKILL"))

const serve = (args: Array<string>, env: Record<string, string> = {}) => {
  const out: Array<string> = []
  child = spawn(process.execPath, ["bin/orka-gateway.js", "serve", ...args], { cwd: root, env: { ...process.env, ...env } })
  child.stdout!.on("data", (b: Buffer) => out.push(b.toString()))
  child.stderr!.on("data", (b: Buffer) => out.push(b.toString()))
  const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)))
  return { out, exited }
}

describe("orka-gateway serve", () => {
  it("serves examples/local, logs JSON lines without tokens, and shuts down gracefully on SIGTERM", async () => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const { exited, out } = serve(
      ["--manifests", "examples/local", "--token-auth-file", "examples/local/tokens.csv", "--chat-provider", "mock", "--host", "127.0.0.1"],
      { ORKA_PORT: String(port), ORKA_SHUTDOWN_DELAY: "0.5" }
    )
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, "readiness")
    expect((await fetch(`${base}/healthz`)).status).toBe(200)

    const chat = await fetch(`${base}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-1", messages: [{ role: "user", content: "ping" }] })
    })
    expect(chat.status).toBe(200)
    expect((await chat.json() as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe("Echo: ping")

    // a stream in flight when SIGTERM arrives still completes
    const streaming = fetch(`${base}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock/mock-1", stream: true, messages: [{ role: "user", content: "a fairly long answer ".repeat(20) }] })
    }).then((r) => r.text())
    child!.kill("SIGTERM")
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 503, "readiness 503 while draining", 400)
    expect(await streaming).toContain("data: [DONE]")
    expect(await exited).toBe(0)

    const lines = out.join("").split("\n").filter((l) => l.startsWith("{"))
    const request = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l["msg"] === "request" && l["path"] === "/openai/v1/chat/completions")
    expect(request).toMatchObject({ level: "info", method: "POST", status: 200, user: "developer", provider: "mock", model: "mock-1" })
    const draining = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l["msg"] === "draining")
    expect(draining).toMatchObject({ level: "info", signal: "SIGTERM", listener_closes_in_ms: 500 })
    expect(out.join("")).not.toContain(token)
  })

  it("refuses to start in local mode without a token file unless --auth none", async () => {
    const { exited, out } = serve(["--manifests", "examples/local"])
    expect(await exited).toBe(2)
    expect(out.join("")).toContain("--token-auth-file")
  })

  it("rejects an unknown flag with usage", async () => {
    const { exited, out } = serve(["--bogus", "1"])
    expect(await exited).toBe(2)
    expect(out.join("")).toContain('unknown argument "--bogus"')
  })
})
