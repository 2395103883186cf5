/**
 * The measurements A–G, each adding its detailed table and its rows of the summary to the report.
 * Every participant is its own process; a scenario's CPU and memory figures are read from /proc
 * around its measured run only (warm-ups are separate runs).
 */
import { createServer } from "node:http"
import { once } from "node:events"
import { type AddressInfo, connect } from "node:net"
import { type Gateway, startGateway, token } from "./gateway.ts"
import type { Result, Scenario, Target } from "./load.ts"
import type { Portkey } from "./portkey.ts"
import { memory, waitQuiet, watch } from "./processes.ts"

export interface Bench {
  readonly quick: boolean
  readonly upstream: { readonly port: number; readonly pid: number }
  readonly bare: { readonly port: number; readonly pid: number }
  readonly gateway: Gateway
  /** or why it is skipped */
  readonly portkey: Portkey | string
  readonly load: (s: Scenario) => Promise<Result>
  readonly loadPid: number
  /** the upstream's prefix for the held streams of D */
  readonly held: { readonly events: number; readonly intervalMs: number }
  /** progress, on stderr */
  readonly log: (text: string) => void
}

/**
 * How much of everything: --quick keeps every row, with shorter runs, one round each and no waiting
 * for a quiet machine. A full run waits up to 5 s before each measured run (90 s in all) for the rest
 * of the machine to fall under 0.15 cores.
 */
const sizes = (b: Bench) => b.quick
  ? { rounds: 1, aSeconds: 0.8, aWarm: 150, bSamples: 400, cSeconds: 0.5, cWarm: 16, cAlone: 40, dRampMs: 250, fSeconds: 0.8, fWarm: 150, eBodies: 2, gRuns: 3, quietWaitMs: 0, quietBudgetMs: 0 }
  : { rounds: 3, aSeconds: 4, aWarm: 1000, bSamples: 1000, cSeconds: 2, cWarm: 320, cAlone: 200, dRampMs: 1000, fSeconds: 2, fWarm: 500, eBodies: 20, gRuns: 5, quietWaitMs: 5000, quietBudgetMs: 90_000 }

export interface SummaryRow {
  readonly target: string
  readonly measured: string
  /** undefined: not measured (skipped) */
  readonly met: boolean | undefined
}

export interface Report {
  readonly sections: Array<string>
  readonly summary: Array<SummaryRow>
}

// ---- requests ---------------------------------------------------------------------------------

const messages = [{ role: "user", content: "hello" }]
const openaiBody = (model: string, stream = false) => JSON.stringify({ model, messages, max_tokens: 50, ...(stream ? { stream: true } : {}) })
const anthropicBody = (model: string, stream = false) => JSON.stringify({ model, max_tokens: 50, messages, ...(stream ? { stream: true } : {}) })
const json = { "content-type": "application/json" }
const anthropicHeaders = { ...json, "x-api-key": "sk-bench-upstream", "anthropic-version": "2023-06-01" }
const openaiHeaders = { ...json, authorization: "Bearer sk-bench-upstream" }
const gatewayHeaders = (extra: Record<string, string> = {}) => ({ ...json, authorization: `Bearer ${token}`, ...extra })

/** Straight to the upstream, or through the bare proxy: the same bytes either way. */
const nativeAnthropic = (port: number, prefix: string, stream = false): Target =>
  ({ port, path: `/${prefix}/v1/messages`, headers: anthropicHeaders, body: anthropicBody("claude-test", stream), stream })
const nativeOpenai = (port: number, prefix: string, stream = false): Target =>
  ({ port, path: `/${prefix}/v1/chat/completions`, headers: openaiHeaders, body: openaiBody("gpt-test", stream), stream })
export const gatewayOpenai = (g: Pick<Gateway, "port">, model: string, stream = false, extra: Record<string, string> = {}): Target =>
  ({ port: g.port, path: "/openai/v1/chat/completions", headers: gatewayHeaders(extra), body: openaiBody(model, stream), stream })
export const gatewayAnthropic = (g: Pick<Gateway, "port">, model: string, stream = false): Target =>
  ({ port: g.port, path: "/anthropic/v1/messages", headers: gatewayHeaders({ "anthropic-version": "2023-06-01" }), body: anthropicBody(model, stream), stream })
const portkeyOpenai = (p: Portkey, upstreamPort: number, prefix: string, stream = false): Target =>
  ({ port: p.port, path: "/v1/chat/completions", headers: { ...json, ...p.headers(upstreamPort, prefix) }, body: openaiBody("claude-test", stream), stream })

// ---- measuring --------------------------------------------------------------------------------

interface Measured extends Result {
  /** CPU in cores and peak RSS in MB of the proxy (when there is one), the upstream, the load generator; `others`: the rest of the machine */
  readonly cpu: Record<string, { cores: number; startRss: number; peakRss: number; hwm: number }>
}

/** Runs where the load generator or the upstream used most of a core: they may have been the bottleneck. */
export const saturated: Array<string> = []
/** Runs during which processes outside the bench used a quarter of a core or more. */
export const noisy: Array<{ readonly label: string; readonly cores: number }> = []
/** What a scenario saw that no target covers. */
export const findings: Array<string> = []
/** CPU seconds used outside the bench during measured runs, the runs' seconds, and the time spent waiting for quiet. */
export const outside = { cpu: 0, seconds: 0, waitedMs: 0 }

