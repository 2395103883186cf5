/**
 * The `openai` provider type (OpenAI and every OpenAI-compatible server) and, through the same code,
 * `azure-openai`: the neutral conversation as a Chat Completions request, the answers back as IR.
 */
import { Effect, Stream } from "effect"
import type { Sse } from "effect/encoding"
import { endedEarly, type GatewayError, gatewayError, malformedAnswer } from "../errors.ts"
import type { Conversation, ImagePart, Part } from "../ir/conversation.ts"
import { textOf } from "../ir/conversation.ts"
import type { Completion, FinishReason, StreamEvent, Usage } from "../ir/response.ts"
import type { ResolvedProvider } from "../providers/provider.ts"
import type { BackendFactory } from "./backend.ts"
import { openaiCompatibleTarget } from "./targets.ts"

type Json = Record<string, unknown>

const imageUrl = (p: ImagePart): Json => ({
  type: "image_url",
  image_url: {
    url: p.source.kind === "base64" ? `data:${p.source.mediaType};base64,${p.source.data}` : p.source.url,
    ...(p.detail === undefined ? {} : { detail: p.detail })
  }
})

const userContent = (parts: ReadonlyArray<Part>): string | Array<Json> => {
  const visible = parts.filter((p) => p.type === "text" || p.type === "image")
  if (visible.every((p) => p.type === "text")) return textOf(visible)
  return visible.map((p) => (p.type === "image" ? imageUrl(p) : { type: "text", text: (p as { text: string }).text }))
}

/** IR messages as Chat Completions messages: tool results become `tool` messages before the user's words. */
const messages = (c: Conversation): Array<Json> => {
  const out: Array<Json> = []
  if (c.system.length > 0) out.push({ role: "system", content: c.system.map((p) => p.text).join("\n\n") })
  for (const m of c.messages) {
    if (m.role === "system") {
      out.push({ role: "system", content: textOf(m.content) })
      continue
    }
    if (m.role === "assistant") {
      const calls = m.content.flatMap((p) =>
        p.type === "tool_call" ? [{ id: p.id, type: "function", function: { name: p.name, arguments: p.arguments } }] : [])
      const text = textOf(m.content)
      out.push({ role: "assistant", content: text === "" && calls.length > 0 ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}) })
      continue
    }
    const images: Array<ImagePart> = []
    for (const p of m.content) {
      if (p.type !== "tool_result") continue
      out.push({ role: "tool", tool_call_id: p.callId, content: textOf(p.content) })
      // a tool message holds text only: images a tool returned follow as a user message
      images.push(...p.content.flatMap((q) => (q.type === "image" ? [q] : [])))
    }
    const rest = [...images, ...m.content.filter((p) => p.type === "text" || p.type === "image")]
    if (rest.length > 0) out.push({ role: "user", content: userContent(rest) })
  }
  return out
}

const toolChoice = (c: Conversation): unknown =>
  c.toolChoice === undefined
    ? undefined
    : c.toolChoice.type === "tool"
    ? { type: "function", function: { name: c.toolChoice.name } }
    : c.toolChoice.type

export interface EncodeOptions {
  /** api.openai.com knows `max_completion_tokens`; older compatible servers only `max_tokens` */
  readonly maxTokensField: "max_tokens" | "max_completion_tokens"
  /** whether the server accepts `stream_options` */
  readonly streamOptions: boolean
}

