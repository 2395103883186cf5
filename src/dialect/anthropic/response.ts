/**
 * A whole IR completion as an Anthropic `message` object, the answer to a non-streaming
 * `POST /anthropic/v1/messages`.
 */
import type { Part } from "../../ir/conversation.ts"
import type { Completion } from "../../ir/response.ts"
import { messageId, stopReason, toolInput, usageJson } from "./vocabulary.ts"

const contentBlock = (part: Part): ReadonlyArray<object> => {
  switch (part.type) {
    case "text":
      return part.text === "" ? [] : [{ type: "text", text: part.text }]
    case "tool_call":
      return [{ type: "tool_use", id: part.id, name: part.name, input: toolInput(part) }]
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