/** A warm-up run (not measured), a wait for a quiet machine, then the measured run with /proc watched around it. */
const measure = async (b: Bench, label: string, proxyPid: number | undefined, s: Scenario, warmup = 0): Promise<Measured> => {
  if (warmup > 0) await b.load({ target: s.target, concurrency: s.concurrency, requests: warmup })
  const { quietWaitMs, quietBudgetMs } = sizes(b)
  if (quietWaitMs > 0 && outside.waitedMs < quietBudgetMs) {
    const started = performance.now()
    await waitQuiet(Math.min(quietWaitMs, quietBudgetMs - outside.waitedMs))
    outside.waitedMs += performance.now() - started
  }
  const w = watch({ ...(proxyPid === undefined ? {} : { proxy: proxyPid }), upstream: b.upstream.pid, load: b.loadPid })
  const result = await b.load(s)
  const cpu = w.stop()
  for (const k of ["load", "upstream"]) {
    if (cpu[k]!.cores >= 0.9) saturated.push(`${label}: the ${k === "load" ? "load generator" : "upstream"} used ${cpu[k]!.cores.toFixed(2)} cores`)
  }
  if (cpu["others"]!.cores >= 0.25) noisy.push({ label, cores: cpu["others"]!.cores })
  outside.cpu += cpu["others"]!.cores * result.seconds
  outside.seconds += result.seconds
  return { ...result, cpu }
}

interface Entry {
  readonly name: string
  readonly pid: number | undefined
  readonly scenario: Scenario
  readonly warmup?: number
}

/**
 * Measures every entry `rounds` times, interleaved, so that a neighbour's burst hits them alike, and
 * keeps each one's best round by `score` (higher is better), with the failures of all its rounds.
 * An entry given as a string (why it is skipped) comes back as is.
 */
const compare = async (b: Bench, scenario: string, entries: ReadonlyArray<Entry | string>, rounds: number, score: (m: Measured) => number) => {
  const best: Array<Measured | string> = entries.map((e) => (typeof e === "string" ? e : ""))
  const failed = entries.map(() => ({ count: 0, first: undefined as string | undefined }))
  for (let round = 0; round < rounds; round++) {
    for (const [i, e] of entries.entries()) {
      if (typeof e === "string") continue
      b.log(`${scenario} ${e.name}${rounds > 1 ? `, round ${round + 1}/${rounds}` : ""}`)
      const m = await measure(b, `${scenario} ${e.name}${rounds > 1 ? ` r${round + 1}` : ""}`, e.pid, e.scenario, round === 0 ? e.warmup ?? 0 : 0)
      failed[i]!.count += m.failures
      failed[i]!.first ??= m.firstFailure
      const previous = best[i]!
      if (typeof previous === "string" || score(m) > score(previous)) best[i] = m
    }
  }
  return best.map((m, i) => typeof m === "string" ? m : {
    ...m,
    failures: failed[i]!.count,
    ...(failed[i]!.first === undefined ? {} : { firstFailure: failed[i]!.first })
  })
}
const measured = (m: Measured | string | undefined): m is Measured => m !== undefined && typeof m !== "string"

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–")
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–")
const us = (ms: number) => (Number.isFinite(ms) ? `${Math.round(ms * 1000)} µs` : "–")
const x = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "–")
const cores = (m: Measured, k: string) => (m.cpu[k] === undefined ? "–" : f2(m.cpu[k].cores))
const failures = (m: Measured) => (m.failures === 0 ? "0" : `**${m.failures}**: ${m.firstFailure?.replace(/\|/g, "/").replace(/\s+/g, " ").slice(0, 160)}`)
const bestOf = (rounds: number) => (rounds > 1 ? `Each participant is measured in ${rounds} interleaved rounds; the best round is shown.` : "One round each.")

