/**
 * The gateway's CPU per request as instructions, counted by callgrind: unlike seconds on a shared
 * machine, the count repeats (to about 0.01 %), so a change of a few percent shows. Each path is
 * served by two gateways under callgrind (V8 single-threaded, `--predictable`, idle memory release
 * off), one given `warm` requests and the other `warm + requests`, one at a time: the difference over
 * `requests` is one request's instructions, start-up and warm-up cancelled out.
 *   node bench/instructions.ts [--requests=200] [--only=off,on]   (10 minutes or more: valgrind is slow)
 * Needs valgrind. What V8 does single-threaded (GC and compilation on the main thread) is counted too.
 * A stream repeats less well: with 200 requests its count moved by up to 30 % between runs, with 600 by a few percent.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startGateway } from "./gateway.ts"
import type { Target } from "./load.ts"
import { firstLine, startChild } from "./processes.ts"
import { gatewayAnthropic, gatewayOpenai } from "./scenarios.ts"

const argument = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const requests = Number(argument("requests") ?? 200)
const only = argument("only")?.split(",")
// enough for V8 to have compiled the path: what it compiles later is counted against the requests
const warm = 200

try {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" })
} catch {
  console.error("valgrind is not installed (Debian: apt-get install valgrind)")
  process.exit(1)
}

const paths: ReadonlyArray<{ readonly name: string; readonly what: string; readonly target: (port: number) => Target }> = [
  { name: "off", what: "OpenAI → Anthropic, whole answer, tools off", target: (port) => gatewayOpenai({ port }, "claude/claude-test", false, { "x-orka-tools": "disabled" }) },
  { name: "on", what: "the same, tools on (no tool called)", target: (port) => gatewayOpenai({ port }, "claude/claude-test", false, { "x-orka-tools": "enabled" }) },
  { name: "relay", what: "OpenAI → OpenAI, whole answer (pass-through)", target: (port) => gatewayOpenai({ port }, "gpt/gpt-test") },
  { name: "stream", what: "Anthropic → OpenAI, 50-event stream (arriving in one read)", target: (port) => gatewayAnthropic({ port }, "gpt/gpt-test", true) }
]

// a stream's events in one write: how a stream is cut into reads depends on timing, which callgrind changes
const upstream = startChild("upstream", process.execPath, [new URL("upstream.ts", import.meta.url).pathname, "fast=50:-1"])
const upstreamPort: number = (await firstLine(upstream)).port
const dir = mkdtempSync(join(tmpdir(), "orka-instructions-"))

/** The instructions of a gateway's whole life, serving `n` requests of `target`. */
const counted = async (name: string, target: (port: number) => Target, n: number): Promise<number> => {
  const log = join(dir, `${name}-${n}.log`)
  const g = await startGateway({
    upstreamPort,
    prefixes: { "": "fast" },
    flags: ["--tools-default", "disabled", "--idle-memory-release", "0", "--shutdown-delay", "0"],
    under: ["valgrind", "--tool=callgrind", "--smc-check=all", "--callgrind-out-file=/dev/null", `--log-file=${log}`, process.execPath, "--single-threaded", "--predictable"],
    readyTimeoutMs: 600_000
  })
  try {
    const { body, headers, path, port } = target(g.port)
    for (let i = 0; i < n; i++) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", headers, body })
      const text = await res.text()
      if (res.status !== 200) throw new Error(`${name}: ${res.status} ${text.slice(0, 200)}`)
    }
    // a graceful stop: callgrind writes its count as the process exits
    await g.child.stop(600_000)
  } finally {
    await g.stop()
  }
  const total = /Collected : (\d+)/.exec(readFileSync(log, "utf8"))?.[1]
  if (total === undefined) throw new Error(`${name}: callgrind reported no count (${log})`)
  return Number(total)
}

const rows: Array<[string, number]> = []
try {
  for (const path of paths.filter((p) => only === undefined || only.includes(p.name))) {
    const [short, long] = await Promise.all([counted(path.name, path.target, warm), counted(path.name, path.target, warm + requests)])
    rows.push([path.what, (long - short) / requests])
    console.error(`${path.what}: ${Math.round((long - short) / requests).toLocaleString("en")}`)
  }
} finally {
  await upstream.stop(0)
  rmSync(dir, { recursive: true, force: true })
}
const first = rows[0]?.[1] ?? 1
console.log(`Instructions per request (callgrind; ${requests} requests after ${warm}, one at a time):\n`)
console.log("| path | instructions | against the first |\n|---|---:|---:|")
for (const [what, n] of rows) console.log(`| ${what} | ${Math.round(n).toLocaleString("en")} | ${(n / first).toFixed(2)}× |`)
