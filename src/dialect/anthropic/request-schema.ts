/**
 * Effect Schemas of an Anthropic Messages request, in two layers.
 *
 * `MessagesRequest` checks the envelope; its messages, their content blocks and its tools are then
 * checked by hand for what dispatching needs (an object, its `role`, a string `type`), in the words the
 * Schemas use, and kept as they came: a Claude Code conversation holds hundreds of blocks, which an
 * open Struct would copy key by key on Effect's slow path. The block shapes below are then checked
 * one by one after dispatching on `type`, so an error names the field inside the block
 * (`messages.2.content.0.text`) instead of "none of 20 union members matched", and a block type this
 * code does not know yet is not an error at all: it still reaches Anthropic providers untouched.
 *
 * The envelope keeps its unknown keys, as do blocks (`cache_control`, `citations`, fields newer than
 * this code); a block's own shape is a plain Struct of the fields read from it.
 */
import * as Schema from "effect/Schema"
import { isJsonObject } from "../../json.ts"
import { maybe, open } from "../decoding.ts"

/** An image's or a document's source, before dispatching on its type. */
export const Typed = open({ type: Schema.String })
/** Any content block, image source or document source, before dispatching on its type. */
export type Typed = Readonly<Record<string, unknown>> & { readonly type: string }

/** A message's or a tool result's content before its blocks are checked (`blocksAt`). */
export const Content = Schema.Union([Schema.String, Schema.Array(Schema.Unknown)])
/** Content whose blocks are checked. */
export type Content = string | ReadonlyArray<Typed>

const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

/** A system prompt's text block, kept whole (its `cache_control` goes to the IR). */
export const TextBlock = open({ type: Schema.Literal("text"), text: Schema.String })

/** `system` inside `messages`: Claude Code's instructions mid-conversation */
const roles = ["user", "assistant", "system"] as const

export interface MessageParam {
  readonly role: typeof roles[number]
  readonly content: Content
}

/** A tool before dispatching: custom tools have no `type` (or `"custom"`), server tools a dated one. */
export type ToolHead = Readonly<Record<string, unknown>> & { readonly type?: string | null }

export const ToolChoice = open({
  type: Schema.Literals(["auto", "any", "tool", "none"]),
  name: Schema.optionalKey(Schema.String),
  disable_parallel_tool_use: Schema.optionalKey(Schema.Boolean)
})

export const Metadata = open({ user_id: maybe(Schema.String) })

export const MessagesRequest = open({
  model: Schema.String,
  max_tokens: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  messages: Schema.Array(Schema.Unknown).check(Schema.isMinLength(1, { message: "at least one message is required" })),
  system: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(TextBlock)])),
  stream: Schema.optionalKey(Schema.Boolean),
  temperature: Schema.optionalKey(Schema.Finite),
  top_p: Schema.optionalKey(Schema.Finite),
  stop_sequences: Schema.optionalKey(Schema.Array(Schema.String)),
  tools: Schema.optionalKey(Schema.Array(Schema.Unknown)),
  tool_choice: Schema.optionalKey(ToolChoice),
  metadata: Schema.optionalKey(Metadata)
})
export type MessagesRequest = typeof MessagesRequest.Type

/** Where the request is wrong, in the Schemas' words: the field's path and what it should be. */
export interface Misfit {
  readonly at: ReadonlyArray<string | number>
  readonly message: string
}

/** `content`'s blocks as objects with a string `type`, or where one is not. */
export const blocksAt = (content: ReadonlyArray<unknown>, at: ReadonlyArray<string | number>): Misfit | undefined => {
  for (let i = 0; i < content.length; i++) {
    const block = content[i]
    if (!isJsonObject(block)) return { at: [...at, i], message: "Expected object" }
    if (!("type" in block)) return { at: [...at, i, "type"], message: "Field required" }
    if (typeof block["type"] !== "string") return { at: [...at, i, "type"], message: "Expected string" }
  }
  return undefined
}

/** Each message an object with a known `role` and its content a string or blocks, or where one is not. */
export const messagesAt = (messages: ReadonlyArray<unknown>): Misfit | undefined => {
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]
    if (!isJsonObject(message)) return { at: ["messages", i], message: "Expected object" }
    if (!("role" in message)) return { at: ["messages", i, "role"], message: "Field required" }
    if (!(roles as ReadonlyArray<unknown>).includes(message["role"])) return { at: ["messages", i, "role"], message: `Expected ${roles.map((r) => `"${r}"`).join(" | ")}` }
    if (!("content" in message)) return { at: ["messages", i, "content"], message: "Field required" }
    const content = message["content"]
    if (typeof content === "string") continue
    if (!Array.isArray(content)) return { at: ["messages", i, "content"], message: "Expected string | array" }
    const misfit = blocksAt(content, ["messages", i, "content"])
    if (misfit !== undefined) return misfit
  }
  return undefined
}

/** Each tool an object whose `type`, if any, is a string or null, or where one is not. */
export const toolsAt = (tools: ReadonlyArray<unknown>): Misfit | undefined => {
  for (let i = 0; i < tools.length; i++) {
    const tool = tools[i]
    if (!isJsonObject(tool)) return { at: ["tools", i], message: "Expected object" }
    const type = tool["type"]
    if (type !== undefined && type !== null && typeof type !== "string") return { at: ["tools", i, "type"], message: "Expected string | null" }
  }
  return undefined
}

/** The top-level fields the IR models; every other one goes to `extensions.anthropic`. */
export const modeledFields: ReadonlySet<string> = new Set([
  "model",
  "max_tokens",
  "messages",
  "system",
  "stream",
  "temperature",
  "top_p",
  "stop_sequences",
  "tools",
  "tool_choice",
  "metadata"
])

// The shapes of the blocks the IR can carry, checked after dispatching on `type`.

export const TextFields = Schema.Struct({ text: Schema.String })

export const ImageBlock = Schema.Struct({ source: Typed })
export const Base64Source = Schema.Struct({ media_type: Schema.String, data: Schema.String })
export const UrlSource = Schema.Struct({ url: Schema.String })
export const DocumentBlock = Schema.Struct({ source: Typed, title: maybe(Schema.String) })
export const TextSource = Schema.Struct({ data: Schema.String, media_type: Schema.optionalKey(Schema.String) })
export const ToolUseBlock = Schema.Struct({ id: Schema.String, name: Schema.String, input: JsonObject })
export const ToolResultBlock = Schema.Struct({
  tool_use_id: Schema.String,
  content: Schema.optionalKey(Content),
  is_error: Schema.optionalKey(Schema.Boolean)
})
export const ThinkingBlock = Schema.Struct({ thinking: Schema.String, signature: Schema.optionalKey(Schema.String) })
export const CustomTool = Schema.Struct({
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  input_schema: JsonObject
})
