/**
 * Anthropic providers: the neutral conversation as a Messages API request, and the Messages API's
 * JSON and SSE answers back as IR. Answers are decoded with Schemas that check what is read; other
 * fields are dropped, and event types newer than this code are passed over.
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Sse from "effect/encoding/Sse"
import { endedEarly, type GatewayError, gatewayError, malformedAnswer } from "../../errors.ts"
import type { Conversation, Part, ToolDefinition } from "../../ir/conversation.ts"
import type { Completion, FinishReason, StreamEvent, Usage } from "../../ir/response.ts"
import { isJsonObject } from "../../json.ts"
import { maybe } from "../decoding.ts"
import { decodeEvents, eventData, eventJson, isModelOutput, type ProviderCodec } from "../wire.ts"
import { finishReasonOf, toolCallOf, toolInput, usageOf } from "./vocabulary.ts"

type Json = Record<string, unknown>

const block = (part: Part): Array<Json> =>
  part.type !== "thinking" && part.cacheControl !== undefined
    ? blockOf(part).map((b) => ({ ...b, cache_control: part.cacheControl }))
    : blockOf(part)

const blockOf = (part: Part): Array<Json> => {
  switch (part.type) {
    case "text":
      return part.text === "" ? [] : [{ type: "text", text: part.text }] // Anthropic rejects empty text blocks
    case "image":
      return [{
        type: "image",
        source: part.source.kind === "base64"
          ? { type: "base64", media_type: part.source.mediaType, data: part.source.data }
          : { type: "url", url: part.source.url }
      }]
    case "tool_call":
      return [{ type: "tool_use", id: part.id, name: part.name, input: toolInput(part) }]
    case "tool_result":
      return [{
        type: "tool_result",
        tool_use_id: part.callId,
        content: part.content.flatMap(block),
        ...(part.isError === true ? { is_error: true } : {})
      }]
    case "thinking":
      // Thinking can only be replayed with its signature.
      return part.signature === undefined ? [] : [{ type: "thinking", thinking: part.text, signature: part.signature }]
  }
}

const toolChoice = (c: Conversation): Json | undefined => {
  const base: Json | undefined = c.toolChoice === undefined
    ? undefined
    : c.toolChoice.type === "required"
    ? { type: "any" }
    : c.toolChoice.type === "tool"
    ? { type: "tool", name: c.toolChoice.name }
    : { type: c.toolChoice.type }
  if (c.parallelToolCalls === false && c.tools.length > 0) return { ...(base ?? { type: "auto" }), disable_parallel_tool_use: true }
  return base
}

/** Thinking budgets for the Responses API's `reasoning.effort` levels (none and minimal: no thinking). */
const thinkingBudgets: Readonly<Record<string, number>> = { low: 2048, medium: 8192, high: 24576, xhigh: 32000 }

/** Anthropic's least thinking budget; it must also stay below `max_tokens`. */
const leastThinkingBudget = 1024

/**
 * Extended thinking for a `reasoningEffort`, unless the client asked for thinking itself. Its budget
 * takes at most half of `max_tokens`; a smaller `max_tokens`, or a forced tool choice (which thinking
 * does not allow), means no thinking.
 */
const thinkingFor = (c: Conversation, maxTokens: number): Json | undefined => {
  const budget = c.reasoningEffort === undefined ? undefined : thinkingBudgets[c.reasoningEffort]
  if (budget === undefined || c.extensions.anthropic?.["thinking"] !== undefined) return undefined
  if (c.toolChoice?.type === "required" || c.toolChoice?.type === "tool") return undefined
  const fitted = Math.min(budget, Math.floor(maxTokens / 2))
  return fitted < leastThinkingBudget ? undefined : { type: "enabled", budget_tokens: fitted }
}

/** A tool definition as the Messages API takes it. */
export const encodeTool = (t: ToolDefinition): Json => ({
  name: t.name,
  ...(t.description === undefined ? {} : { description: t.description }),
  input_schema: t.parameters,
  ...(t.cacheControl === undefined ? {} : { cache_control: t.cacheControl })
})

