/**
 * The benchmark: `npm run bench` (about 5 minutes) or `npm run bench -- --quick` (under a minute,
 * same rows, shorter runs); `-- --only=I` runs only the scenarios named and writes no file. Starts the fake upstream, the load generator, the bare proxy, Portkey
 * and the gateway, each its own process (the proxies again, fresh, for D and F), runs scenarios A–G,
 * prints the tables and writes bench/RESULTS.md (--quick: bench/RESULTS.quick.md, not committed).
 * "What changed" comes from bench/changes.md and "History" from bench/history.md, when they exist.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, release, totalmem } from "node:os"
import { startGateway } from "./gateway.ts"
import type { Result, Scenario } from "./load.ts"
import { type Portkey, portkeyVersion, startPortkey } from "./portkey.ts"
import { type Child, firstLine, machineSpeed, startChild } from "./processes.ts"
import { type Bench, findings, held, latency, limits, memoryAndColdStart, noisy, outside, type Report, saturated, streaming, throughput, toolLoop, tracing } from "./scenarios.ts"

const quick = process.argv.includes("--quick")
/** `--only=BI`: just these scenarios, printed, no results file written (for working on one of them) */
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length)
const here = (file: string) => new URL(file, import.meta.url).pathname
const began = performance.now()
const elapsed = () => `${((performance.now() - began) / 1000).toFixed(1)} s`
const say = (text: string) => process.stderr.write(`[bench ${elapsed()}] ${text}\n`)
// before anything else runs: how fast the machine is at the start (and again at the end)
const speedAtStart = machineSpeed()
say(`machine speed: best ${speedAtStart.bestMs.toFixed(0)} ms, median ${speedAtStart.medianMs.toFixed(0)} ms (bench/processes.ts machineSpeed)`)

// ---- participants -----------------------------------------------------------------------------

const heldShape = quick ? { events: 10, intervalMs: 100 } : { events: 60, intervalMs: 100 }
const upstream = startChild("upstream", process.execPath, [here("upstream.ts"), "fast=50:0", `held=${heldShape.events}:${heldShape.intervalMs}`])
const upstreamPort: number = (await firstLine(upstream)).port
const upstreamStats = () => fetch(`http://127.0.0.1:${upstreamPort}/stats`).then((r) => r.json() as Promise<Record<string, number>>)

const loader = startChild("load generator", process.execPath, [here("load.ts")], { ipc: true, stdout: "inherit" })
const waiting = new Map<number, { resolve: (r: Result) => void; reject: (e: Error) => void }>()
let nextId = 0
loader.process.on("message", (m: { id: number; result: Result | { error: string } }) => {
  const w = waiting.get(m.id)!
  waiting.delete(m.id)
  if ("error" in m.result) w.reject(new Error(m.result.error))
  else w.resolve(m.result)
})
loader.process.on("exit", (code) => {
  for (const w of waiting.values()) w.reject(new Error(`the load generator exited (${code})`))
})
const load = (scenario: Scenario) =>
  new Promise<Result>((resolve, reject) => {
    waiting.set(nextId, { resolve, reject })
    loader.process.send({ id: nextId++, scenario })
  })

/** The three proxies, fresh: once for A–C, and again for D and F so that D's memory figures start from a clean process. */
const startProxies = async () => {
  const bare = startChild("bare proxy", process.execPath, [here("bare-proxy.ts"), String(upstreamPort)])
  const barePort: number = (await firstLine(bare)).port
  const [gateway, portkey] = await Promise.all([
    // the proxy rows measure the proxy paths; F turns the tool loop on by header
    startGateway({ upstreamPort, prefixes: { "": "fast", "-held": "held" }, flags: ["--tools-default", "disabled"] }),
    startPortkey().then(async (p) => (await checkPortkey(p), p), (e: Error) => e.message)
  ])
  if (typeof portkey === "string") say(`*** PORTKEY SKIPPED: ${portkey} ***`)
  const stop = async () => {
    await Promise.all([gateway.stop(), typeof portkey === "string" ? undefined : portkey.child.stop(), bare.stop()])
  }
  return { bare: { port: barePort, pid: bare.pid }, gateway, portkey, stop }
}

