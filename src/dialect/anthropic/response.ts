/**
 * A whole IR completion as an Anthropic `message` object, the answer to a non-streaming
 * `POST /anthropic/v1/messages`. The helpers here are shared with the stream encoder.
 */
import type { Part } from "../../ir/conversation.ts"
import type { Completion, FinishReason, Usage } from "../../ir/response.ts"

/** Anthropic ids start with `msg_`; other providers' ids are kept behind that prefix. */
export const messageId = (id: string): string =>
  id.startsWith("msg_") ? id : `msg_${id === "" ? crypto.randomUUID().replaceAll("-", "") : id}`

export type StopReason = "end_turn" | "stop_sequence" | "max_tokens" | "tool_use" | "refusal"

export const stopReason = (reason: FinishReason): StopReason => (reason === "content_filter" ? "refusal" : reason)

export const usageJson = (usage: Usage) => ({
  input_tokens: usage.inputTokens,
  output_tokens: usage.outputTokens,
  ...(usage.cacheReadTokens === undefined ? {} : { cache_read_input_tokens: usage.cacheReadTokens }),
  ...(usage.cacheWriteTokens === undefined ? {} : { cache_creation_input_tokens: usage.cacheWriteTokens })
})

/** A tool call's arguments as the object Anthropic's `input` must be; anything unparsable is `{}`. */
export const toolInput = (args: string): Record<string, unknown> => {
  try {
    const value: unknown = JSON.parse(args)
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

const contentBlock = (part: Part): ReadonlyArray<object> => {
  switch (part.type) {
    case "text":
      return part.text === "" ? [] : [{ type: "text", text: part.text }]
    case "tool_call":
      return [{ type: "tool_use", id: part.id, name: part.name, input: toolInput(part.arguments) }]
    case "thinking":
      return [{ type: "thinking", thinking: part.text, signature: part.signature ?? "" }]
    case "image":
    case "tool_result":
      return [] // never part of a model's answer
  }
}

export const encodeMessage = (completion: Completion, meta: { readonly model: string }): object => ({
  id: messageId(completion.id),
  type: "message",
  role: "assistant",
  model: meta.model,
  content: completion.content.flatMap(contentBlock),
  stop_reason: stopReason(completion.finishReason),
  stop_sequence: completion.stopSequence ?? null,
  usage: usageJson(completion.usage)
})
