/**
 * A scripted provider on a loopback port that speaks the real wire formats: Anthropic Messages
 * (JSON, and SSE with `event:` lines, `ping`, content blocks, `input_json_delta`, `message_delta`
 * usage), OpenAI / Azure Chat Completions (JSON, and `data:` chunks ending in `[DONE]`) and the
 * OpenAI Responses API (at a path ending in `/responses`: see responses-wire.ts).
 * Each request takes the next scripted reply (the last one repeats) and is recorded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { responsesEvents, responsesObject } from "./responses-wire.ts"

export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: any
}

/** What the model says, independent of the wire format. */
export interface Answer {
  readonly id?: string
  readonly model?: string
  /** signed thinking before the text (Anthropic's wire format only) */
  readonly thinking?: { readonly text: ReadonlyArray<string>; readonly signature: string }
  readonly text?: ReadonlyArray<string>
  readonly toolCalls?: ReadonlyArray<{ readonly id: string; readonly name: string; readonly fragments: ReadonlyArray<string> }>
  readonly stop?: "end_turn" | "max_tokens" | "tool_use" | "stop_sequence"
  readonly inputTokens?: number
  readonly outputTokens?: number
}

export type Reply =
  | { readonly answer: Answer; readonly chunkDelayMs?: number; readonly splitBytes?: number; readonly failAfter?: number }
  | { readonly status: number; readonly body: unknown; readonly headers?: Record<string, string> }
  /**
   * raw SSE text, sent as is (in pieces of `splitBytes`, a millisecond apart, when given); then the
   * response ends, or its connection is reset (`then: "reset"`), or nothing more comes (`"stall"`)
   */
  | { readonly sse: string; readonly splitBytes?: number; readonly then?: "reset" | "stall" }
  /** never answers (for disconnect tests) */
  | { readonly hang: true }
  /**
   * a whole HTTP response written as is to the socket, which then closes: a body delimited by the
   * connection's end, so a cut one looks like a clean end to the reader
   */
  | { readonly wire: string }
  /** this status, with a body that echoes the request (its headers and body), as some proxies do */
  | { readonly echo: number; readonly as?: "json" | "text" }

export interface ScriptedUpstream {
  readonly url: string
  readonly requests: Array<RecordedRequest>
  /** requests whose client went away before the answer was complete */
  readonly aborted: () => number
  script(...replies: ReadonlyArray<Reply>): void
  close(): Promise<void>
}

const anthropicStop = (a: Answer) => a.stop ?? (a.toolCalls?.length ? "tool_use" : "end_turn")
const openaiStop = (a: Answer) => ({ end_turn: "stop", stop_sequence: "stop", max_tokens: "length", tool_use: "tool_calls" })[anthropicStop(a)]

export const anthropicEvents = (a: Answer, failAfter?: number): string => {
  const frames: Array<[string, unknown]> = []
  frames.push(["message_start", {
    type: "message_start",
    message: {
      id: a.id ?? "msg_01Test", type: "message", role: "assistant", model: a.model ?? "claude-test", content: [],
      stop_reason: null, stop_sequence: null,
      usage: { input_tokens: a.inputTokens ?? 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 }
    }
  }])
  frames.push(["ping", { type: "ping" }])
  let index = 0
  if (a.thinking !== undefined) {
    frames.push(["content_block_start", { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } }])
    for (const t of a.thinking.text) frames.push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: t } }])
    frames.push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "signature_delta", signature: a.thinking.signature } }])
    frames.push(["content_block_stop", { type: "content_block_stop", index }])
    index++
  }
  if (a.text?.length) {
    frames.push(["content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }])
    for (const t of a.text) frames.push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: t } }])
    frames.push(["content_block_stop", { type: "content_block_stop", index }])
    index++
  }
  for (const call of a.toolCalls ?? []) {
    frames.push(["content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: call.id, name: call.name, input: {} } }])
    frames.push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: "" } }])
    for (const f of call.fragments) frames.push(["content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: f } }])
    frames.push(["content_block_stop", { type: "content_block_stop", index }])
    index++
  }
  frames.push(["message_delta", { type: "message_delta", delta: { stop_reason: anthropicStop(a), stop_sequence: null }, usage: { output_tokens: a.outputTokens ?? 5 } }])
  frames.push(["message_stop", { type: "message_stop" }])
  const cut = failAfter === undefined ? frames : [...frames.slice(0, failAfter), ["error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }] as [string, unknown]]
  return cut.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("")
}

export const anthropicMessage = (a: Answer) => ({
  id: a.id ?? "msg_01Test", type: "message", role: "assistant", model: a.model ?? "claude-test",
  content: [
    ...(a.thinking === undefined ? [] : [{ type: "thinking", thinking: a.thinking.text.join(""), signature: a.thinking.signature }]),
    ...(a.text?.length ? [{ type: "text", text: a.text.join("") }] : []),
    ...(a.toolCalls ?? []).map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: JSON.parse(c.fragments.join("") || "{}") }))
  ],
  stop_reason: anthropicStop(a), stop_sequence: null,
  usage: { input_tokens: a.inputTokens ?? 10, output_tokens: a.outputTokens ?? 5 }
})