/** The Messages API request body for a conversation. */
export const encodeRequest = (c: Conversation, defaultMaxTokens: number, stream: boolean): Json => {
  const messages = c.messages.map((m) => {
    // tool_result blocks must open their user turn
    const content = [...m.content].sort((a, b) => Number(b.type === "tool_result") - Number(a.type === "tool_result"))
    return { role: m.role, content: content.flatMap(block) }
  })
  const choice = toolChoice(c)
  const maxTokens = c.maxTokens ?? defaultMaxTokens
  const thinking = thinkingFor(c, maxTokens)
  return {
    ...c.extensions.anthropic,
    ...(thinking === undefined ? {} : { thinking }),
    model: c.model,
    ...(c.system.length === 0 ? {} : {
      system: c.system.length === 1 && c.system[0]!.cacheControl === undefined ? c.system[0]!.text : c.system.flatMap(block)
    }),
    messages,
    max_tokens: maxTokens,
    ...(c.tools.length === 0 ? {} : {
      tools: c.tools.map(encodeTool)
    }),
    ...(choice === undefined ? {} : { tool_choice: choice }),
    // with thinking, Anthropic takes neither a temperature nor a top_p below 0.95
    ...(c.temperature === undefined || thinking !== undefined ? {} : { temperature: c.temperature }),
    ...(c.topP === undefined || (thinking !== undefined && c.topP < 0.95) ? {} : { top_p: c.topP }),
    ...(c.stop === undefined || c.stop.length === 0 ? {} : { stop_sequences: c.stop }),
    ...(c.user === undefined ? {} : { metadata: { ...(c.extensions.anthropic?.["metadata"] as Json | undefined), user_id: c.user } }),
    ...(stream ? { stream: true } : {})
  }
}


// What is read of an answer, as Schemas; the rest of each object is dropped as it is decoded.

const Count = maybe(Schema.Number)

const UsageJson = Schema.Struct({
  input_tokens: Count,
  output_tokens: Count,
  cache_read_input_tokens: Count,
  cache_creation_input_tokens: Count
})

/** A content block of an answer: its type, and the fields of the types the IR carries. */
const AnswerBlock = Schema.Struct({
  type: Schema.String,
  text: Schema.optionalKey(Schema.String),
  id: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
  input: Schema.optionalKey(Schema.Unknown),
  thinking: Schema.optionalKey(Schema.String),
  signature: Schema.optionalKey(Schema.String)
})

const Message = Schema.Struct({
  id: Schema.optionalKey(Schema.String),
  model: Schema.optionalKey(Schema.String),
  content: Schema.Array(AnswerBlock),
  stop_reason: maybe(Schema.String),
  stop_sequence: maybe(Schema.String),
  usage: Schema.optionalKey(UsageJson)
})

const Delta = Schema.Struct({
  type: Schema.optionalKey(Schema.String),
  text: Schema.optionalKey(Schema.String),
  partial_json: Schema.optionalKey(Schema.String),
  thinking: Schema.optionalKey(Schema.String),
  signature: Schema.optionalKey(Schema.String),
  stop_reason: maybe(Schema.String),
  stop_sequence: maybe(Schema.String)
})

/** Any event: its type, and the fields the events this code reads have. */
const Event = Schema.Struct({
  type: Schema.optionalKey(Schema.String),
  index: Schema.optionalKey(Schema.Number),
  message: Schema.optionalKey(Schema.Struct({ id: Schema.optionalKey(Schema.String), model: Schema.optionalKey(Schema.String), usage: Schema.optionalKey(UsageJson) })),
  content_block: Schema.optionalKey(AnswerBlock),
  delta: Schema.optionalKey(Delta),
  usage: Schema.optionalKey(UsageJson),
  error: Schema.optionalKey(Schema.Struct({ type: Schema.optionalKey(Schema.String), message: Schema.optionalKey(Schema.String) }))
})

const decodeMessageJson = Schema.decodeUnknownResult(Message)
const decodeEventJson = Schema.decodeUnknownResult(Event)

const answerPart = (b: typeof AnswerBlock.Type): Array<Part> => {
  if (b.type === "text" && b.text !== undefined) return [{ type: "text", text: b.text }]
  if (b.type === "tool_use") {
    const { id = "", input, name = "" } = b
    return [isJsonObject(input) ? toolCallOf(id, name, input) : { type: "tool_call", id, name, arguments: JSON.stringify(input ?? {}) }]
  }
  if (b.type === "thinking" && b.thinking !== undefined) {
    return [{ type: "thinking", text: b.thinking, ...(b.signature === undefined ? {} : { signature: b.signature }) }]
  }
  return []
}

export const decodeMessage = (provider: string, json: unknown): Effect.Effect<Completion, GatewayError> => {
  const decoded = decodeMessageJson(json)
  if (Result.isFailure(decoded)) return Effect.fail(malformedAnswer(provider))
  const m = decoded.success
  return Effect.succeed({
    id: m.id ?? "",
    model: m.model ?? "",
    content: m.content.flatMap(answerPart),
    finishReason: finishReasonOf(m.stop_reason),
    ...(typeof m.stop_sequence === "string" ? { stopSequence: m.stop_sequence } : {}),
    usage: usageOf(m.usage)
  })
}

/** An `event: error` from Anthropic, as the error the client should see. */
export const streamError = (provider: string, error: { readonly type?: string; readonly message?: string } | undefined): GatewayError => {
  const message = `provider ${provider}: ${error?.message ?? "stream error"}`
  switch (error?.type) {
    case "overloaded_error":
      return gatewayError("overloaded", message)
    case "rate_limit_error":
      return gatewayError("rate_limit", message)
    case "invalid_request_error":
      return gatewayError("invalid_request", message)
    case "not_found_error":
      return gatewayError("not_found", message)
    default:
      return gatewayError("upstream", message)
  }
}

