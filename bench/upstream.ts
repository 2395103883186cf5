/**
 * The fake provider: a plain node:http server speaking Anthropic Messages and OpenAI Chat Completions
 * (JSON and SSE) from precomputed bodies, so it costs little next to what is measured.
 *   node bench/upstream.ts [prefix=events:intervalMs ...]    e.g. fast=50:0 held=60:100
 * A path prefix picks the stream's shape (`/held/v1/messages`), since Provider baseURLs can carry it
 * and the proxies need not forward headers; `x-bench-events` and `x-bench-interval-ms` override it.
 * Interval 0 writes every frame at once, each in its own write; -1 writes them all in one (so that a
 * reader gets them in one chunk, whatever its speed: bench/instructions.ts). Prints {"port"} once listening;
 * `GET /stats` answers the requests seen per path (and how many carried `tools`). Exits when stdin
 * closes (the bench is gone).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"

const prefixes = new Map<string, { events: number; intervalMs: number }>(process.argv.slice(2).map((arg) => {
  const [name, shape] = arg.split("=")
  const [events, intervalMs] = shape!.split(":").map(Number)
  return [`/${name}`, { events: events!, intervalMs: intervalMs! }]
}))

const word = (i: number) => `w${i} `
const sse = (event: string | undefined, data: unknown) =>
  Buffer.from(`${event === undefined ? "" : `event: ${event}\n`}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`)

const anthropicFrames = (n: number): Array<Buffer> => [
  sse("message_start", {
    type: "message_start",
    message: {
      id: "msg_bench", type: "message", role: "assistant", model: "claude-test", content: [], stop_reason: null, stop_sequence: null,
      usage: { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 }
    }
  }),
  sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
  ...Array.from({ length: n }, (_, i) => sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: word(i) } })),
  sse("content_block_stop", { type: "content_block_stop", index: 0 }),
  sse("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: n } }),
  sse("message_stop", { type: "message_stop" })
]

const openaiFrames = (n: number, usage: boolean): Array<Buffer> => {
  const base = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1_700_000_000, model: "gpt-test", system_fingerprint: "fp_bench" }
  const chunk = (delta: object, finish: string | null = null) =>
    sse(undefined, { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(usage ? { usage: null } : {}) })
  return [
    chunk({ role: "assistant", content: "", refusal: null }),
    ...Array.from({ length: n }, (_, i) => chunk({ content: word(i) })),
    chunk({}, "stop"),
    ...(usage ? [sse(undefined, { ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: n, total_tokens: 10 + n } })] : []),
    sse(undefined, "[DONE]")
  ]
}

const text = (n: number) => Array.from({ length: n }, (_, i) => word(i)).join("")
const anthropicMessage = (n: number) => Buffer.from(JSON.stringify({
  id: "msg_bench", type: "message", role: "assistant", model: "claude-test", content: [{ type: "text", text: text(n) }],
  stop_reason: "end_turn", stop_sequence: null, usage: { input_tokens: 10, output_tokens: n }
}))
const openaiCompletion = (n: number) => Buffer.from(JSON.stringify({
  id: "chatcmpl-bench", object: "chat.completion", created: 1_700_000_000, model: "gpt-test",
  choices: [{ index: 0, message: { role: "assistant", content: text(n), refusal: null }, logprobs: null, finish_reason: "stop" }],
  usage: { prompt_tokens: 10, completion_tokens: n, total_tokens: 10 + n }
}))

// bodies computed once per shape
const cache = new Map<string, Buffer | Array<Buffer>>()
const cached = <A extends Buffer | Array<Buffer>>(key: string, make: () => A): A => {
  let value = cache.get(key) as A | undefined
  if (value === undefined) cache.set(key, (value = make()))
  return value
}

const stats: Record<string, number> = {}
const jsonHeaders = (length: number) => ({ "content-type": "application/json", "content-length": String(length) })
const sseHeaders = { "content-type": "text/event-stream", "cache-control": "no-cache" }

const stream = (res: ServerResponse, frames: Array<Buffer>, intervalMs: number) => {
  res.writeHead(200, sseHeaders)
  if (intervalMs < 0) return res.end(Buffer.concat(frames))
  if (intervalMs === 0) {
    for (const frame of frames) res.write(frame)
    return res.end()
  }
  let i = 0
  const next = () => {
    if (res.destroyed) return
    res.write(frames[i++]!)
    if (i === frames.length) return res.end()
    setTimeout(next, intervalMs)
  }
  next()
}

const answer = (req: IncomingMessage, res: ServerResponse, body: string) => {
  const url = req.url ?? "/"
  const slash = url.indexOf("/", 1)
  const shape = prefixes.get(slash > 0 ? url.slice(0, slash) : url) ?? { events: 50, intervalMs: 0 }
  const events = Number(req.headers["x-bench-events"] ?? shape.events)
  const intervalMs = Number(req.headers["x-bench-interval-ms"] ?? shape.intervalMs)
  const path = url.split("?")[0]!
  stats[path] = (stats[path] ?? 0) + 1
  // whether the gateway's tool loop sent its tool definitions (scenario F checks it did)
  if (body.includes('"tools"')) stats[`${path} tools`] = (stats[`${path} tools`] ?? 0) + 1
  const streamed = /"stream"\s*:\s*true/.test(body)
  if (path.endsWith("/v1/messages")) {
    if (streamed) return stream(res, cached(`a${events}`, () => anthropicFrames(events)), intervalMs)
    const json = cached(`A${events}`, () => anthropicMessage(events))
    res.writeHead(200, jsonHeaders(json.length))
    return res.end(json)
  }
  if (path.endsWith("/chat/completions")) {
    const usage = /"include_usage"\s*:\s*true/.test(body)
    if (streamed) return stream(res, cached(`o${events}${usage}`, () => openaiFrames(events, usage)), intervalMs)
    const json = cached(`O${events}`, () => openaiCompletion(events))
    res.writeHead(200, jsonHeaders(json.length))
    return res.end(json)
  }
  if (path === "/stats") {
    const json = Buffer.from(JSON.stringify(stats))
    res.writeHead(200, jsonHeaders(json.length))
    return res.end(json)
  }
  res.writeHead(404, jsonHeaders(2))
  res.end("{}")
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (c: Buffer) => chunks.push(c))
  req.on("end", () => answer(req, res, chunks.length === 1 ? chunks[0]!.toString("latin1") : Buffer.concat(chunks).toString("latin1")))
})
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })))
process.stdin.on("end", () => process.exit(0)).resume()
