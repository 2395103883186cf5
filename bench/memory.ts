/**
 * Does memory come back after abuse? The gateway runs as its own process (the bundle, `orka-gateway serve`, as in
 * production); its RSS is read from /proc at idle, after the fuzz of test/support/fuzz.ts (both
 * doors), after a round of 5 MB legal bodies, and again after it has been left alone for a while.
 *   node bench/memory.ts [fuzz requests per door=4000] [large bodies per path=20]
 * The target: RSS settles within 50 MB of idle.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { Agent, request as httpRequest } from "node:http"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type FuzzRequest, random, request } from "../test/support/fuzz.ts"
import { providerYaml, secretYaml } from "../test/support/gateway.ts"
import { startScriptedUpstream } from "../test/support/scripted-upstream.ts"
import { mallocEnv, nodeFlags } from "../src/memory.ts"
import { bundled } from "./gateway.ts"

const fuzzPerDoor = Number(process.argv[2] ?? 4000)
const largePerPath = Number(process.argv[3] ?? 20)
const token = "bench-token-1"

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

const upstream = await startScriptedUpstream()
upstream.script({ answer: { text: ["Hel", "lo"] } })
const dir = mkdtempSync(join(tmpdir(), "orka-memory-"))
writeFileSync(join(dir, "tokens.csv"), `${token},bench,u-1,"bench"\n`)
writeFileSync(join(dir, "all.yaml"), [
  secretYaml("keys", { "api-key": "sk-bench-key-000000" }),
  providerYaml("claude", { type: "anthropic", secretRef: { name: "keys" }, baseURL: upstream.url, defaultModel: "claude-test" }),
  providerYaml("gpt", { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1`, defaultModel: "gpt-test" }),
  providerYaml("mock", { type: "mock", defaultModel: "mock-1" })
].join("\n---\n"))
const port = await freePort()
const child = spawn(process.execPath, [
  // production's, or e.g. ORKA_NODE_FLAGS="--max-semi-space-size=16" to compare V8 settings
  ...(process.env["ORKA_NODE_FLAGS"]?.split(" ").filter((f) => f !== "") ?? nodeFlags),
  bundled(), "serve", "--manifests", dir, "--token-auth-file", join(dir, "tokens.csv"), "--chat-provider", "mock",
  "--host", "127.0.0.1", "--port", String(port), "--tools-default", "disabled", "--upstream-retries", "0", "--log-level", "error"
], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...mallocEnv } })
const base = `http://127.0.0.1:${port}`
while (await fetch(`${base}/readyz`).then((r) => r.status !== 200, () => true)) await new Promise((r) => setTimeout(r, 50))

const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024
const agent = new Agent({ keepAlive: true, maxSockets: 16 })
const send = (req: FuzzRequest) =>
  new Promise<void>((resolve) => {
    const r = httpRequest({ host: "127.0.0.1", port, method: req.method, path: req.path, headers: { ...req.headers, "content-length": String(req.body.length) }, agent }, (res) => {
      res.resume()
      res.on("end", resolve)
      res.on("error", () => resolve())
    })
    r.on("error", () => resolve())
    r.end(req.body)
  })
const all = async (requests: Array<FuzzRequest>, concurrency = 16) => {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests.length) await send(requests[next++]!)
  }))
}
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))
const rows: Array<[string, number]> = []
const measure = (what: string) => rows.push([what, rssMb()])

const plain = (model: string) => ({ model, messages: [{ role: "user", content: "hi" }] })
const post = (path: string, body: object): FuzzRequest => ({
  method: "POST", path, valid: true, body: Buffer.from(JSON.stringify(body)),
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }
})
await all(Array.from({ length: 300 }, (_, i) => post("/openai/v1/chat/completions", plain(["mock-1", "gpt/gpt-test", "claude/claude-test"][i % 3]!))))
await settle(12_000) // past --idle-memory-release: what an idle gateway holds
measure("idle, after 300 warm-up requests")

const r = random(7)
const valid = (door: string) => () => door.startsWith("/anthropic")
  ? { model: r.pick(["mock-1", "claude/claude-test", "gpt/gpt-test"]), max_tokens: 16, messages: [{ role: "user", content: "hi" }], ...(r.chance(0.5) ? { stream: true } : {}) }
  : { model: r.pick(["mock-1", "claude/claude-test", "gpt/gpt-test"]), messages: [{ role: "user", content: "hi" }], ...(r.chance(0.5) ? { stream: true } : {}) }
for (const door of ["/openai/v1/chat/completions", "/anthropic/v1/messages"]) {
  await all(Array.from({ length: fuzzPerDoor }, () => request(r, door, valid(door), token)))
}
measure(`after ${fuzzPerDoor} fuzz requests per door`)

const large = "x ".repeat(2.5 * 1024 * 1024) // 5 MB of text
const bodies = [
  post("/openai/v1/chat/completions", { model: "gpt/gpt-test", messages: [{ role: "user", content: large }] }), // passed through
  post("/openai/v1/chat/completions", { model: "claude/claude-test", messages: [{ role: "user", content: large }] }), // translated
  post("/anthropic/v1/messages", { model: "claude/claude-test", max_tokens: 10, messages: [{ role: "user", content: large }] }),
  post("/anthropic/v1/messages", { model: "mock-1", max_tokens: 10, messages: [{ role: "user", content: large }] })
]
await all(Array.from({ length: largePerPath * bodies.length }, (_, i) => bodies[i % bodies.length]!), 4)
measure(`after ${largePerPath} 5 MB bodies on each of ${bodies.length} paths`)
await settle(5000)
measure("5 s later")
await settle(20_000)
measure("25 s later")

child.kill("SIGTERM")
agent.destroy()
await upstream.close()
const idle = rows[0]![1]
console.log(`Node ${process.version}\n`)
console.log("| moment | RSS MB | above idle |")
console.log("|---|---:|---:|")
for (const [what, mb] of rows) console.log(`| ${what} | ${mb.toFixed(0)} | ${(mb - idle).toFixed(0)} |`)
process.exit(0)
