/**
 * The load generator, a child process of its own so its CPU is not the proxies': it takes scenarios
 * over IPC, one at a time, and answers each with a summary. Closed-loop workers on a keep-alive
 * Agent (one socket per worker); streamed answers are parsed into SSE frames, timing the first
 * frame, the longest gap between frames, and whether the final one (`message_stop`, `[DONE]`) came.
 */
import { Agent, request } from "node:http"

export interface Target {
  readonly port: number
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string
  readonly stream: boolean
}

export interface Scenario {
  readonly target: Target
  readonly concurrency: number
  /** closed loop for this long... */
  readonly durationMs?: number
  /** ...or this many requests in all */
  readonly requests?: number
  /** the workers' starts spread over this long */
  readonly rampMs?: number
}

export interface Stats {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

export interface Result {
  readonly requests: number
  readonly ok: number
  readonly failures: number
  readonly firstFailure?: string
  readonly seconds: number
  readonly rps: number
  /** milliseconds */
  readonly total: Stats
  readonly firstEvent: Stats
  readonly maxGap: Stats
  readonly events: number
  readonly textEvents: number
}

interface Sample {
  readonly ok: boolean
  readonly failure?: string
  readonly total: number
  readonly first: number
  readonly maxGap: number
  readonly events: number
  readonly text: number
}

// a frame that carries answer text: `"text":"w1 "` (Anthropic) or `"content":"w1 "` (OpenAI), not an empty one
const textFrame = /"(?:text|content)":"[^"]/
const finalFrame = (frame: string) => frame.includes("[DONE]") || frame.includes("message_stop")

const once = (t: Target, body: Buffer, agent: Agent): Promise<Sample> =>
  new Promise((resolve) => {
    const t0 = performance.now()
    let first = 0
    let last = 0
    let maxGap = 0
    let events = 0
    let text = 0
    let done = false
    let pending = ""
    let status = 0
    const fail = (failure: string) => resolve({ ok: false, failure, total: performance.now() - t0, first: first - t0, maxGap, events, text })
    const req = request({ host: "127.0.0.1", port: t.port, method: "POST", path: t.path, headers: { ...t.headers, "content-length": String(body.length) }, agent }, (res) => {
      status = res.statusCode ?? 0
      res.setEncoding("latin1")
      res.on("data", (chunk: string) => {
        const now = performance.now()
        if (!t.stream || status !== 200) {
          if (first === 0) first = now
          pending += chunk
          return
        }
        pending += chunk
        let frames = 0
        for (let end = pending.indexOf("\n\n"); end >= 0; end = pending.indexOf("\n\n")) {
          const frame = pending.slice(0, end)
          pending = pending.slice(end + 2)
          if (frame.startsWith(":")) continue // an SSE comment (keep-alive), not an event
          frames++
          events++
          if (textFrame.test(frame)) text++
          if (finalFrame(frame)) done = true
        }
        if (frames === 0) return
        if (first === 0) first = now
        else maxGap = Math.max(maxGap, now - last)
        last = now
      })
      res.on("end", () => {
        if (status !== 200) return fail(`${status} ${pending.slice(0, 300)}`)
        if (t.stream && !done) return fail(`stream ended without its final event after ${events} events`)
        if (!t.stream && !pending.includes("w0 ")) return fail(`unexpected answer ${pending.slice(0, 300)}`)
        resolve({ ok: true, total: performance.now() - t0, first: first - t0, maxGap, events, text })
      })
      res.on("error", (e) => fail(e.message))
    })
    req.on("error", (e) => fail(e.message))
    req.end(body)
  })

const stats = (values: Array<number>): Stats => {
  if (values.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN }
  const sorted = Float64Array.from(values).sort()
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1]! }
}

const run = async (s: Scenario): Promise<Result> => {
  const agent = new Agent({ keepAlive: true, maxSockets: s.concurrency, maxFreeSockets: s.concurrency })
  const body = Buffer.from(s.target.body)
  const loop = async (count: number, until: number, record: (x: Sample) => void) => {
    let started = 0
    const worker = async (i: number) => {
      if (s.rampMs) await new Promise((r) => setTimeout(r, (i * s.rampMs!) / s.concurrency))
      while (started < count && performance.now() < until) {
        started++
        record(await once(s.target, body, agent))
      }
    }
    await Promise.all(Array.from({ length: s.concurrency }, (_, i) => worker(i)))
  }
  const samples: Array<Sample> = []
  const t0 = performance.now()
  await loop(s.requests ?? Infinity, s.durationMs === undefined ? Infinity : t0 + s.durationMs, (x) => samples.push(x))
  const seconds = (performance.now() - t0) / 1000
  agent.destroy()
  const ok = samples.filter((x) => x.ok)
  return {
    requests: samples.length,
    ok: ok.length,
    failures: samples.length - ok.length,
    ...(ok.length < samples.length ? { firstFailure: samples.find((x) => !x.ok)!.failure } : {}),
    seconds,
    rps: ok.length / seconds,
    total: stats(ok.map((x) => x.total)),
    firstEvent: stats(ok.map((x) => x.first)),
    maxGap: stats(ok.map((x) => x.maxGap)),
    events: ok.reduce((n, x) => n + x.events, 0),
    textEvents: ok.reduce((n, x) => n + x.text, 0)
  }
}

process.on("message", async (message: { id: number; scenario: Scenario }) => {
  const result = await run(message.scenario).catch((e: Error) => ({ error: e.message }))
  process.send!({ id: message.id, result })
})
process.on("disconnect", () => process.exit(0))
