/**
 * What the gateway allocates per request, and where: the gateway's own process samples its
 * allocations with V8's sampling heap profiler, keeping objects that were collected too (what a
 * heap snapshot or `--heap-prof` cannot show), over requests sent by the load generator.
 *   node bench/allocations.ts [--tools] [--requests=4000] [--top=25]
 * Prints KB allocated per request, by package and by function. The gateway runs from the sources
 * (function names kept), as one of the bench's (`startGateway`), tools off unless `--tools`.
 * A run of 4000 requests moves by a few percent between runs: compare changes by several runs.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

// the gateway's side: this file, run under the gateway's arguments, samples between two SIGUSR2s
if (process.argv[2] === "--sampling-gateway") {
  const { Session } = await import("node:inspector/promises")
  const out = process.argv[3]!
  const session = new Session()
  session.connect()
  let sampling = false
  process.on("SIGUSR2", () => {
    sampling = !sampling
    void (sampling
      ? session.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
      : session.post("HeapProfiler.stopSampling").then(({ profile }) => writeFileSync(out, JSON.stringify(profile))))
  })
  // the arguments after the bundle's path, which this runs in place of: the sources
  process.argv = [process.argv[0]!, "orka-gateway", ...process.argv.slice(5)]
  await import("../src/main.ts")
} else {
  await drive()
}

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly selfSize: number
  readonly children?: ReadonlyArray<ProfileNode>
}

async function drive() {
  const { startGateway, token } = await import("./gateway.ts")
  const { firstLine, startChild } = await import("./processes.ts")
  const argument = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const requests = Number(argument("requests") ?? 4000)
  const top = Number(argument("top") ?? 25)
  const tools = process.argv.includes("--tools")
  const here = (file: string) => new URL(file, import.meta.url).pathname

  const upstream = startChild("upstream", process.execPath, [here("upstream.ts"), "fast=50:0"])
  const upstreamPort: number = (await firstLine(upstream)).port
  const loader = startChild("load generator", process.execPath, [here("load.ts")], { ipc: true, stdout: "inherit" })
  const load = (scenario: object) =>
    new Promise<{ ok: number; failures: number }>((resolve) => {
      loader.process.once("message", (m: { result: { ok: number; failures: number } }) => resolve(m.result))
      loader.process.send({ id: 0, scenario })
    })
  const out = join(tmpdir(), `orka-allocations-${process.pid}.json`)
  const gateway = await startGateway({
    upstreamPort,
    prefixes: { "": "fast" },
    flags: ["--tools-default", "disabled"],
    under: [process.execPath, here("allocations.ts"), "--sampling-gateway", out]
  })
  const target = {
    port: gateway.port,
    path: "/openai/v1/chat/completions",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-orka-tools": tools ? "enabled" : "disabled" },
    body: JSON.stringify({ model: "claude/claude-test", messages: [{ role: "user", content: "hello" }], max_tokens: 50 }),
    stream: false
  }
  try {
    await load({ target, concurrency: 64, requests: 3000 })
    process.kill(gateway.child.pid, "SIGUSR2")
    const run = await load({ target, concurrency: 64, requests })
    process.kill(gateway.child.pid, "SIGUSR2")
    for (let waited = 0; !existsSync(out) && waited < 30_000; waited += 100) await new Promise((r) => setTimeout(r, 100))
    report(JSON.parse(readFileSync(out, "utf8")).head as ProfileNode, run.ok, run.failures, tools, top)
  } finally {
    await gateway.stop()
    await upstream.stop()
    loader.process.kill()
  }
}

function report(head: ProfileNode, ok: number, failures: number, tools: boolean, top: number) {
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  const add = (map: Map<string, number>, key: string, size: number) => map.set(key, (map.get(key) ?? 0) + size)
  let total = 0
  const walk = (node: ProfileNode) => {
    const { functionName, lineNumber, url } = node.callFrame
    const where = url.replace(/^.*\/(node_modules\/|src\/)/, "$1")
    add(byFunction, `${functionName || "(anonymous)"} ${where}:${lineNumber + 1}`, node.selfSize)
    add(byPackage, url.includes("/src/") ? "the gateway (src/)" : url.includes("node_modules/effect/") ? "effect" : url.includes("undici") ? "undici" : url.startsWith("node:") ? "Node" : url === "" ? "native" : "other", node.selfSize)
    total += node.selfSize
    for (const child of node.children ?? []) walk(child)
  }
  walk(head)
  const kb = (bytes: number) => `${(bytes / 1024 / ok).toFixed(1).padStart(6)} KB`
  console.log(`OpenAI → Anthropic, whole answer, tools ${tools ? "on" : "off"}: ${ok} requests (${failures} failed), ${kb(total).trim()} allocated per request`)
  for (const [name, size] of [...byPackage].sort((a, b) => b[1] - a[1])) console.log(`${kb(size)}  ${name}`)
  console.log("")
  for (const [name, size] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${kb(size)}  ${name}`)
}