export const encodeRequest = (c: Conversation, stream: boolean, options: EncodeOptions): Json => {
  const choice = toolChoice(c)
  return {
    ...c.extensions.openai,
    model: c.model,
    messages: messages(c),
    ...(c.tools.length === 0 ? {} : {
      tools: c.tools.map((t) => ({
        type: "function",
        function: {
          name: t.name,
          ...(t.description === undefined ? {} : { description: t.description }),
          parameters: t.parameters,
          ...(t.strict === undefined ? {} : { strict: t.strict })
        }
      }))
    }),
    ...(choice === undefined ? {} : { tool_choice: choice }),
    ...(c.parallelToolCalls === undefined || c.tools.length === 0 ? {} : { parallel_tool_calls: c.parallelToolCalls }),
    ...(c.maxTokens === undefined ? {} : { [options.maxTokensField]: c.maxTokens }),
    ...(c.temperature === undefined ? {} : { temperature: c.temperature }),
    ...(c.topP === undefined ? {} : { top_p: c.topP }),
    ...(c.stop === undefined || c.stop.length === 0 ? {} : { stop: c.stop }),
    ...(c.user === undefined ? {} : { user: c.user }),
    ...(stream ? { stream: true, ...(options.streamOptions ? { stream_options: { include_usage: true } } : {}) } : {})
  }
}

const finishReasons: Record<string, FinishReason> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "content_filter"
}

const usage = (u: unknown): Usage => {
  const j = (u ?? {}) as Json
  const details = (j["prompt_tokens_details"] ?? {}) as Json
  return {
    inputTokens: typeof j["prompt_tokens"] === "number" ? j["prompt_tokens"] : 0,
    outputTokens: typeof j["completion_tokens"] === "number" ? j["completion_tokens"] : 0,
    ...(typeof details["cached_tokens"] === "number" && details["cached_tokens"] > 0 ? { cacheReadTokens: details["cached_tokens"] } : {})
  }
}


export const decodeCompletion = (provider: string, json: unknown): Effect.Effect<Completion, GatewayError> => {
  const body = json as Json
  const choice = Array.isArray(body?.["choices"]) ? (body["choices"][0] as Json | undefined) : undefined
  const message = choice?.["message"] as Json | undefined
  if (message === undefined) return Effect.fail(malformedAnswer(provider))
  const content: Array<Part> = []
  if (typeof message["reasoning_content"] === "string" && message["reasoning_content"] !== "") {
    content.push({ type: "thinking", text: message["reasoning_content"] })
  }
  if (typeof message["content"] === "string" && message["content"] !== "") content.push({ type: "text", text: message["content"] })
  for (const call of (message["tool_calls"] ?? []) as Array<Json>) {
    const fn = (call["function"] ?? {}) as Json
    content.push({ type: "tool_call", id: String(call["id"]), name: String(fn["name"]), arguments: String(fn["arguments"] ?? "") })
  }
  return Effect.succeed({
    id: String(body["id"] ?? ""),
    model: String(body["model"] ?? ""),
    content,
    finishReason: finishReasons[String(choice?.["finish_reason"])] ?? "end_turn",
    usage: usage(body["usage"])
  })
}

/** A chunk carrying `error` (some servers report failures mid-stream this way). */
const chunkError = (provider: string, error: Json): GatewayError => {
  const message = `provider ${provider}: ${typeof error["message"] === "string" ? error["message"] : "stream error"}`
  const kind = `${String(error["type"] ?? "")} ${String(error["code"] ?? "")}`
  if (/rate_limit/.test(kind)) return gatewayError("rate_limit", message)
  if (/overloaded/.test(kind)) return gatewayError("overloaded", message)
  return gatewayError("upstream", message)
}

interface StreamState {
  started: boolean
  /** the server's tool-call index → IR index */
  readonly tools: Map<number, number>
  reason: FinishReason | undefined
  usage: Usage
}

