/** A Completion as an OpenAI `chat.completion` object. */
import type { Completion } from "../../ir/response.ts"
import { completionId, finishReason, usageJson } from "./vocabulary.ts"

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