const table = (header: Array<string>, rows: Array<Array<string>>) =>
  [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n")

const row = (r: Report, target: string, measured: string, met: boolean | undefined) => r.summary.push({ target, measured, met })
const skipped = (p: Portkey | string): p is string => typeof p === "string"

/** A and B: one non-streaming request to each participant, translated by the proxies that translate. */
const translatedRequest = (b: Bench, entry: (name: string, pid: number | undefined, target: Target) => Entry): Array<Entry | string> => [
  entry("direct", undefined, nativeAnthropic(b.upstream.port, "fast")),
  entry("bare proxy", b.bare.pid, nativeAnthropic(b.bare.port, "fast")),
  skipped(b.portkey) ? b.portkey : entry("Portkey", b.portkey.child.pid, portkeyOpenai(b.portkey, b.upstream.port, "fast")),
  entry("gateway", b.gateway.child.pid, gatewayOpenai(b.gateway, "claude/claude-test"))
]

// ---- A: translated non-streaming throughput ---------------------------------------------------

export const throughput = async (b: Bench, r: Report) => {
  const { aSeconds, aWarm, rounds } = sizes(b)
  const entry = (name: string, pid: number | undefined, target: Target): Entry =>
    ({ name, pid, scenario: { target, concurrency: 64, durationMs: aSeconds * 1000 }, warmup: aWarm })
  const names = ["direct (Anthropic request to the upstream)", "bare proxy (same Anthropic request)", "Portkey (OpenAI request, anthropic provider)", "gateway (OpenAI request, `claude/claude-test`)"]
  const runs = await compare(b, "A", [
    ...translatedRequest(b, entry)
  ], rounds, (m) => m.rps)
  const rps = (i: number) => (measured(runs[i]) ? runs[i].rps : NaN)
  r.sections.push([
    "### A. Translated non-streaming, 64 concurrent",
    "",
    `Closed loop, ${aSeconds} s after ${aWarm} warm-up requests. CPU in cores (CPU seconds / wall seconds) of each process over the`,
    "measured run; \"others\": the rest of the machine meanwhile.",
    bestOf(rounds),
    "",
    table(["participant", "req/s", "p50 ms", "p99 ms", "failures", "proxy CPU", "upstream CPU", "load gen CPU", "others CPU"], runs.map((m, i) =>
      !measured(m) ? [names[i]!, `skipped: ${m}`, "", "", "", "", "", "", ""]
        : [names[i]!, f0(m.rps), f2(m.total.p50), f2(m.total.p99), failures(m), cores(m, "proxy"), cores(m, "upstream"), cores(m, "load"), cores(m, "others")])),
    "",
    `gateway / Portkey: **${x(rps(3) / rps(2))}**; gateway / bare proxy: **${x(rps(3) / rps(1))}**; bare proxy / direct: ${x(rps(1) / rps(0))}`
  ].join("\n"))
  const gwOk = measured(runs[3]) && runs[3].failures === 0
  row(r, "A. gateway / Portkey req/s ≥ 5", skipped(b.portkey) ? `skipped: ${b.portkey}` : x(rps(3) / rps(2)), skipped(b.portkey) ? undefined : gwOk && rps(3) / rps(2) >= 5)
  row(r, "A. gateway / bare proxy req/s ≥ 0.7", x(rps(3) / rps(1)), gwOk && rps(3) / rps(1) >= 0.7)
}

// ---- B: latency at c=1 --------------------------------------------------------------------------

export const latency = async (b: Bench, r: Report) => {
  const { bSamples: n, rounds } = sizes(b)
  const entry = (name: string, pid: number | undefined, target: Target): Entry => ({ name, pid, scenario: { target, concurrency: 1, requests: n }, warmup: 200 })
  const names = ["direct", "bare proxy", "Portkey", "gateway"]
  const runs = await compare(b, "B", [
    ...translatedRequest(b, entry)
  ], rounds, (m) => -m.total.p50)
  const direct = runs[0] as Measured
  const added = (m: Measured) => ({ p50: m.total.p50 - direct.total.p50, p99: m.total.p99 - direct.total.p99 })
  r.sections.push([
    "### B. Latency, one request at a time",
    "",
    `${n} requests each (after 200 warm-up), the same requests as A. "Added" is the participant's time minus the direct one, at the`,
    "same percentile.",
    bestOf(rounds),
    "",
    table(["participant", "p50 ms", "p99 ms", "added p50", "added p99", "failures", "proxy CPU", "others CPU"], runs.map((m, i) =>
      !measured(m) ? [names[i]!, `skipped: ${m}`, "", "", "", "", "", ""]
        : [names[i]!, f2(m.total.p50), f2(m.total.p99), i === 0 ? "" : us(added(m).p50), i === 0 ? "" : us(added(m).p99), failures(m), cores(m, "proxy"), cores(m, "others")]))
  ].join("\n"))
  const bare = added(runs[1] as Measured)
  const gw = added(runs[3] as Measured)
  row(r, "B. gateway added p50 ≤ bare added + 150 µs", `${us(gw.p50)} vs ${us(bare.p50)} (+${us(gw.p50 - bare.p50)})`, gw.p50 <= bare.p50 + 0.15)
  row(r, "B. gateway added p99 ≤ bare added + 500 µs", `${us(gw.p99)} vs ${us(bare.p99)} (+${us(gw.p99 - bare.p99)})`, gw.p99 <= bare.p99 + 0.5)
}

// ---- C: streaming throughput --------------------------------------------------------------------

export const streaming = async (b: Bench, r: Report) => {
  const { cSeconds, cWarm, cAlone, rounds } = sizes(b)
  const gw = b.gateway.child.pid
  const paths: Array<{ name: string; kind: "native" | "pass-through" | "translated"; base: number; who: string; pid: number | undefined; target: Target } | string> = [
    { name: "OpenAI", kind: "native", base: 0, who: "bare proxy", pid: b.bare.pid, target: nativeOpenai(b.bare.port, "fast", true) },
    { name: "Anthropic", kind: "native", base: 1, who: "bare proxy", pid: b.bare.pid, target: nativeAnthropic(b.bare.port, "fast", true) },
    { name: "OpenAI → OpenAI", kind: "pass-through", base: 0, who: "gateway", pid: gw, target: gatewayOpenai(b.gateway, "gpt/gpt-test", true) },
    { name: "Anthropic → Anthropic", kind: "pass-through", base: 1, who: "gateway", pid: gw, target: gatewayAnthropic(b.gateway, "claude/claude-test", true) },
    { name: "OpenAI → Anthropic", kind: "translated", base: 1, who: "gateway", pid: gw, target: gatewayOpenai(b.gateway, "claude/claude-test", true) },
    { name: "Anthropic → OpenAI", kind: "translated", base: 0, who: "gateway", pid: gw, target: gatewayAnthropic(b.gateway, "gpt/gpt-test", true) },
    skipped(b.portkey) ? b.portkey : { name: "OpenAI → Anthropic", kind: "translated", base: 1, who: "Portkey", pid: b.portkey.child.pid, target: portkeyOpenai(b.portkey, b.upstream.port, "fast", true) }
  ]
  const label = (p: Exclude<(typeof paths)[number], string>) => `${p.who}, ${p.name}`
  const loaded = await compare(b, "C", paths.map((p) => typeof p === "string" ? p
    : { name: label(p), pid: p.pid, scenario: { target: p.target, concurrency: 32, durationMs: cSeconds * 1000 }, warmup: cWarm }), rounds, (m) => m.textEvents / m.seconds)
  // time to first event with nothing else in flight: what the proxy adds, not queueing under load
  const alone = await compare(b, "C alone", paths.map((p) => typeof p === "string" ? p
    : { name: label(p), pid: p.pid, scenario: { target: p.target, concurrency: 1, requests: cAlone } }), rounds, (m) => -m.firstEvent.p50)
  const rate = (i: number) => (measured(loaded[i]) ? loaded[i].textEvents / loaded[i].seconds : NaN)
  const rows: Array<Array<string>> = []
  let worstTtfe = -Infinity
  for (const [i, p] of paths.entries()) {
    const m = loaded[i]
    const a = alone[i]
    if (typeof p === "string" || !measured(m) || !measured(a)) {
      rows.push(["OpenAI → Anthropic (translated)", "Portkey", `skipped: ${p}`, ...Array<string>(11).fill("")])
      continue
    }
    const base = alone[p.base] as Measured
    const ratio = rate(i) / rate(p.base)
    const ttfe = a.firstEvent.p50 - base.firstEvent.p50
    rows.push([
      p.kind === "native" ? `${p.name} (native stream)` : `${p.name} (${p.kind})`, p.who, f0(m.rps), f0(rate(i)), f0(m.events / m.seconds),
      p.kind === "native" ? "1" : x(ratio), f2(m.firstEvent.p50), f2(a.firstEvent.p50), p.kind === "native" ? "" : us(ttfe), failures(m),
      cores(m, "proxy"), cores(m, "upstream"), cores(m, "load"), cores(m, "others")
    ])
    if (p.who !== "gateway") continue
    worstTtfe = Math.max(worstTtfe, ttfe)
    const goal = p.kind === "pass-through" ? 0.8 : 0.5
    row(r, `C. ${p.kind} ${p.name} stream throughput / bare ≥ ${goal}`, x(ratio), m.failures === 0 && a.failures === 0 && ratio >= goal)
  }
  row(r, "C. time to first event added over bare, p50 ≤ 1 ms (worst path, c=1)", us(worstTtfe), worstTtfe <= 1)
  r.sections.push([
    "### C. Streaming, 50 text events per answer, 32 concurrent",
    "",
    `Closed loop of streams, ${cSeconds} s each after ${cWarm} warm-up streams; the upstream writes all frames at once (interval 0), each`,
    "in its own write. Text events are the frames carrying answer text (50 per stream, whatever the format), so their rate compares",
    "formats fairly; a translated path is compared with the bare proxy relaying the upstream's native stream of the provider it calls.",
    `Time to first event (TTFE) at 32 concurrent includes queueing; "alone" is ${cAlone} streams one at a time, and "added" is over the`,
    "bare proxy's alone.",
    bestOf(rounds),
    "",
    table(["path", "participant", "streams/s", "text events/s", "all events/s", "vs bare", "TTFE p50 ms (c=32)", "TTFE p50 ms (alone)", "TTFE added", "failures", "proxy CPU", "upstream CPU", "load gen CPU", "others CPU"], rows)
  ].join("\n"))
}

// ---- D: 1000 held streams -----------------------------------------------------------------------

export const held = async (b: Bench, r: Report) => {
  const n = 1000
  const { events, intervalMs } = b.held
  const { dRampMs } = sizes(b)
  // the proxies are fresh processes here: a short warm-up of the same path (fast prefix), then the held streams
  const run = async (label: string, pid: number | undefined, target: Target) => {
    b.log(`D ${label}`)
    const fast = (text: string) => text.replace("/held/", "/fast/").replace("-held/", "/")
    const headers = Object.fromEntries(Object.entries(target.headers).map(([k, v]) => [k, fast(v)]))
    await b.load({ target: { ...target, path: fast(target.path), headers, body: fast(target.body) }, concurrency: 16, requests: 300 })
    return measure(b, `D ${label}`, pid, { target, concurrency: n, requests: n, rampMs: dRampMs })
  }
  const runs: Array<[string, string, Measured | string]> = []
  runs.push(["direct", "OpenAI (native stream)", await run("direct", undefined, nativeOpenai(b.upstream.port, "held", true))])
  runs.push(["bare proxy", "OpenAI (native stream)", await run("bare proxy", b.bare.pid, nativeOpenai(b.bare.port, "held", true))])
  runs.push(["gateway", "OpenAI → OpenAI (pass-through)", await run("gateway pass-through", b.gateway.child.pid, gatewayOpenai(b.gateway, "gpt-held/gpt-test", true))])
  runs.push(["gateway", "OpenAI → Anthropic (translated)", await run("gateway translated", b.gateway.child.pid, gatewayOpenai(b.gateway, "claude-held/claude-test", true))])
  runs.push(["Portkey", "OpenAI → Anthropic (translated)", skipped(b.portkey) ? b.portkey : await run("Portkey", b.portkey.child.pid, portkeyOpenai(b.portkey, b.upstream.port, "held", true))])
  const bare = runs[1]![2] as Measured
  r.sections.push([
    `### D. ${n} streams held open`,
    "",
    `${n} streams opened over ${dRampMs / 1000} s (one socket each), the upstream sending one of ${events} text events every ${intervalMs} ms. Longest gap:`,
    "the longest wait between two frames of one stream, as the client saw it. Peak RSS: VmRSS sampled every 200 ms and VmHWM (reset at",
    "the start through /proc/<pid>/clear_refs), of the proxy process, freshly started for D and warmed up with 300 streams of the",
    "same path; CPU over the whole scenario. Direct: the client and the upstream alone, the floor of TTFE and gaps.",
    "",
    table(["participant", "path", "completed", "TTFE p99 ms", "longest gap p99 ms", "longest gap max ms", "RSS before MB", "peak RSS MB", "VmHWM MB", "CPU cores", "vs bare RSS", "vs bare CPU", "upstream CPU", "load gen CPU", "others CPU"],
      runs.map(([who, path, m]) => {
        if (typeof m === "string") return [who, path, `skipped: ${m}`, "", "", "", "", "", "", "", "", "", "", "", ""]
        const proxy = m.cpu.proxy
        const vs = (f: (p: { cores: number; peakRss: number }) => number) => proxy === undefined || who === "bare proxy" ? "" : x(f(proxy) / f(bare.cpu.proxy!))
        return [
          who, path, `${m.ok} / ${n}${m.failures ? ` (${failures(m)})` : ""}`, f2(m.firstEvent.p99), f2(m.maxGap.p99), f2(m.maxGap.max),
          proxy ? f0(proxy.startRss) : "", proxy ? f0(proxy.peakRss) : "", proxy ? f0(proxy.hwm) : "", proxy ? f2(proxy.cores) : "", vs((p) => p.peakRss), vs((p) => p.cores),
          cores(m, "upstream"), cores(m, "load"), cores(m, "others")
        ]
      }))
  ].join("\n"))
  const gw = runs[2]![2] as Measured
  row(r, `D. gateway completes ${n} / ${n} held streams`, `${gw.ok} / ${n}`, gw.ok === n)
  row(r, `D. gateway longest gap p99 ≤ 2 × ${intervalMs} ms`, `${f2(gw.maxGap.p99)} ms`, gw.maxGap.p99 <= 2 * intervalMs)
  row(r, "D. gateway peak RSS ≤ 1.5 × bare", `${f0(gw.cpu.proxy!.peakRss)} vs ${f0(bare.cpu.proxy!.peakRss)} MB (${x(gw.cpu.proxy!.peakRss / bare.cpu.proxy!.peakRss)})`, gw.cpu.proxy!.peakRss <= 1.5 * bare.cpu.proxy!.peakRss)
  row(r, "D. gateway CPU ≤ 2 × bare", `${f2(gw.cpu.proxy!.cores)} vs ${f2(bare.cpu.proxy!.cores)} cores (${x(gw.cpu.proxy!.cores / bare.cpu.proxy!.cores)})`, gw.cpu.proxy!.cores <= 2 * bare.cpu.proxy!.cores)
}

// ---- E and G: memory and cold start, on fresh gateways ------------------------------------------

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms))

