/**
 * Decodes an Anthropic Messages request (what Claude Code and `@anthropic-ai/sdk` send to
 * `POST /anthropic/v1/messages`) into the neutral conversation.
 *
 * A bad request fails like Anthropic's own API: a 400 naming the first field at fault
 * (`max_tokens: Field required`, `messages.2.content.0.text: Field required`). Nothing a client sends
 * is an error merely for being unknown: top-level fields the IR does not model go untouched to
 * `extensions.anthropic`, and content blocks or tools that only Anthropic understands (server tools,
 * redacted thinking, PDFs, block types newer than this code) are left out of the IR and listed as
 * `untranslatable`. Anthropic providers are sent the client's own body, so they lose nothing.
 */
import * as Result from "effect/Result"
import * as SchemaIssue from "effect/SchemaIssue"
import type { GatewayError } from "../../errors.ts"
import { invalidAt, makeDecodeAt, type Path, Untranslated } from "../decoding.ts"
import type { DecodedRequest } from "../wire.ts"
import type {
  CacheControl,
  Conversation,
  ImagePart,
  Message,
  Part,
  TextPart,
  ToolChoice,
  ToolDefinition
} from "../../ir/conversation.ts"
import {
  Base64Source,
  blocksAt,
  type Content,
  CustomTool,
  DocumentBlock,
  ImageBlock,
  type MessageParam,
  MessagesRequest,
  messagesAt,
  type Misfit,
  modeledFields,
  TextFields,
  TextSource,
  ThinkingBlock,
  type ToolHead,
  ToolResultBlock,
  toolsAt,
  ToolUseBlock,
  type Typed,
  UrlSource
} from "./request-schema.ts"
import { toolCallOf } from "./vocabulary.ts"

/** The Anthropic encoders need nothing more of the request than the conversation. */
export type AnthropicExtra = Record<never, never>

const decodeAt = makeDecodeAt(SchemaIssue.makeFormatterStandardSchemaV1({
  // Anthropic's wording for an absent field, which clients and people recognize
  leafHook: (issue) => (issue._tag === "MissingKey" ? "Field required" : SchemaIssue.defaultLeafHook(issue))
}))

/** A fault the hand checks of request-schema.ts found, as decodeAt reports one. */
const misfitError = ({ at, message }: Misfit): GatewayError => invalidAt(at, [], message)

const decodeImage = (block: Typed, at: Path, untranslated: Untranslated) => Result.gen(function*() {
  const { source } = yield* decodeAt(ImageBlock, at, block)
  const sourceAt = [...at, "source"]
  switch (source.type) {
    case "base64": {
      const { data, media_type } = yield* decodeAt(Base64Source, sourceAt, source)
      return { type: "image", source: { kind: "base64", mediaType: media_type, data } } satisfies ImagePart
    }
    case "url": {
      const { url } = yield* decodeAt(UrlSource, sourceAt, source)
      return { type: "image", source: { kind: "url", url } } satisfies ImagePart
    }
    default:
      return untranslated.note(at, `image with a "${source.type}" source (Anthropic only)`)
  }
})

const decodeDocument = (block: Typed, at: Path, untranslated: Untranslated) => Result.gen(function*() {
  const { source, title } = yield* decodeAt(DocumentBlock, at, block)
  if (source.type === "text") {
    const { data } = yield* decodeAt(TextSource, [...at, "source"], source)
    return { type: "text", text: data } satisfies TextPart
  }
  const mediaType = typeof source["media_type"] === "string" ? ` ${source["media_type"]}` : ""
  const named = typeof title === "string" ? ` "${title}"` : ""
  return untranslated.note(at, `document${named} (${source.type}${mediaType}; Anthropic only)`)
})

