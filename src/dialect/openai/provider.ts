/**
 * OpenAI-shaped providers (OpenAI, every OpenAI-compatible server, Azure OpenAI): the neutral
 * conversation as a Chat Completions request, and the answers, JSON or SSE chunks, back as IR,
 * decoded with Schemas that check what is read (nothing else of an answer is kept).
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Sse from "effect/encoding/Sse"
import { endedEarly, type GatewayError, gatewayError, malformedAnswer } from "../../errors.ts"
import type { Conversation, ImagePart, Part, ToolDefinition } from "../../ir/conversation.ts"
import { textOf } from "../../ir/conversation.ts"
import type { Completion, FinishReason, StreamEvent, Usage } from "../../ir/response.ts"
import { maybe } from "../decoding.ts"
import { decodeEvents, eventData, eventJson, isModelOutput, type ProviderCodec } from "../wire.ts"
import { finishReasonOf, usageOf } from "./vocabulary.ts"

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

/** How a provider's variant of Chat Completions wants its request (api.openai.com, a compatible server, Azure). */
export interface ChatCompletionsVariant {
  /** api.openai.com knows `max_completion_tokens`; older compatible servers only `max_tokens` */
  readonly maxTokensField: "max_tokens" | "max_completion_tokens"
  /** whether the server accepts `stream_options` */
  readonly streamOptions: boolean
}

/** A tool definition as Chat Completions takes it. */
export const encodeTool = (t: ToolDefinition): Json => ({
  type: "function",
  function: {
    name: t.name,
    ...(t.description === undefined ? {} : { description: t.description }),
    parameters: t.parameters,
    ...(t.strict === undefined ? {} : { strict: t.strict })
  }
})