/**
 * Readiness, 200 warm-up requests, 2 s: the RSS of a gateway that has just started serving. The first
 * 16 go through the tool loop (no tool called), at once; the other 184, over the four paths, without
 * tools: in cluster mode a tool-loop request takes 2 s (see E's text), which 200 of them would multiply.
 */
const idleRss = async (b: Bench, g: Gateway) => {
  const loop = await b.load({ target: gatewayOpenai(g, "claude/claude-test", false, { "x-orka-tools": "enabled" }), concurrency: 16, requests: 16 })
  const off = { "x-orka-tools": "disabled" }
  const targets = [
    gatewayOpenai(g, "claude/claude-test", false, off), gatewayOpenai(g, "gpt/gpt-test", true, off),
    { ...gatewayAnthropic(g, "claude/claude-test", true), headers: { ...gatewayAnthropic(g, "").headers, ...off } },
    { ...gatewayAnthropic(g, "gpt/gpt-test"), headers: { ...gatewayAnthropic(g, "").headers, ...off } }
  ]
  for (const target of targets) {
    const res = await b.load({ target, concurrency: 4, requests: 46 })
    if (res.failures > 0) throw new Error(`warm-up failed: ${res.firstFailure}`)
  }
  if (loop.failures > 0) throw new Error(`tool-loop warm-up failed: ${loop.firstFailure}`)
  // idle: past the gateway's own release of pooled memory (--idle-memory-release, 3 s here)
  await sleep(5000)
  return { rss: memory(g.child.pid).rss, loopMs: loop.total.p50 }
}