export const openaiChunks = (a: Answer, includeUsage: boolean, failAfter?: number): string => {
  const base = { id: a.id ?? "chatcmpl-test", object: "chat.completion.chunk", created: 1_700_000_000, model: a.model ?? "gpt-test", system_fingerprint: "fp_test" }
  const chunk = (delta: object, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(includeUsage ? { usage: null } : {}) })
  const chunks: Array<unknown> = [chunk({ role: "assistant", content: "", refusal: null })]
  for (const t of a.text ?? []) chunks.push(chunk({ content: t }))
  ;(a.toolCalls ?? []).forEach((call, index) => {
    chunks.push(chunk({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] }))
    for (const f of call.fragments) chunks.push(chunk({ tool_calls: [{ index, function: { arguments: f } }] }))
  })
  chunks.push(chunk({}, openaiStop(a)))
  if (includeUsage) {
    const input = a.inputTokens ?? 10
    const output = a.outputTokens ?? 5
    chunks.push({ ...base, choices: [], usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output } })
  }
  if (failAfter !== undefined) {
    return [...chunks.slice(0, failAfter), { error: { message: "The server had an error while processing your request.", type: "server_error", param: null, code: null } }]
      .map((c) => `data: ${JSON.stringify(c)}\n\n`).join("")
  }
  return chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n"
}

export const openaiCompletion = (a: Answer) => {
  const input = a.inputTokens ?? 10
  const output = a.outputTokens ?? 5
  const calls = (a.toolCalls ?? []).map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.fragments.join("") } }))
  return {
    id: a.id ?? "chatcmpl-test", object: "chat.completion", created: 1_700_000_000, model: a.model ?? "gpt-test",
    choices: [{
      index: 0,
      message: { role: "assistant", content: a.text?.length ? a.text.join("") : null, ...(calls.length ? { tool_calls: calls } : {}), refusal: null },
      logprobs: null, finish_reason: openaiStop(a)
    }],
    usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output }
  }
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
  })

/** Writes `text` in pieces of `split` bytes (to prove parsers cope with events split across reads). */
const writeSlowly = async (res: ServerResponse, text: string, split: number | undefined, delayMs: number) => {
  const bytes = Buffer.from(text)
  const size = split ?? bytes.length
  for (let i = 0; i < bytes.length && !res.destroyed; i += size) {
    res.write(bytes.subarray(i, i + size))
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
  }
}

export const startScriptedUpstream = async (): Promise<ScriptedUpstream> => {
  const requests: Array<RecordedRequest> = []
  let replies: Array<Reply> = [{ answer: { text: ["Hello", " world"] } }]
  let aborted = 0

  const server = createServer(async (req, res) => {
    const raw = await readBody(req)
    let body: any = raw
    try {
      body = JSON.parse(raw)
    } catch {
      // recorded as text
    }
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body })
    const reply = replies.length > 1 ? replies.shift()! : replies[0]!
    res.on("close", () => {
      if (!res.writableFinished) aborted++
    })
    if ("hang" in reply) return
    if ("wire" in reply) return void req.socket.end(reply.wire)
    if ("echo" in reply) {
      const said = `internal error; request headers were ${JSON.stringify(req.headers)} and the body was ${raw}`
      res.writeHead(reply.echo, { "content-type": reply.as === "text" ? "text/plain" : "application/json" })
      return res.end(reply.as === "text" ? said : JSON.stringify({ error: { type: "api_error", message: said } }))
    }
    if ("status" in reply) {
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
      return res.end(JSON.stringify(reply.body))
    }
    const anthropic = (req.url ?? "").includes("/v1/messages")
    const responses = /\/responses(\?|$)/.test(req.url ?? "")
    if ("sse" in reply) {
      res.writeHead(200, { "content-type": "text/event-stream" })
      if (reply.then !== undefined) {
        await writeSlowly(res, reply.sse, reply.splitBytes, 1)
        if (reply.then === "reset") setTimeout(() => req.socket.resetAndDestroy(), 20)
        return
      }
      if (reply.splitBytes !== undefined) await writeSlowly(res, reply.sse, reply.splitBytes, 1)
      return res.end(reply.splitBytes === undefined ? reply.sse : undefined)
    }
    if (body?.stream !== true) {
      res.writeHead(200, { "content-type": "application/json", "request-id": "req_test" })
      return res.end(JSON.stringify(anthropic ? anthropicMessage(reply.answer) : responses ? responsesObject(reply.answer) : openaiCompletion(reply.answer)))
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
    const text = anthropic
      ? anthropicEvents(reply.answer, reply.failAfter)
      : responses
      ? responsesEvents(reply.answer, reply.failAfter)
      : openaiChunks(reply.answer, body?.stream_options?.include_usage === true, reply.failAfter)
    // one event at a time, so a delay paces events
    const events = text.split(/(?<=\n\n)/)
    for (const event of events) {
      if (res.destroyed) return
      await writeSlowly(res, event, reply.splitBytes, reply.chunkDelayMs ?? 0)
    }
    res.end()
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    aborted: () => aborted,
    script: (...next) => {
      replies = [...next]
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      })
  }
}