/** Tool results carry text and images; other blocks inside them are noted. */
const decodeToolResult = (block: Typed, at: Path, untranslated: Untranslated): Result.Result<Part, GatewayError> => {
  const decoded = decodeAt(ToolResultBlock, at, block)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const { content, is_error, tool_use_id } = decoded.success
  const contentAt = [...at, "content"]
  const misfit = content === undefined || typeof content === "string" ? undefined : blocksAt(content, contentAt)
  if (misfit !== undefined) return Result.fail(misfitError(misfit))
  const parts = content === undefined ? Result.succeed([]) : decodeContent(content as Content, contentAt, untranslated)
  return Result.map(parts, (parts) => {
    const carried = parts.filter((part): part is TextPart | ImagePart => part.type === "text" || part.type === "image")
    parts.filter((part) => part.type !== "text" && part.type !== "image").forEach((part) =>
      untranslated.note(contentAt, `a ${part.type} inside a tool_result`))
    return {
      type: "tool_result",
      callId: tool_use_id,
      content: carried,
      ...(is_error === undefined ? {} : { isError: is_error })
    } satisfies Part
  })
}

/** The block's `cache_control`, carried on its part for Anthropic providers. */
const cacheOf = (block: Readonly<Record<string, unknown>>): { cacheControl?: CacheControl } => {
  const cache = block["cache_control"]
  return typeof cache === "object" && cache !== null && !Array.isArray(cache) ? { cacheControl: cache as CacheControl } : {}
}

const decodeBlock = (block: Typed, at: Path, untranslated: Untranslated): Result.Result<Part | undefined, GatewayError> =>
  block["cache_control"] === undefined
    ? decodeBlockPart(block, at, untranslated)
    : Result.map(decodeBlockPart(block, at, untranslated), (part) => part === undefined || part.type === "thinking" ? part : { ...part, ...cacheOf(block) })

const decodeBlockPart = (block: Typed, at: Path, untranslated: Untranslated): Result.Result<Part | undefined, GatewayError> => {
  switch (block.type) {
    case "text":
      return Result.map(decodeAt(TextFields, at, block), ({ text }) => ({ type: "text", text }))
    case "image":
      return decodeImage(block, at, untranslated)
    case "document":
      return decodeDocument(block, at, untranslated)
    case "tool_use":
      return Result.map(decodeAt(ToolUseBlock, at, block), ({ id, input, name }) => toolCallOf(id, name, input))
    case "tool_result":
      return decodeToolResult(block, at, untranslated)
    case "thinking":
      return Result.map(decodeAt(ThinkingBlock, at, block), ({ signature, thinking }) => ({
        type: "thinking",
        text: thinking,
        ...(signature === undefined ? {} : { signature })
      }))
    default:
      // redacted_thinking, server_tool_use, web_search_tool_result, mcp_tool_use, container_upload…
      return Result.succeed(untranslated.note(at, `${block.type} block (Anthropic only)`))
  }
}

const decodeContent = (content: Content, at: Path, untranslated: Untranslated): Result.Result<Array<Part>, GatewayError> => {
  if (typeof content === "string") return Result.succeed([{ type: "text", text: content }])
  const parts: Array<Part> = []
  for (let i = 0; i < content.length; i++) {
    const part = decodeBlock(content[i]!, [...at, i], untranslated)
    if (Result.isFailure(part)) return Result.fail(part.failure)
    if (part.success !== undefined) parts.push(part.success)
  }
  return Result.succeed(parts)
}

const decodeMessages = (request: MessagesRequest, untranslated: Untranslated): Result.Result<Array<Message>, GatewayError> => {
  const messages: Array<Message> = []
  // checked by messagesAt
  for (const [i, message] of (request.messages as ReadonlyArray<MessageParam>).entries()) {
    const at = ["messages", i]
    const decoded = decodeContent(message.content, [...at, "content"], untranslated)
    if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
    // a system turn holds instructions: its text
    const content = message.role === "system" ? decoded.success.filter((p) => p.type === "text" || untranslated.note(at, `a ${p.type} in a system message`)) : decoded.success
    // A turn whose every block was left out would be an empty message, which providers reject.
    if (content.length === 0 && message.content.length > 0) untranslated.note(at, `${message.role} message (nothing left in it)`)
    else messages.push({ role: message.role, content })
  }
  return Result.succeed(messages)
}