export const memoryAndColdStart = async (b: Bench, r: Report) => {
  const prefixes = { "": "fast" }
  // E, local mode, production defaults (tools on)
  b.log("E local-mode gateway, idle")
  const release = ["--idle-memory-release", "3"]
  const local = await startGateway({ upstreamPort: b.upstream.port, prefixes, flags: release })
  const { rss: idle, loopMs: localLoopMs } = await idleRss(b, local)
  const large = "x ".repeat(2.5 * 1024 * 1024) // 5 MB of text
  const user = [{ role: "user", content: large }]
  const bodies: Array<Target> = [
    { ...gatewayOpenai(local, ""), body: JSON.stringify({ model: "gpt/gpt-test", messages: user }) },
    { ...gatewayOpenai(local, ""), body: JSON.stringify({ model: "claude/claude-test", messages: user }) },
    { ...gatewayAnthropic(local, ""), body: JSON.stringify({ model: "claude/claude-test", max_tokens: 10, messages: user }) },
    { ...gatewayAnthropic(local, ""), body: JSON.stringify({ model: "gpt/gpt-test", max_tokens: 10, messages: user }) }
  ]
  const perPath = sizes(b).eBodies
  b.log(`E ${perPath} × 4 bodies of 5 MB`)
  let heavyFailures = 0
  for (const target of bodies) heavyFailures += (await b.load({ target, concurrency: 4, requests: perPath })).failures
  const afterHeavy = memory(local.child.pid)
  const heavyDone = performance.now()

  // while it settles, the cold starts and the cluster-mode gateway, which do not touch it
  const runs = sizes(b).gRuns
  b.log(`G ${runs} cold starts`)
  const cold: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const g = await startGateway({ upstreamPort: b.upstream.port, prefixes })
    cold.push(g.readyMs)
    await g.stop()
  }
  b.log("E cluster-mode gateway, idle")
  const cluster = await startGateway({ upstreamPort: b.upstream.port, prefixes, mode: "cluster", flags: release })
    .then((g) => idleRss(b, g).finally(() => g.stop()))
    .catch((e: Error) => e.message)
  await sleep(Math.max(0, 13_000 - (performance.now() - heavyDone)))
  const settled = memory(local.child.pid).rss
  await local.stop()

  const clusterMb = typeof cluster === "string" ? `failed: ${cluster}` : f0(cluster.rss)
  r.sections.push([
    "### E. Memory",
    "",
    "Fresh gateways with the production defaults (tools on) but `--idle-memory-release 3` (10 s by default). Idle: right after",
    "readiness, 200 warm-up requests (16 through the tool loop, no tool called, then 46 on each of the four paths without tools),",
    `then 5 s, past the gateway's own release of the memory it pooled. Heavy: ${perPath} bodies of 5 MB on each of the four paths, 4 at`,
    "a time; settled: 13 s later (the cold starts of G and the cluster-mode gateway run meanwhile; they do not touch this one).",
    "Cluster mode: informers, TokenReview and SubjectAccessReview against the fake API server of test/support/fake-apiserver.ts",
    "(in the bench's process): the real-apiserver tier of test/support/apiserver.ts serves custom resources only, not the Secrets,",
    "reviews and Leases the gateway needs. `node bench/memory.ts` remains the longer abuse run (fuzz of both doors, then 5 MB bodies).",
    "",
    table(["moment", "RSS MB", "above idle MB", "tool-loop request p50 ms (warm-up)"], [
      ["local mode, idle", f0(idle), "0", f2(localLoopMs)],
      [`after ${perPath} × 4 bodies of 5 MB${heavyFailures ? ` (**${heavyFailures} failed**)` : ""}`, f0(afterHeavy.rss), f0(afterHeavy.rss - idle), ""],
      ["its peak (VmHWM) so far", f0(afterHeavy.hwm), f0(afterHeavy.hwm - idle), ""],
      ["settled, 13 s after", f0(settled), f0(settled - idle), ""],
      ["cluster mode, idle", clusterMb, "", typeof cluster === "string" ? "" : f2(cluster.loopMs)]
    ])
  ].join("\n"))
  row(r, "E. idle RSS, local mode ≤ 100 MB", `${f0(idle)} MB`, idle <= 100)
  row(r, "E. idle RSS, cluster mode ≤ 130 MB", typeof cluster === "string" ? clusterMb : `${clusterMb} MB`, typeof cluster !== "string" && cluster.rss <= 130)
  row(r, "E. RSS settled after 5 MB bodies ≤ idle + 50 MB", `${f0(settled)} MB (${settled >= idle ? "+" : ""}${f0(settled - idle)})`, heavyFailures === 0 && settled - idle <= 50)
  if (typeof cluster !== "string" && cluster.loopMs > 1000) {
    findings.push(`E: in cluster mode a tool-loop request (no tool called) took ${f0(cluster.loopMs)} ms at p50 (local mode: ${f2(localLoopMs)} ms)`)
  }

  const sorted = [...cold].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]!
  r.sections.push([
    "### G. Cold start",
    "",
    "Spawn of `node bin/orka-gateway.js serve` (local mode) until `/readyz` first answers 200, polled every 5 ms.",
    "",
    table(["runs", "best ms", "median ms", "all ms"], [[String(runs), f0(sorted[0]!), f0(median), cold.map(f0).join(", ")]])
  ].join("\n"))
  row(r, "G. cold start to /readyz, median ≤ 1.5 s", `${f0(median)} ms (best ${f0(sorted[0]!)})`, median <= 1500)
}