interface StreamState {
  /** Anthropic block index → IR tool-call index */
  readonly tools: Map<number, number>
  usage: Usage
  reason: FinishReason
  stopSequence: string | undefined
  finished: boolean
}

/**
 * The text of a `text_delta`, most of a stream's events, read by hand: the fields it is read for,
 * checked without the Schema's cost per event. Any other event, or one of another shape, is
 * undefined (and decoded by the Schema).
 */
const textDelta = (json: unknown): string | undefined => {
  if (typeof json !== "object" || json === null) return undefined
  const { type, delta } = json as { readonly type?: unknown; readonly delta?: { readonly type?: unknown; readonly text?: unknown } | null }
  if (type !== "content_block_delta" || typeof delta !== "object" || delta === null || delta.type !== "text_delta") return undefined
  return typeof delta.text === "string" ? delta.text : undefined
}

/** One SSE event as IR events, or a failure for `event: error` and unreadable data. */
const decodeEvent = (provider: string, state: StreamState, event: Sse.Event): Result.Result<ReadonlyArray<StreamEvent>, GatewayError> => {
  const json = eventJson(event.data)
  const text = textDelta(json)
  if (text !== undefined) return Result.succeed([{ type: "text", text }])
  const data = eventData<typeof Event>(decodeEventJson, json)
  if (data === undefined) return Result.fail(malformedAnswer(provider))
  switch (data.type ?? event.event) {
    case "message_start": {
      state.usage = usageOf(data.message?.usage)
      return Result.succeed([{ type: "start", id: data.message?.id ?? "", model: data.message?.model ?? "", usage: state.usage }])
    }
    case "content_block_start": {
      const b = data.content_block
      if (b?.type === "tool_use") {
        const index = state.tools.size
        state.tools.set(data.index ?? -1, index)
        return Result.succeed([{ type: "tool_call_start", index, id: b.id ?? "", name: b.name ?? "" }])
      }
      if (b?.type === "text" && b.text !== undefined && b.text !== "") return Result.succeed([{ type: "text", text: b.text }])
      return Result.succeed([])
    }
    case "content_block_delta": {
      const d = data.delta
      switch (d?.type) {
        case "text_delta":
          return Result.succeed([{ type: "text", text: d.text ?? "" }])
        case "input_json_delta": {
          const index = state.tools.get(data.index ?? -1)
          const fragment = d.partial_json ?? ""
          return Result.succeed(index === undefined || fragment === "" ? [] : [{ type: "tool_call_delta", index, arguments: fragment }])
        }
        case "thinking_delta":
          return Result.succeed([{ type: "thinking", text: d.thinking ?? "" }])
        case "signature_delta":
          return Result.succeed([{ type: "thinking", text: "", signature: d.signature ?? "" }])
        default:
          return Result.succeed([])
      }
    }
    case "message_delta": {
      if (typeof data.delta?.stop_reason === "string") state.reason = finishReasonOf(data.delta.stop_reason)
      if (typeof data.delta?.stop_sequence === "string") state.stopSequence = data.delta.stop_sequence
      state.usage = usageOf(data.usage, state.usage) // cumulative counts
      return Result.succeed([])
    }
    case "message_stop":
      state.finished = true
      return Result.succeed([{
        type: "finish",
        reason: state.reason,
        ...(state.stopSequence === undefined ? {} : { stopSequence: state.stopSequence }),
        usage: state.usage
      }])
    case "error":
      return Result.fail(streamError(provider, data.error))
    default: // ping, content_block_stop, and event types newer than this code
      return Result.succeed([])
  }
}

const decodeStream = (provider: string, events: Stream.Stream<Sse.Event, GatewayError>): Stream.Stream<StreamEvent, GatewayError> =>
  Stream.suspend(() => {
    const state: StreamState = { tools: new Map(), usage: { inputTokens: 0, outputTokens: 0 }, reason: "end_turn", stopSequence: undefined, finished: false }
    return decodeEvents(events, {
      decode: (event) => decodeEvent(provider, state, event),
      ends: (_, decoded) => decoded.some((e) => e.type === "finish"),
      isOutput: isModelOutput,
      atEnd: () => (state.finished ? Result.succeed([]) : Result.fail(endedEarly(provider)))
    })
  })

/** What Anthropic providers need of a request beyond the conversation. */
export interface AnthropicOptions {
  /** `max_tokens` when the client sent none (Anthropic requires one) */
  readonly defaultMaxTokens: number
}

export const anthropicCodec: ProviderCodec<AnthropicOptions> = {
  encodeRequest: (c, stream, options) => encodeRequest(c, options.defaultMaxTokens, stream),
  encodeTool,
  decodeAnswer: decodeMessage,
  decodeStream
}