const decodeTools = (request: MessagesRequest, untranslated: Untranslated): Result.Result<Array<ToolDefinition>, GatewayError> => {
  const tools: Array<ToolDefinition> = []
  // checked by toolsAt
  for (const [i, tool] of ((request.tools ?? []) as ReadonlyArray<ToolHead>).entries()) {
    const at = ["tools", i]
    if (tool.type === undefined || tool.type === null || tool.type === "custom") {
      const decoded = decodeAt(CustomTool, at, tool)
      if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
      const { description, input_schema, name } = decoded.success
      tools.push({ name, parameters: input_schema, ...(description === undefined ? {} : { description }), ...cacheOf(tool) })
    } else {
      const name = typeof tool["name"] === "string" ? `"${tool["name"]}" ` : ""
      untranslated.note(at, `server tool ${name}(${tool.type}; runs only on Anthropic)`)
    }
  }
  return Result.succeed(tools)
}

const decodeToolChoice = (request: MessagesRequest): Result.Result<ToolChoice | undefined, GatewayError> => {
  const choice = request.tool_choice
  switch (choice?.type) {
    case undefined:
      return Result.succeed(undefined)
    case "auto":
    case "none":
      return Result.succeed({ type: choice.type })
    case "any":
      return Result.succeed({ type: "required" })
    case "tool":
      return choice.name === undefined
        ? Result.fail(invalidAt(["tool_choice", "name"], [], "Field required"))
        : Result.succeed({ type: "tool", name: choice.name })
  }
}

const systemParts = (system: MessagesRequest["system"]): Array<TextPart> => {
  if (system === undefined || system === "") return []
  if (typeof system === "string") return [{ type: "text", text: system }]
  return system.map((block) => ({ type: "text", text: block.text, ...cacheOf(block) }))
}

/** `metadata` is modeled only when it holds nothing but `user_id`. */
const metadataIsModeled = (metadata: MessagesRequest["metadata"]) =>
  metadata === undefined || Object.keys(metadata).every((key) => key === "user_id")

const unmodeledFields = (request: MessagesRequest): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(request).filter(([key]) =>
      !modeledFields.has(key) || (key === "metadata" && !metadataIsModeled(request.metadata)))
  )

/** The envelope's fields before `messages`, and before `tools`: a fault there is the first in field order. */
const beforeMessages = new Set<string | undefined>([undefined, "model", "max_tokens", "messages"])
const beforeToolHeads = new Set<string | undefined>(["system", "stream", "temperature", "top_p", "stop_sequences", "tools"])

/**
 * The envelope, and its messages' and tools' heads checked by hand: the fault reported is the first in
 * the envelope's field order, as when one Schema checked them all.
 */
const envelopeOf = (body: unknown): Result.Result<MessagesRequest, GatewayError> => {
  const envelope = decodeAt(MessagesRequest, [], body)
  const failedAt = Result.isFailure(envelope) ? envelope.failure.param?.split(".")[0] : "nowhere"
  if (beforeMessages.has(failedAt)) return envelope
  const { messages, tools } = body as { readonly messages: ReadonlyArray<unknown>; readonly tools?: ReadonlyArray<unknown> }
  const misfit = messagesAt(messages) ?? (beforeToolHeads.has(failedAt) || tools === undefined ? undefined : toolsAt(tools))
  return misfit === undefined ? envelope : Result.fail(misfitError(misfit))
}

/** The request in IR; `model` is the model id the resolved Provider is sent. */
export const decodeMessagesRequest = (body: unknown, model: string) => Result.gen(function*() {
  const request = yield* envelopeOf(body)
  const untranslated = new Untranslated()
  const messages = yield* decodeMessages(request, untranslated)
  const tools = yield* decodeTools(request, untranslated)
  const toolChoice = yield* decodeToolChoice(request)
  const anthropic = unmodeledFields(request)
  const user = request.metadata?.user_id
  const conversation: Conversation = {
    model,
    system: systemParts(request.system),
    messages,
    tools,
    maxTokens: request.max_tokens,
    ...(toolChoice === undefined ? {} : { toolChoice }),
    ...(request.tool_choice?.disable_parallel_tool_use === true ? { parallelToolCalls: false } : {}),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.top_p === undefined ? {} : { topP: request.top_p }),
    ...(request.stop_sequences === undefined ? {} : { stop: request.stop_sequences }),
    ...(typeof user === "string" ? { user } : {}),
    extensions: Object.keys(anthropic).length === 0 ? {} : { anthropic }
  }
  const decoded: DecodedRequest<AnthropicExtra> = { conversation, untranslatable: untranslated.items, extra: {} }
  return decoded
})