/** One gateway's runs side by side, by what differs between them (F, H). */
const gatewayRuns = (differs: string, runs: ReadonlyArray<readonly [string, Measured]>) =>
  table([differs, "req/s", "p50 ms", "p99 ms", "failures", "gateway CPU", "others CPU"], runs.map(([name, m]) =>
    [name, f0(m.rps), f2(m.total.p50), f2(m.total.p99), failures(m), cores(m, "proxy"), cores(m, "others")]))

// ---- F: the tool loop when no tool is called -----------------------------------------------------

export const toolLoop = async (b: Bench, r: Report, upstreamStats: () => Promise<Record<string, number>>) => {
  const { fSeconds, fWarm, rounds } = sizes(b)
  const target = (tools: string) => gatewayOpenai(b.gateway, "claude/claude-test", false, { "x-orka-tools": tools })
  // first, that the loop runs as meant: one model call per request, tool definitions only with tools on
  const probe = async (tools: string) => {
    const before = await upstreamStats()
    const res = await b.load({ target: target(tools), concurrency: 4, requests: 40 })
    const after = await upstreamStats()
    const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0)
    return { ok: res.ok, calls: delta("/fast/v1/messages"), withTools: delta("/fast/v1/messages tools") }
  }
  const probeOn = await probe("enabled")
  const probeOff = await probe("disabled")
  const [on, off] = await compare(b, "F", [
    { name: "tools enabled", pid: b.gateway.child.pid, scenario: { target: target("enabled"), concurrency: 16, durationMs: fSeconds * 1000 }, warmup: fWarm },
    { name: "tools disabled", pid: b.gateway.child.pid, scenario: { target: target("disabled"), concurrency: 16, durationMs: fSeconds * 1000 }, warmup: fWarm }
  ], rounds, (m) => m.rps) as [Measured, Measured]
  const ratio = on.rps / off.rps
  const loopAsMeant = probeOn.calls === probeOn.ok && probeOn.withTools === probeOn.calls && probeOff.withTools === 0
  r.sections.push([
    "### F. Tool loop, no tool called",
    "",
    `OpenAI → Anthropic, non-streaming, 16 concurrent, ${fSeconds} s each. The upstream answers text, so the loop ends after one model`,
    `call: 40 requests with tools on made ${probeOn.calls} upstream calls, ${probeOn.withTools} of them with tool definitions; 40 with`,
    `tools off made ${probeOff.calls}, ${probeOff.withTools} with tool definitions.`,
    bestOf(rounds),
    "",
    gatewayRuns("X-Orka-Tools", [["enabled", on], ["disabled", off]]),
    "",
    `enabled / disabled: **${x(ratio)}**`
  ].join("\n"))
  if (!loopAsMeant) findings.push(`F: the tool loop did not run as meant (tools on: ${probeOn.calls} calls for ${probeOn.ok} requests, ${probeOn.withTools} with tools; off: ${probeOff.withTools} with tools)`)
  row(r, "F. tool loop (no tool called) / tools off req/s ≥ 0.9", x(ratio), on.failures === 0 && loopAsMeant && ratio >= 0.9)
}

