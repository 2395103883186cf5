/**
 * What the gateway allocates per request, and where: the gateway's own process samples its
 * allocations with V8's sampling heap profiler, keeping objects that were collected too (what a
 * heap snapshot or `--heap-prof` cannot show), over requests sent by the load generator. With
 * `--cpu`, what its main thread spends per request instead (V8's CPU profiler, a sample every 100 µs).
 *   node bench/profile.ts [--cpu] [--tools] [--stream] [--pass-through] [--anthropic-client] [--large] [--limits=memory|redis] [--requests=4000] [--concurrency=64] [--top=25]
 * Prints KB allocated (or µs of CPU) per request, by package and by function, and with `--cpu` the
 * gateway's own functions inclusive of what they call. The gateway runs from the sources (function
 * names kept), as one of the bench's (`startGateway`), tools off unless `--tools`; an OpenAI request
 * to an Anthropic Provider (to an OpenAI one with `--pass-through`; an Anthropic request to an OpenAI
 * Provider with `--anthropic-client`), answered whole (as 50 events with `--stream`); with `--limits`, to the Provider's twin under every kind of limit, counted in
 * memory or in a Redis on loopback (bench/gateway.ts `limited`). A run moves by a
 * few percent (CPU: by much more on a busy machine): compare changes function by function, by several runs.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

// the gateway's side: this file, run under the gateway's arguments, samples between two SIGUSR2s
// (read before the arguments are replaced by the gateway's own, so that it does not drive too)
const samplingGateway = process.argv[2] === "--sampling-gateway"
if (samplingGateway) {
  const { Session } = await import("node:inspector/promises")
  const out = process.argv[3]!
  const cpu = process.argv[4] === "cpu"
  const session = new Session()
  session.connect()
  let sampling = false
  process.on("SIGUSR2", () => {
    sampling = !sampling
    void (cpu
      ? sampling
        ? session.post("Profiler.enable").then(() => session.post("Profiler.setSamplingInterval", { interval: 100 })).then(() => session.post("Profiler.start"))
        : session.post("Profiler.stop").then(({ profile }) => writeFileSync(out, JSON.stringify(profile)))
      : sampling
      ? session.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
      : session.post("HeapProfiler.stopSampling").then(({ profile }) => writeFileSync(out, JSON.stringify(profile))))
  })
  // the arguments after the bundle's path, which this runs in place of: the sources
  process.argv = [process.argv[0]!, "orka-gateway", ...process.argv.slice(6)]
  await import("../src/main.ts")
}

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly selfSize: number
  readonly children?: ReadonlyArray<ProfileNode>
}

async function drive() {
  const { nodeFlags } = await import("../src/memory.ts")
  const { startGateway, token } = await import("./gateway.ts")
  const { firstLine, startChild } = await import("./processes.ts")
  const { anthropicConversation, openaiConversation } = await import("./conversations.ts")
  const argument = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const requests = Number(argument("requests") ?? 4000)
  const top = Number(argument("top") ?? 25)
  const tools = process.argv.includes("--tools")
  const stream = process.argv.includes("--stream")
  const passThrough = process.argv.includes("--pass-through")
  const anthropicClient = process.argv.includes("--anthropic-client")
  const large = process.argv.includes("--large")
  const cpu = process.argv.includes("--cpu")
  const concurrency = Number(argument("concurrency") ?? 64)
  const limits = argument("limits")
  const here = (file: string) => new URL(file, import.meta.url).pathname

  const upstream = startChild("upstream", process.execPath, [here("upstream.ts"), "fast=50:0"])
  const upstreamPort: number = (await firstLine(upstream)).port
  const loader = startChild("load generator", process.execPath, [here("load.ts")], { ipc: true, stdout: "inherit" })
  const load = (scenario: object) =>
    new Promise<{ ok: number; failures: number }>((resolve) => {
      loader.process.once("message", (m: { result: { ok: number; failures: number } }) => resolve(m.result))
      loader.process.send({ id: 0, scenario })
    })
  const out = join(tmpdir(), `orka-profile-${process.pid}.json`)
  const redis = limits === "redis" ? await (await import("../test/support/redis.ts")).startRedis() : undefined
  const gateway = await startGateway({
    upstreamPort,
    prefixes: { "": "fast" },
    flags: ["--tools-default", "disabled", ...(redis === undefined ? [] : ["--redis-url", redis.url])],
    limited: limits !== undefined,
    under: [process.execPath, ...nodeFlags, here("profile.ts"), "--sampling-gateway", out, cpu ? "cpu" : "heap"]
  })
  const provider = passThrough !== anthropicClient ? "gpt" : "claude"
  const model = `${provider}${limits === undefined ? "" : "-limited"}/${provider}-test`
  const target = {
    port: gateway.port,
    path: anthropicClient ? "/anthropic/v1/messages" : "/openai/v1/chat/completions",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-orka-tools": tools ? "enabled" : "disabled" },
    body: JSON.stringify(large
      ? (anthropicClient ? anthropicConversation : openaiConversation)(model, stream)
      : { model, messages: [{ role: "user", content: "hello" }], max_tokens: 50, ...(stream ? { stream: true } : {}) }),
    stream
  }
  try {
    await load({ target, concurrency: 64, requests: 3000 })
    process.kill(gateway.child.pid, "SIGUSR2")
    const run = await load({ target, concurrency, requests })
    process.kill(gateway.child.pid, "SIGUSR2")
    for (let waited = 0; !existsSync(out) && waited < 30_000; waited += 100) await new Promise((r) => setTimeout(r, 100))
    const profile = JSON.parse(readFileSync(out, "utf8"))
    const dialects = (client: string, other: string) => `${client} → ${passThrough ? client : other}`
    const what = `${anthropicClient ? dialects("Anthropic", "OpenAI") : dialects("OpenAI", "Anthropic")}, ${large ? "a 40 KB conversation, " : ""}${stream ? "a stream of 50 events" : "whole answer"}, tools ${tools ? "on" : "off"}, ${limits === undefined ? "no limits" : `limits in ${limits}`}, ${concurrency} concurrent: ${run.ok} requests (${run.failures} failed)`
    if (cpu) reportCpu(profile as CpuProfile, run.ok, what, top)
    else report(profile.head as ProfileNode, run.ok, what, top)
  } finally {
    await gateway.stop()
    await redis?.close()
    await upstream.stop()
    loader.process.kill()
  }
}

/** Where a profiled function is: its file under node_modules/ or src/ */
const placeOf = (url: string) => url.replace(/^.*\/(node_modules\/|src\/)/, "$1")
const packageOf = (url: string) =>
  url.includes("/src/") ? "the gateway (src/)" : url.includes("node_modules/effect/") ? "effect" : url.includes("undici") ? "undici" : url.startsWith("node:") ? "Node" : url === "" ? "native" : "other"