export const encodeRequest = (c: Conversation, stream: boolean, options: ChatCompletionsVariant): Json => {
  const choice = toolChoice(c)
  return {
    ...c.extensions.openai,
    model: c.model,
    messages: messages(c),
    ...(c.tools.length === 0 ? {} : {
      tools: c.tools.map(encodeTool)
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


// What is read of an answer, as Schemas; the rest of each object is dropped as it is decoded.

const Count = maybe(Schema.Number)
const Text = maybe(Schema.String)

const UsageJson = Schema.NullOr(Schema.Struct({
  prompt_tokens: Count,
  completion_tokens: Count,
  prompt_tokens_details: maybe(Schema.Struct({ cached_tokens: Count })),
  completion_tokens_details: maybe(Schema.Struct({ reasoning_tokens: Count }))
}))

const ToolCall = Schema.Struct({
  index: Schema.optionalKey(Schema.Number),
  id: maybe(Schema.String),
  function: Schema.optionalKey(Schema.Struct({ name: Text, arguments: Text }))
})

/** A message, or a chunk's delta: `reasoning_content` is what DeepSeek-style servers send of their thinking. */
const MessageJson = Schema.Struct({
  content: Text,
  reasoning_content: Text,
  tool_calls: maybe(Schema.Array(ToolCall))
})

const Choice = Schema.Struct({
  message: Schema.optionalKey(MessageJson),
  delta: Schema.optionalKey(MessageJson),
  finish_reason: Text
})

const ErrorJson = Schema.Struct({ message: Text, type: Text, code: Schema.optionalKey(Schema.Unknown) })

/** A completion or a chunk: both have an id, a model, choices and usage. */
const Answer = Schema.Struct({
  id: Schema.optionalKey(Schema.String),
  model: Schema.optionalKey(Schema.String),
  choices: Schema.optionalKey(Schema.Array(Choice)),
  usage: Schema.optionalKey(UsageJson),
  error: maybe(ErrorJson)
})

const decodeAnswerJson = Schema.decodeUnknownResult(Answer)

export const decodeCompletion = (provider: string, json: unknown): Effect.Effect<Completion, GatewayError> => {
  const decoded = decodeAnswerJson(json)
  const body = Result.isSuccess(decoded) ? decoded.success : undefined
  const choice = body?.choices?.[0]
  const message = choice?.message
  if (body === undefined || message === undefined) return Effect.fail(malformedAnswer(provider))
  const content: Array<Part> = []
  if (typeof message.reasoning_content === "string" && message.reasoning_content !== "") content.push({ type: "thinking", text: message.reasoning_content })
  if (typeof message.content === "string" && message.content !== "") content.push({ type: "text", text: message.content })
  for (const call of message.tool_calls ?? []) {
    content.push({ type: "tool_call", id: call.id ?? "", name: call.function?.name ?? "", arguments: call.function?.arguments ?? "" })
  }
  return Effect.succeed({
    id: body.id ?? "",
    model: body.model ?? "",
    content,
    finishReason: finishReasonOf(choice?.finish_reason ?? ""),
    usage: usageOf(body.usage)
  })
}

/** A chunk carrying `error` (some servers report failures mid-stream this way). */
const chunkError = (provider: string, error: typeof ErrorJson.Type): GatewayError => {
  const message = `provider ${provider}: ${error.message ?? "stream error"}`
  const kind = `${error.type ?? ""} ${String(error.code ?? "")}`
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

const isAbsent = (value: unknown) => value === undefined || value === null

/**
 * The text of a chunk that carries only text, most of a stream's chunks once it started, read by
 * hand: the fields it is read for, checked without the Schema's cost per chunk. A chunk with
 * anything else to read (a finish, usage, tool calls, reasoning, an error) is undefined (and decoded
 * by the Schema).
 */
const textChunk = (json: unknown): string | undefined => {
  if (typeof json !== "object" || json === null) return undefined
  const { choices, usage, error } = json as { readonly choices?: unknown; readonly usage?: unknown; readonly error?: unknown }
  if (!isAbsent(usage) || !isAbsent(error) || !Array.isArray(choices) || choices.length === 0) return undefined
  const choice = choices[0] as { readonly delta?: unknown; readonly finish_reason?: unknown } | null
  if (typeof choice !== "object" || choice === null || !isAbsent(choice.finish_reason)) return undefined
  const delta = choice.delta as { readonly content?: unknown; readonly reasoning_content?: unknown; readonly tool_calls?: unknown } | null | undefined
  if (typeof delta !== "object" || delta === null || !isAbsent(delta.reasoning_content) || !isAbsent(delta.tool_calls)) return undefined
  return typeof delta.content === "string" ? delta.content : undefined
}

const decodeChunk = (provider: string, state: StreamState, event: Sse.Event): Result.Result<ReadonlyArray<StreamEvent>, GatewayError> => {
  if (event.data === "[DONE]") return Result.succeed([])
  const json = eventJson(event.data)
  const text = state.started ? textChunk(json) : undefined
  if (text !== undefined) return Result.succeed(text === "" ? [] : [{ type: "text", text }])
  const chunk = eventData<typeof Answer>(decodeAnswerJson, json)
  if (chunk === undefined) return Result.fail(malformedAnswer(provider))
  if (chunk.error !== undefined && chunk.error !== null) return Result.fail(chunkError(provider, chunk.error))
  const out: Array<StreamEvent> = []
  const choices = chunk.choices ?? []
  if (!state.started && (choices.length > 0 || chunk.usage !== undefined)) {
    state.started = true
    out.push({ type: "start", id: chunk.id ?? "", model: chunk.model ?? "" })
  }
  if (chunk.usage !== undefined && chunk.usage !== null) state.usage = usageOf(chunk.usage)
  const choice = choices[0]
  if (choice === undefined) return Result.succeed(out)
  const delta = choice.delta ?? {}
  if (typeof delta.reasoning_content === "string" && delta.reasoning_content !== "") out.push({ type: "thinking", text: delta.reasoning_content })
  if (typeof delta.content === "string" && delta.content !== "") out.push({ type: "text", text: delta.content })
  for (const call of delta.tool_calls ?? []) {
    const serverIndex = call.index ?? state.tools.size
    let index = state.tools.get(serverIndex)
    if (index === undefined) {
      index = state.tools.size
      state.tools.set(serverIndex, index)
      out.push({ type: "tool_call_start", index, id: call.id ?? `call_${index}`, name: call.function?.name ?? "" })
    }
    const fragment = call.function?.arguments
    if (typeof fragment === "string" && fragment !== "") out.push({ type: "tool_call_delta", index, arguments: fragment })
  }
  if (typeof choice.finish_reason === "string") state.reason = finishReasonOf(choice.finish_reason)
  return Result.succeed(out)
}

const decodeStream = (provider: string, events: Stream.Stream<Sse.Event, GatewayError>): Stream.Stream<StreamEvent, GatewayError> =>
  Stream.suspend(() => {
    const state: StreamState = { started: false, tools: new Map(), reason: undefined, usage: { inputTokens: 0, outputTokens: 0 } }
    return decodeEvents(events, {
      decode: (event) => decodeChunk(provider, state, event),
      ends: (event) => event.data === "[DONE]",
      isOutput: isModelOutput,
      // Some compatible servers omit [DONE]; a finish_reason is enough to know the answer is whole.
      atEnd: (): Result.Result<ReadonlyArray<StreamEvent>, GatewayError> =>
        state.reason === undefined ? Result.fail(endedEarly(provider)) : Result.succeed([{ type: "finish", reason: state.reason, usage: state.usage }])
    })
  })

export const chatCompletionsCodec: ProviderCodec<ChatCompletionsVariant> = {
  encodeRequest,
  encodeTool,
  decodeAnswer: decodeCompletion,
  decodeStream
}