// ---- H: tracing off and on -----------------------------------------------------------------------

/** An OTLP/HTTP endpoint that takes the gateway's spans and keeps only their count. */
const spanSink = async () => {
  let requests = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      requests++
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports: () => requests, close: () => new Promise<void>((r) => server.close(() => r())) }
}

export const tracing = async (b: Bench, r: Report) => {
  const { fSeconds, fWarm, rounds } = sizes(b)
  const sink = await spanSink()
  // two fresh gateways, so that neither has warmed up longer than the other
  const start = (env?: Record<string, string>) =>
    startGateway({ upstreamPort: b.upstream.port, prefixes: { "": "fast" }, flags: ["--tools-default", "disabled"], ...(env === undefined ? {} : { env }) })
  const plain = await start()
  // spans leave every 200 ms, so that the sink sees them during the run
  const traced = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_BSP_SCHEDULE_DELAY: "200" })
  try {
    const entry = (name: string, g: Gateway): Entry => ({
      name,
      pid: g.child.pid,
      scenario: { target: gatewayOpenai(g, "claude/claude-test"), concurrency: 16, durationMs: fSeconds * 1000 },
      warmup: fWarm
    })
    const [off, on] = await compare(b, "H", [entry("tracing off", plain), entry("tracing on", traced)], rounds, (m) => m.rps) as [Measured, Measured]
    const ratio = on.rps / off.rps
    r.sections.push([
      "### H. Tracing off and on",
      "",
      `OpenAI → Anthropic, non-streaming, 16 concurrent, ${fSeconds} s each, on two gateways started for this: one without tracing,`,
      `one exporting every span over OTLP/HTTP to a sink that took ${sink.exports()} exports.`,
      bestOf(rounds),
      "",
      gatewayRuns("tracing", [["off", off], ["on", on]]),
      "",
      `on / off: **${x(ratio)}**`
    ].join("\n"))
    if (sink.exports() === 0) findings.push("H: the traced gateway exported no spans")
    row(r, "H. tracing on / off req/s (no target)", x(ratio), undefined)
  } finally {
    await Promise.all([plain.stop(), traced.stop()])
    await sink.close()
  }
}

