/**
 * The Messages API's own vocabulary, both ways: stop reasons, usage, a tool call's `input`, message
 * ids. The client side (answers to Anthropic clients) and the provider side (requests to and answers
 * from Anthropic providers) share these, so each is said once.
 */
import type { ToolCallPart } from "../../ir/conversation.ts"
import type { FinishReason, Usage } from "../../ir/response.ts"
import { parseJsonObject } from "../../json.ts"

const finishReasons: Readonly<Record<string, FinishReason>> = {
  end_turn: "end_turn",
  stop_sequence: "stop_sequence",
  max_tokens: "max_tokens",
  tool_use: "tool_use",
  refusal: "refusal",
  pause_turn: "end_turn",
  model_context_window_exceeded: "max_tokens"
}

/** A provider's `stop_reason` in IR terms (ones newer than this code end the turn). */
export const finishReasonOf = (stopReason: string | null | undefined): FinishReason => finishReasons[stopReason ?? ""] ?? "end_turn"

export type StopReason = "end_turn" | "stop_sequence" | "max_tokens" | "tool_use" | "refusal"

/** The IR's finish reason as a `stop_reason` for Anthropic clients. */
export const stopReason = (reason: FinishReason): StopReason => (reason === "content_filter" ? "refusal" : reason)

export interface UsageJson {
  readonly input_tokens?: number | null | undefined
  readonly output_tokens?: number | null | undefined
  readonly cache_read_input_tokens?: number | null | undefined
  readonly cache_creation_input_tokens?: number | null | undefined
}

/** A provider's usage, on top of what an earlier event said (message_delta's counts are cumulative). */
export const usageOf = (u: UsageJson | undefined, base: Usage = { inputTokens: 0, outputTokens: 0 }): Usage => {
  const cacheRead = u?.cache_read_input_tokens ?? base.cacheReadTokens
  const cacheWrite = u?.cache_creation_input_tokens ?? base.cacheWriteTokens
  return {
    inputTokens: Math.max(u?.input_tokens ?? 0, base.inputTokens),
    outputTokens: u?.output_tokens ?? base.outputTokens,
    ...(cacheRead === undefined ? {} : { cacheReadTokens: cacheRead }),
    ...(cacheWrite === undefined ? {} : { cacheWriteTokens: cacheWrite })
  }
}

/** The IR's usage as Anthropic clients read it. */
export const usageJson = (usage: Usage) => ({
  input_tokens: usage.inputTokens,
  output_tokens: usage.outputTokens,
  ...(usage.cacheReadTokens === undefined ? {} : { cache_read_input_tokens: usage.cacheReadTokens }),
  ...(usage.cacheWriteTokens === undefined ? {} : { cache_creation_input_tokens: usage.cacheWriteTokens })
})

// the `input` objects a tool call's part was made from (an Anthropic request's or answer's), by that part:
// written again to Anthropic as they came instead of parsed back from the part's arguments text
const inputs = new WeakMap<ToolCallPart, Readonly<Record<string, unknown>>>()

/** A tool call part made from Anthropic's `input` object, which is kept to be sent again as it is. */
export const toolCallOf = (id: string, name: string, input: Readonly<Record<string, unknown>>): ToolCallPart => {
  const part: ToolCallPart = { type: "tool_call", id, name, arguments: JSON.stringify(input) }
  inputs.set(part, input)
  return part
}

/**
 * A tool call's arguments as the object Anthropic's `input` must be: the object it was made from, or its
 * arguments parsed; anything unparsable (arguments a model cut short) is `{}`, the only valid object to replay.
 */
export const toolInput = (part: ToolCallPart): Readonly<Record<string, unknown>> => inputs.get(part) ?? parseJsonObject(part.arguments) ?? {}

/** Anthropic ids start with `msg_`; other providers' ids are kept behind that prefix. */
export const messageId = (id: string): string =>
  id.startsWith("msg_") ? id : `msg_${id === "" ? crypto.randomUUID().replaceAll("-", "") : id}`
