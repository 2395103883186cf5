/** A Completion as an OpenAI `chat.completion` object. */
import type { Completion, FinishReason, Usage } from "../../ir/response.ts"

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

export const completionId = (id: string): string => (id.startsWith("chatcmpl-") ? id : `chatcmpl-${id}`)

export const usageJson = (usage: Usage) => ({
  prompt_tokens: usage.inputTokens,
  completion_tokens: usage.outputTokens,
  total_tokens: usage.inputTokens + usage.outputTokens,
  ...(usage.cacheReadTokens ? { prompt_tokens_details: { cached_tokens: usage.cacheReadTokens } } : {})
})

export const encodeCompletion = (completion: Completion, meta: { readonly model: string; readonly created: number }) => {
  const text = completion.content.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("")
  const calls = completion.content.flatMap((p) =>
    p.type === "tool_call" ? [{ id: p.id, type: "function", function: { name: p.name, arguments: p.arguments } }] : [])
  return {
    id: completionId(completion.id),
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: text === "" && calls.length > 0 ? null : text,
        ...(calls.length > 0 ? { tool_calls: calls } : {}),
        refusal: null
      },
      logprobs: null,
      finish_reason: finishReason(completion.finishReason)
    }],
    usage: usageJson(completion.usage)
  }
}