// ---- I: limits, in memory and in Redis --------------------------------------------------------------

/** p50 ms of a Redis PING's round trip on a bare socket, one at a time: what one check costs at least on this machine. */
const pingRoundTrip = async (url: string, n: number) => {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  socket.setNoDelay(true)
  await once(socket, "connect")
  let answered: () => void = () => {}
  socket.on("data", () => answered())
  const ping = () => new Promise<void>((resolve) => {
    answered = resolve
    socket.write("PING\r\n")
  })
  try {
    for (let i = 0; i < 100; i++) await ping()
    const times: Array<number> = []
    for (let i = 0; i < n; i++) {
      const started = performance.now()
      await ping()
      times.push(performance.now() - started)
    }
    return times.sort((a, b) => a - b)[Math.floor(n / 2)]!
  } finally {
    socket.destroy()
  }
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * One gateway, the same request to a Provider under no limit and to its twin under every kind, in
 * alternating blocks (which one goes first alternates too): what limits add is read as the median of
 * the blocks' differences, so that the machine's drift and a process's own state cancel out.
 */
const pairedBlocks = async (b: Bench, g: Gateway, blocks: number, perBlock: number) => {
  const target = (model: string) => gatewayOpenai(g, model)
  const free = target("claude/claude-test")
  const limited = target("claude-limited/claude-test")
  for (const t of [free, limited]) await b.load({ target: t, concurrency: 1, requests: 200 })
  const runs = { free: [] as Array<Result>, limited: [] as Array<Result> }
  for (let i = 0; i < blocks; i++) {
    const order = i % 2 === 0 ? (["free", "limited"] as const) : (["limited", "free"] as const)
    for (const which of order) runs[which].push(await b.load({ target: which === "free" ? free : limited, concurrency: 1, requests: perBlock }))
  }
  const failed = [...runs.free, ...runs.limited].reduce((n, m) => n + m.failures, 0)
  const firstFailure = [...runs.free, ...runs.limited].find((m) => m.firstFailure !== undefined)?.firstFailure
  return {
    free: median(runs.free.map((m) => m.total.p50)),
    limited: median(runs.limited.map((m) => m.total.p50)),
    added: median(runs.limited.map((m, i) => m.total.p50 - runs.free[i]!.total.p50)),
    failures: failed === 0 ? "0" : `**${failed}**: ${firstFailure?.replace(/\|/g, "/").replace(/\s+/g, " ").slice(0, 160)}`
  }
}

export const limits = async (b: Bench, r: Report) => {
  const { bSamples: n, rounds } = sizes(b)
  const blocks = rounds > 1 ? 10 : 4
  const perBlock = Math.round(n / blocks)
  const { redisMissing, startRedis } = await import("../test/support/redis.ts")
  const redis = redisMissing === undefined ? await startRedis() : undefined
  const start = (flags: ReadonlyArray<string> = []) =>
    startGateway({ upstreamPort: b.upstream.port, prefixes: { "": "fast" }, flags: ["--tools-default", "disabled", ...flags], limited: true })
  const gateways = [await start(), ...(redis === undefined ? [] : [await start(["--redis-url", redis.url])])]
  try {
    const names = ["limits in memory", "limits in Redis"]
    const measured: Array<Awaited<ReturnType<typeof pairedBlocks>>> = []
    for (const [i, g] of gateways.entries()) {
      b.log(`I ${names[i]}: ${blocks} blocks of ${perBlock} requests each way`)
      measured.push(await pairedBlocks(b, g, blocks, perBlock))
    }
    const ping = redis === undefined ? undefined : await pingRoundTrip(redis.url, n)
    r.sections.push([
      "### I. Limits, one request at a time",
      "",
      `The request of B, one at a time, on a gateway started for this, to a Provider under no limit and to its twin whose`,
      "requests and caller are under every kind of limit (never reached): counted in memory, and on another gateway in a Redis on",
      `loopback (${redis === undefined ? `skipped: ${redisMissing}` : "one Lua script per request, and its settlement"}). ${blocks} blocks of ${perBlock} requests`,
      "each way, alternating (after 200 of each to warm up); p50 is the median of the blocks' p50s, and added p50 the median of",
      "the differences between a block under limits and the one beside it without.",
      ...(ping === undefined ? [] : [`One Redis PING from the bench's own process, one at a time, took ${us(ping)} at p50.`]),
      "",
      table(["gateway", "p50 ms, no limit", "p50 ms, limits", "added p50", "failures"], measured.map((m, i) =>
        [names[i]!, f2(m.free), f2(m.limited), us(m.added), m.failures]))
    ].join("\n"))
    row(r, "I. limits in memory: added p50 (no target of its own)", us(measured[0]!.added), undefined)
    if (measured[1] === undefined) row(r, "I. limits in Redis: added p50 ≤ 300 µs", `skipped: ${redisMissing}`, undefined)
    else row(r, "I. limits in Redis: added p50 ≤ 300 µs", `${us(measured[1].added)} (a PING: ${us(ping!)})`, measured[1].added <= 0.3)
  } finally {
    await Promise.all(gateways.map((g) => g.stop()))
    await redis?.close()
  }
}