/** One request through Portkey must reach the fake upstream and come back as an OpenAI chat completion. */
async function checkPortkey(p: Portkey): Promise<void> {
  const before = (await upstreamStats())["/fast/v1/messages"] ?? 0
  const res = await fetch(`http://127.0.0.1:${p.port}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...p.headers(upstreamPort, "fast") },
    body: JSON.stringify({ model: "claude-test", messages: [{ role: "user", content: "hello" }], max_tokens: 50 })
  })
  const body = await res.json() as { object?: string; choices?: Array<{ message?: { content?: string } }> }
  const reached = ((await upstreamStats())["/fast/v1/messages"] ?? 0) - before
  if (res.status !== 200 || body.object !== "chat.completion" || !body.choices?.[0]?.message?.content?.startsWith("w0 w1 ") || reached !== 1) {
    await p.child.stop()
    throw new Error(`Portkey answered ${res.status} ${JSON.stringify(body).slice(0, 200)} with ${reached} upstream calls`)
  }
}

// ---- scenarios --------------------------------------------------------------------------------

say("starting the proxies")
let proxies = await startProxies()
const bench = (): Bench => ({
  quick,
  upstream: { port: upstreamPort, pid: upstream.pid },
  bare: proxies.bare,
  gateway: proxies.gateway,
  portkey: proxies.portkey,
  load,
  loadPid: loader.pid,
  held: heldShape,
  log: (text) => say(`  ${text}`)
})
const report: Report = { sections: [], summary: [] }
const step = async (name: string, run: () => Promise<void>) => {
  // a step's letters are before its first ".": "E + G. memory and cold start"
  if (only !== undefined && ![...name.slice(0, name.indexOf("."))].some((letter) => /[A-Z]/.test(letter) && only.includes(letter))) return
  say(name)
  try {
    await run()
  } catch (e) {
    say(`${name} FAILED: ${(e as Error).stack}`)
    report.sections.push(`### ${name}\n\n**failed**: ${(e as Error).message}`)
    report.summary.push({ target: name, measured: `failed: ${(e as Error).message}`, met: false })
  }
}
await step("A. translated non-streaming throughput", () => throughput(bench(), report))
await step("B. latency at c=1", () => latency(bench(), report))
await step("C. streaming", () => streaming(bench(), report))
say("restarting the proxies")
await proxies.stop()
proxies = await startProxies()
await step("D. 1000 held streams", () => held(bench(), report))
await step("F. tool loop", () => toolLoop(bench(), report, upstreamStats))
await step("H. tracing off and on", () => tracing(bench(), report))
await step("I. limits", () => limits(bench(), report))
// E and G start gateways of their own
await proxies.stop()
await step("E + G. memory and cold start", () => memoryAndColdStart(bench(), report))

// ---- report -----------------------------------------------------------------------------------

const order = (t: string) => t.slice(0, 1)
const summary = [...report.summary].sort((a, b) => order(a.target).localeCompare(order(b.target)))
const summaryTable = [
  "| target | measured | met? |",
  "|---|---|---|",
  ...summary.map((s) => `| ${s.target} | ${s.measured.replace(/\|/g, "/")} | ${s.met === undefined ? "skipped" : s.met ? "yes" : "**no**"} |`)
].join("\n")
const sections = [...report.sections].sort((a, b) => a.slice(4, 5).localeCompare(b.slice(4, 5)))

const cpu = cpus()
const git = (() => {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: here("..") }).toString().trim()
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: here("..") }).toString().trim() !== ""
    return `${head}${dirty ? " + uncommitted changes in src/" : ""}`
  } catch {
    return "unknown"
  }
})()
const fdLimit = /Max open files\s+(\d+)/.exec(existsSync(`/proc/${loader.pid}/limits`) ? readFileSync(`/proc/${loader.pid}/limits`, "utf8") : "")?.[1] ?? "?"
const optional = (file: string) => (existsSync(here(file)) ? readFileSync(here(file), "utf8").trim() : undefined)
const seconds = ((performance.now() - began) / 1000).toFixed(0)
const speedAtEnd = machineSpeed()
const speed = (s: ReturnType<typeof machineSpeed>) => `best ${s.bestMs.toFixed(0)} ms, median ${s.medianMs.toFixed(0)} ms`

const portkey = proxies.portkey
const portkeyLine = typeof portkey === "string"
  ? `- Portkey: **skipped: ${portkey}**`
  : [
    `- Portkey's gateway: npm \`@portkey-ai/gateway@${portkeyVersion}\` (the newest on npm), installed once into ~/.cache/orka-gateway/bench/,`,
    "  with @hono/node-server 1.13.5 and hono 4.9.7 as its own package-lock.json has them (its range resolves to @hono/node-server 1.19,",
    "  with which every streamed answer fails: `TypeError: immutable`); `build/start-server.js --headless`, NODE_ENV=production. Requests",
    "  carry `x-portkey-provider: anthropic`, `x-portkey-custom-host: http://127.0.0.1:<upstream>/<prefix>/v1` and the key as",
    "  `Authorization: Bearer`; the first one is checked to reach the fake upstream and come back as an OpenAI chat completion."
  ].join("\n")
