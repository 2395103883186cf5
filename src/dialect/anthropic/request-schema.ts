/**
 * Effect Schemas of an Anthropic Messages request, in two layers.
 *
 * `MessagesRequest` checks the envelope and gives every content block, image source and tool only a
 * string `type` (or, for tools, an optional one). The block shapes below are then checked one by one
 * after dispatching on `type`, so an error names the field inside the block
 * (`messages.2.content.0.text`) instead of "none of 20 union members matched", and a block type this
 * code does not know yet is not an error at all: it still reaches Anthropic providers untouched.
 *
 * The envelope keeps every object's unknown keys (`cache_control`, `citations`, fields newer than this
 * code); a block's own shape is a plain Struct of the fields read from it (an open Struct with a rest
 * record takes Effect's slow path, and the block itself is still at hand).
 */
import * as Schema from "effect/Schema"
import { maybe, open } from "../decoding.ts"

/** Any content block, image source or document source, before dispatching on its type. */
export const Typed = open({ type: Schema.String })
export type Typed = typeof Typed.Type

export const Content = Schema.Union([Schema.String, Schema.Array(Typed)])
export type Content = typeof Content.Type

const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

/** A system prompt's text block, kept whole (its `cache_control` goes to the IR). */
export const TextBlock = open({ type: Schema.Literal("text"), text: Schema.String })

export const MessageParam = open({
  /** `system` inside `messages`: Claude Code's instructions mid-conversation */
  role: Schema.Literals(["user", "assistant", "system"]),
  content: Content
})

/** A tool before dispatching: custom tools have no `type` (or `"custom"`), server tools a dated one. */
export const ToolHead = open({ type: maybe(Schema.String) })

export const ToolChoice = open({
  type: Schema.Literals(["auto", "any", "tool", "none"]),
  name: Schema.optionalKey(Schema.String),
  disable_parallel_tool_use: Schema.optionalKey(Schema.Boolean)
})

export const Metadata = open({ user_id: maybe(Schema.String) })

export const MessagesRequest = open({
  model: Schema.String,
  max_tokens: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  messages: Schema.Array(MessageParam).check(Schema.isMinLength(1, { message: "at least one message is required" })),
  system: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(TextBlock)])),
  stream: Schema.optionalKey(Schema.Boolean),
  temperature: Schema.optionalKey(Schema.Finite),
  top_p: Schema.optionalKey(Schema.Finite),
  stop_sequences: Schema.optionalKey(Schema.Array(Schema.String)),
  tools: Schema.optionalKey(Schema.Array(ToolHead)),
  tool_choice: Schema.optionalKey(ToolChoice),
  metadata: Schema.optionalKey(Metadata)
})
export type MessagesRequest = typeof MessagesRequest.Type

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
