/**
 * `npm start`, exactly as the README runs it: it builds the bundle (dist/) and serves the local
 * examples from it, code_exec's workers included (the bundle carries them as files of their own).
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../..", import.meta.url))

describe("npm start", () => {
  it("builds dist/ and serves examples/local from it on 127.0.0.1:8080 with the demo token", async () => {
    // the port is fixed by the README: skip when something else already listens there
    const busy = await fetch("http://127.0.0.1:8080/healthz").then(() => true, () => false)
    if (busy) return console.warn("npm start test skipped: port 8080 is in use")
    const child = spawn("npm", ["start", "--silent"], {
      cwd: root,
      stdio: "ignore",
      detached: true,
      env: { ...process.env, ORKA_SHUTDOWN_DELAY: "0" }
    })
    const exited = new Promise((r) => child.once("exit", r))
    try {
      const deadline = Date.now() + 15_000
      while ((await fetch("http://127.0.0.1:8080/readyz").then((r) => r.status, () => 0)) !== 200) {
        if (Date.now() > deadline) throw new Error("npm start did not become ready")
        await new Promise((r) => setTimeout(r, 100))
      }
      const ask = async (content: string) => {
        const res = await fetch("http://127.0.0.1:8080/openai/v1/chat/completions", {
          method: "POST",
          headers: { authorization: "Bearer orka-local-dev-token", "content-type": "application/json" },
          body: JSON.stringify({ model: "mock-1", messages: [{ role: "user", content }] })
        })
        expect(res.status).toBe(200)
        return ((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content
      }
      expect(await ask("Hello!")).toBe("Echo: Hello!")
      expect(existsSync(new URL("dist/orka-gateway.js", `file://${root}`))).toBe(true)
      for (const language of ["javascript", "python"]) {
        const code = language === "python" ? "print(6*7)" : "console.log(6*7)"
        expect(await ask(`call_tool code_exec ${JSON.stringify({ language, code })}`)).toContain(String.raw`"output":"42\n"`)
      }
    } finally {
      process.kill(-child.pid!, "SIGTERM") // npm and the gateway under it
      await exited
    }
  })
})