const decodeChunk = (provider: string, state: StreamState, event: Sse.Event): Effect.Effect<ReadonlyArray<StreamEvent>, GatewayError> => {
  if (event.data === "[DONE]") return Effect.succeed([])
  let chunk: Json
  try {
    chunk = JSON.parse(event.data) as Json
  } catch {
    return Effect.fail(malformedAnswer(provider))
  }
  if (typeof chunk["error"] === "object" && chunk["error"] !== null) return Effect.fail(chunkError(provider, chunk["error"] as Json))
  const out: Array<StreamEvent> = []
  const choices = Array.isArray(chunk["choices"]) ? (chunk["choices"] as Array<Json>) : []
  if (!state.started && (choices.length > 0 || chunk["usage"] !== undefined)) {
    state.started = true
    out.push({ type: "start", id: String(chunk["id"] ?? ""), model: String(chunk["model"] ?? "") })
  }
  if (chunk["usage"] !== undefined && chunk["usage"] !== null) state.usage = usage(chunk["usage"])
  const choice = choices[0]
  if (choice === undefined) return Effect.succeed(out)
  const delta = (choice["delta"] ?? {}) as Json
  if (typeof delta["reasoning_content"] === "string" && delta["reasoning_content"] !== "") {
    out.push({ type: "thinking", text: delta["reasoning_content"] })
  }
  if (typeof delta["content"] === "string" && delta["content"] !== "") out.push({ type: "text", text: delta["content"] })
  for (const call of (delta["tool_calls"] ?? []) as Array<Json>) {
    const fn = (call["function"] ?? {}) as Json
    const serverIndex = typeof call["index"] === "number" ? call["index"] : state.tools.size
    let index = state.tools.get(serverIndex)
    if (index === undefined) {
      index = state.tools.size
      state.tools.set(serverIndex, index)
      out.push({ type: "tool_call_start", index, id: String(call["id"] ?? `call_${index}`), name: String(fn["name"] ?? "") })
    }
    if (typeof fn["arguments"] === "string" && fn["arguments"] !== "") out.push({ type: "tool_call_delta", index, arguments: fn["arguments"] })
  }
  if (typeof choice["finish_reason"] === "string") state.reason = finishReasons[choice["finish_reason"]] ?? "end_turn"
  return Effect.succeed(out)
}

export interface Dialect {
  /** encoding choices for this provider */
  readonly options: (provider: ResolvedProvider) => EncodeOptions
}

/** The Chat Completions backend; `openai` and `azure-openai` differ only in endpoint and options. */
export const makeChatCompletionsBackend = (dialect: Dialect): BackendFactory => (upstream) => {
  const call = (c: Conversation, provider: ResolvedProvider, stream: boolean) =>
    openaiCompatibleTarget(provider, c.model).pipe(Effect.flatMap((target) =>
      upstream.send({
        provider: provider.name,
        ...target,
        body: JSON.stringify(encodeRequest(c, stream, dialect.options(provider))),
        expect: stream ? "sse" : "json"
      })
    ))
  return {
    complete: (c, provider) =>
      call(c, provider, false).pipe(
        Effect.flatMap((response) => upstream.json(provider.name, response)),
        Effect.flatMap((json) => decodeCompletion(provider.name, json))
      ),
    stream: (c, provider) =>
      Stream.unwrap(Effect.map(call(c, provider, true), (response) => {
        const state: StreamState = { started: false, tools: new Map(), reason: undefined, usage: { inputTokens: 0, outputTokens: 0 } }
        const finish = Stream.suspend((): Stream.Stream<StreamEvent, GatewayError> => {
          // Some compatible servers omit [DONE]; a finish_reason is enough to know the answer is whole.
          if (state.reason === undefined) {
            return Stream.fail(endedEarly(provider.name))
          }
          return Stream.succeed({ type: "finish", reason: state.reason, usage: state.usage })
        })
        return upstream.events(provider.name, response).pipe(
          Stream.takeUntil((event) => event.data === "[DONE]"),
          Stream.mapEffect((event) => decodeChunk(provider.name, state, event)),
          Stream.flatMap((events) => Stream.fromIterable(events)),
          Stream.concat(finish)
        )
      }))
  }
}

const isOpenAI = (provider: ResolvedProvider) => /^https:\/\/api\.openai\.com(\/|$)/.test(provider.baseURL)

export const openaiBackend: BackendFactory = makeChatCompletionsBackend({
  options: (provider) => ({ maxTokensField: isOpenAI(provider) ? "max_completion_tokens" : "max_tokens", streamOptions: true })
})
