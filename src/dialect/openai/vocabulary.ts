/**
 * Chat Completions' own vocabulary, both ways: finish reasons, usage, completion ids. Shared by the
 * client side (answers to OpenAI clients) and the provider side (answers from OpenAI providers).
 */
import type { FinishReason, Usage } from "../../ir/response.ts"

const finishReasons: Readonly<Record<string, FinishReason>> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "content_filter"
}

/** A provider's `finish_reason` in IR terms (ones newer than this code end the turn). */
export const finishReasonOf = (reason: string): FinishReason => finishReasons[reason] ?? "end_turn"

/** The IR's finish reason as OpenAI clients know it. */
export const finishReason = (reason: FinishReason): string => {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop"
    case "max_tokens":
      return "length"
    case "tool_use":
      return "tool_calls"
    case "content_filter":
    case "refusal":
      return "content_filter"
  }
}

export interface UsageJson {
  readonly prompt_tokens?: number | null | undefined
  readonly completion_tokens?: number | null | undefined
  readonly prompt_tokens_details?: { readonly cached_tokens?: number | null | undefined } | null | undefined
  readonly completion_tokens_details?: { readonly reasoning_tokens?: number | null | undefined } | null | undefined
}

export const usageOf = (u: UsageJson | null | undefined): Usage => {
  const cached = u?.prompt_tokens_details?.cached_tokens
  const reasoning = u?.completion_tokens_details?.reasoning_tokens
  return {
    inputTokens: u?.prompt_tokens ?? 0,
    outputTokens: u?.completion_tokens ?? 0,
    ...(typeof cached === "number" && cached > 0 ? { cacheReadTokens: cached } : {}),
    ...(typeof reasoning === "number" && reasoning > 0 ? { reasoningTokens: reasoning } : {})
  }
}

export const usageJson = (usage: Usage) => ({
  prompt_tokens: usage.inputTokens,
  completion_tokens: usage.outputTokens,
  total_tokens: usage.inputTokens + usage.outputTokens,
  ...(usage.cacheReadTokens ? { prompt_tokens_details: { cached_tokens: usage.cacheReadTokens } } : {}),
  ...(usage.reasoningTokens ? { completion_tokens_details: { reasoning_tokens: usage.reasoningTokens } } : {})
})

export const completionId = (id: string): string => (id.startsWith("chatcmpl-") ? id : `chatcmpl-${id}`)