const frameName = ({ functionName, lineNumber, url }: ProfileNode["callFrame"]) => `${functionName || "(anonymous)"} ${placeOf(url)}:${lineNumber + 1}`
const add = (map: Map<string, number>, key: string, amount: number) => map.set(key, (map.get(key) ?? 0) + amount)
const largest = (map: Map<string, number>, n: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n)

function report(head: ProfileNode, ok: number, what: string, top: number) {
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  let total = 0
  const walk = (node: ProfileNode) => {
    add(byFunction, frameName(node.callFrame), node.selfSize)
    add(byPackage, packageOf(node.callFrame.url), node.selfSize)
    total += node.selfSize
    for (const child of node.children ?? []) walk(child)
  }
  walk(head)
  const kb = (bytes: number) => `${(bytes / 1024 / ok).toFixed(1).padStart(6)} KB`
  console.log(`${what}, ${kb(total).trim()} allocated per request`)
  for (const [name, size] of largest(byPackage, Infinity)) console.log(`${kb(size)}  ${name}`)
  console.log("")
  for (const [name, size] of largest(byFunction, top)) console.log(`${kb(size)}  ${name}`)
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<{ readonly id: number; readonly callFrame: ProfileNode["callFrame"]; readonly children?: ReadonlyArray<number> }>
  readonly samples: ReadonlyArray<number>
  /** microseconds before each sample */
  readonly timeDeltas: ReadonlyArray<number>
}

/** Self time by package (native functions by name: a system call shows as its own) and function; the gateway's functions inclusive. */
function reportCpu(profile: CpuProfile, ok: number, what: string, top: number) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id)
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)))
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  let idle = 0
  for (const [id, us] of self) {
    const frame = nodes.get(id)!.callFrame
    if (frame.functionName === "(idle)") {
      idle += us
      continue
    }
    total += us
    add(byFunction, frameName(frame), us)
    add(byPackage, frame.url === "" ? `native ${frame.functionName}` : packageOf(frame.url), us)
    const counted = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const caller = nodes.get(at)!.callFrame
      const name = frameName(caller)
      if (caller.url.includes("/src/") && !counted.has(name)) add(inclusive, name, us)
      counted.add(name)
    }
  }
  const us = (t: number) => `${(t / ok).toFixed(1).padStart(6)} µs`
  console.log(`${what}, ${us(total).trim()} of CPU per request on the main thread (idle ${us(idle).trim()})`)
  for (const [name, t] of largest(byPackage, 15)) console.log(`${us(t)}  ${name}`)
  console.log("")
  for (const [name, t] of largest(byFunction, top)) console.log(`${us(t)}  ${name}`)
  console.log("\nthe gateway's functions, with what they call")
  for (const [name, t] of largest(inclusive, top)) console.log(`${us(t)}  ${name}`)
}

if (!samplingGateway) await drive()
