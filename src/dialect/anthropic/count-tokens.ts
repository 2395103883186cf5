/**
 * An estimate of a conversation's input tokens, for `count_tokens` against providers that have no
 * such endpoint (the response says it is an estimate). Deterministic and cheap, it follows the usual
 * rule of thumb for English and code, about four characters per token:
 *
 *   ceil(characters / 4) over the system prompt, text, thinking, tool call names and arguments, tool
 *   result text and the tool definitions as JSON (name, description, input schema)
 *   + 4 tokens per message for the role and turn framing
 *   + 1600 tokens per image, what Anthropic charges for a full-size image (about 1.15 megapixels)
 */
import type { Conversation, Part } from "../../ir/conversation.ts"

export const charactersPerToken = 4
export const tokensPerMessage = 4
export const tokensPerImage = 1600

interface Tally {
  characters: number
  images: number
}

const countPart = (tally: Tally, part: Part): void => {
  switch (part.type) {
    case "text":
    case "thinking":
      tally.characters += part.text.length
      return
    case "image":
      tally.images += 1
      return
    case "tool_call":
      tally.characters += part.name.length + part.arguments.length
      return
    case "tool_result":
      for (const inner of part.content) countPart(tally, inner)
  }
}

export const estimateTokens = (conversation: Conversation): number => {
  const tally: Tally = { characters: 0, images: 0 }
  for (const part of conversation.system) countPart(tally, part)
  for (const message of conversation.messages) for (const part of message.content) countPart(tally, part)
  for (const tool of conversation.tools) tally.characters += JSON.stringify(tool).length
  return Math.ceil(tally.characters / charactersPerToken) +
    conversation.messages.length * tokensPerMessage +
    tally.images * tokensPerImage
}