const method = [
  `- Machine: ${cpu[0]?.model ?? "?"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}; Node ${process.version}.`,
  `- Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; code: ${git}; \`npm run bench${quick ? " -- --quick" : ""}\`, ${seconds} s.`,
  `- Machine speed: a fixed piece of CPU work (\`machineSpeed\` in bench/processes.ts: 20,000 JSON round trips of a 4 KB request, five`,
  `  times, in the bench's own process) took ${speed(speedAtStart)} at the start, and ${speed(speedAtEnd)} at the end. Compare runs`,
  "  of different hours only beside this: the same machine has run it in 280–541 ms from one try to the next.",
  "- Every participant is its own process on loopback, sharing the machine's cores: the fake upstream (`bench/upstream.ts`,",
  "  precomputed Anthropic and OpenAI bodies and SSE frames), the load generator (`bench/load.ts`, node:http keep-alive Agent, one",
  `  socket per worker, open-files limit ${fdLimit}), the bare proxy (\`bench/bare-proxy.ts\`, node:http piping bytes: the floor for`,
  "  this runtime), Portkey, and the gateway (`dist/orka-gateway.js serve`, the bundle `npm run build` makes, local mode, auth on with a tokens.csv, `--tools-default",
  "  disabled` except in E and G, the default log level: one access log line per request, to a file).",
  portkeyLine,
  "- CPU is (utime + stime) from /proc/<pid>/stat over the measured run divided by its wall time, in cores; RSS from /proc/<pid>/status.",
  `  Processes outside the bench used ${(outside.cpu / Math.max(outside.seconds, 1e-9)).toFixed(2)} cores on average during the measured runs` +
    (noisy.length ? ` (**≥ 0.25 cores in ${noisy.length} runs**, listed below)` : "") +
    (quick ? "." : `; the bench waited ${(outside.waitedMs / 1000).toFixed(0)} s in all for them to quieten down before runs.`),
  "- **The figures are ratios within one run on one machine**: the absolute numbers move with the machine and with whatever else",
  "  runs; compare participants within a run, and runs only by their ratios. Load generator and upstream share the cores with the",
  "  proxy under test, so a proxy's throughput here is lower than on a machine of its own."
].join("\n")
const anomalies = [
  ...findings.map((s) => `- ${s}`),
  ...saturated.map((s) => `- possible bottleneck outside the proxy: ${s}`),
  ...[...new Set(noisy.map((n) => n.label[0]))].map((letter) =>
    `- ${letter}: the rest of the machine used ≥ 0.25 cores during ${noisy.filter((n) => n.label[0] === letter).map((n) => `${n.label.slice(2)}: ${n.cores.toFixed(2)}`).join("; ")}`)
]

const markdown = [
  `# Benchmark results${quick ? " (quick run)" : ""}`,
  "",
  "## Method",
  "",
  method,
  "",
  "## Summary",
  "",
  summaryTable,
  ...(anomalies.length ? ["", "Anomalies:", "", ...anomalies] : []),
  "",
  "## Details",
  "",
  sections.join("\n\n"),
  ...(optional("changes.md") === undefined ? [] : ["", "## What changed", "", optional("changes.md")!]),
  ...(optional("history.md") === undefined ? [] : ["", "## History", "", optional("history.md")!]),
  ""
].join("\n")

console.log(`\n${sections.join("\n\n")}\n\n## Summary\n\n${summaryTable}\n`)
if (anomalies.length) console.log(`Anomalies:\n${anomalies.join("\n")}\n`)
const out = here(quick ? "RESULTS.quick.md" : "RESULTS.md")
if (only === undefined) {
  writeFileSync(out, markdown)
  say(`wrote ${out}`)
}
// the README shows the last full run's summary, after its marker (test/readme.test.ts checks they agree)
if (only === undefined && !quick) {
  const readmePath = here("../README.md")
  const readme = readFileSync(readmePath, "utf8")
  const marker = readme.indexOf("<!-- performance table")
  const from = readme.indexOf("\n", marker) + 1
  writeFileSync(readmePath, readme.slice(0, from) + summaryTable + readme.slice(readme.indexOf("\n\n", from)))
  say(`wrote the summary into ${readmePath}`)
}
await upstream.stop()
loader.process.disconnect()
await (loader as Child).stop()
process.exit(0)
