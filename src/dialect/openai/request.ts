/**
 * Decodes an OpenAI Chat Completions request into the neutral conversation, with Effect Schemas in
 * two layers as the Anthropic decoder does: the envelope first (keeping its unknown keys), then each
 * message by its role and each part by its type, so a bad request fails naming the field at fault
 * (`messages.2.content.0.text`). A message's or part's own shape is a plain Struct of the fields read
 * from it: an open Struct with a rest record takes Effect's slow path, and the object is at hand.
 *
 * Leading `system`/`developer` messages become the system prompt, later ones system turns at their
 * place; `tool` messages become tool results inside a user turn (consecutive ones merged, and a
 * following user message joins the same turn), so the conversation alternates user/assistant as
 * Anthropic requires. Top-level fields the IR does not model go untouched to `extensions.openai`: an
 * unknown field is never an error. What the IR cannot carry (file and audio parts, `n` > 1, custom
 * tools, part types newer than this code) is listed in `untranslatable`; a role it does not know is an error.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { type GatewayError, invalidRequest } from "../../errors.ts"
import { isJsonObject } from "../../json.ts"
import type { Conversation, ImagePart, Message, Part, TextPart, ToolChoice, ToolDefinition } from "../../ir/conversation.ts"
import { invalidAt, makeDecodeAt, maybe, open, type Path, Untranslated } from "../decoding.ts"
import type { DecodedRequest } from "../wire.ts"

/** What only the OpenAI encoders need of the request. */
export interface OpenAIExtra {
  /** `stream_options.include_usage` */
  readonly includeUsage: boolean
}


const Content = Schema.NullOr(Schema.Union([Schema.String, Schema.Array(open({ type: Schema.Unknown }))]))
type Content = typeof Content.Type
type Typed = Readonly<Record<string, unknown>> & { readonly type: unknown }

const requestFields = {
  model: Schema.String.check(Schema.isMinLength(1, { message: "is required (e.g. \"provider/model\")" })),
  messages: Schema.Array(Schema.Unknown).check(Schema.isMinLength(1, { message: "expected a non-empty array of messages" })),
  stream: maybe(Schema.Boolean),
  stream_options: maybe(open({ include_usage: maybe(Schema.Boolean) })),
  tools: maybe(Schema.Array(open({ type: Schema.Unknown }))),
  functions: maybe(Schema.Array(Schema.Unknown)),
  tool_choice: Schema.optionalKey(Schema.Unknown),
  function_call: Schema.optionalKey(Schema.Unknown),
  parallel_tool_calls: maybe(Schema.Boolean),
  max_tokens: maybe(Schema.Finite),
  max_completion_tokens: maybe(Schema.Finite),
  temperature: maybe(Schema.Finite),
  top_p: maybe(Schema.Finite),
  stop: maybe(Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  user: maybe(Schema.String),
  n: maybe(Schema.Finite)
}
const ChatRequest = open(requestFields)
type ChatRequest = typeof ChatRequest.Type

/** Fields the IR models; everything else is an extension. */
const modeled = new Set(Object.keys(requestFields))

const WithContent = Schema.Struct({ content: Schema.optionalKey(Content) })
const FunctionCall = Schema.Struct({ name: Schema.String, arguments: Schema.optionalKey(maybe(Schema.String)) })
const ToolCall = Schema.Struct({ id: Schema.String, function: FunctionCall })
const AssistantMessage = Schema.Struct({
  content: Schema.optionalKey(Content),
  tool_calls: maybe(Schema.Array(ToolCall)),
  function_call: maybe(FunctionCall)
})
const ToolMessage = Schema.Struct({ tool_call_id: Schema.String, content: Schema.optionalKey(Content) })
const TextPartJson = Schema.Struct({ text: Schema.String })
const ImageUrl = Schema.Struct({ image_url: Schema.Union([Schema.String, Schema.Struct({ url: Schema.String, detail: Schema.optionalKey(Schema.String) })]) })
const FunctionDefinition = Schema.Struct({
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  parameters: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
  strict: maybe(Schema.Boolean)
})
const FunctionTool = Schema.Struct({ function: FunctionDefinition })
const NamedChoice = Schema.Struct({ function: Schema.optionalKey(Schema.Struct({ name: Schema.String })), name: Schema.optionalKey(Schema.String) })

const decodeAt = makeDecodeAt(SchemaIssue.makeFormatterStandardSchemaV1())

const dataUrl = /^data:([^;,]+);base64,(.*)$/s

const decodeImage = (part: Typed, at: Path) => Result.gen(function*() {
  const { image_url } = yield* decodeAt(ImageUrl, at, part)
  const url = typeof image_url === "string" ? image_url : image_url.url
  const detail = typeof image_url === "object" && image_url.detail !== undefined ? { detail: image_url.detail } : {}
  const data = dataUrl.exec(url)
  if (data !== null) return { type: "image", source: { kind: "base64", mediaType: data[1]!, data: data[2]! }, ...detail } satisfies ImagePart
  if (/^https?:\/\//i.test(url)) return { type: "image", source: { kind: "url", url }, ...detail } satisfies ImagePart
  return yield* Result.fail(invalidAt([...at, "image_url", "url"], [], "expected an http(s) URL or a base64 data URL"))
})

/** `content` as parts: a string, null, or an array of typed parts. */
const decodeContent = (value: Content | undefined, at: Path, allowImages: boolean, untranslated: Untranslated): Result.Result<Array<TextPart | ImagePart>, GatewayError> => {
  if (value === undefined || value === null) return Result.succeed([])
  if (typeof value === "string") return Result.succeed(value === "" ? [] : [{ type: "text", text: value }])
  return Result.map(
    Result.all(value.map((part, i): Result.Result<Array<TextPart | ImagePart>, GatewayError> => {
      const partAt = [...at, i]
      switch (part.type) {
        case "text":
          return Result.map(decodeAt(TextPartJson, partAt, part), ({ text }) => [{ type: "text", text }])
        case "image_url":
          return allowImages
            ? Result.map(decodeImage(part, partAt), (image) => [image])
            : Result.fail(invalidAt([...partAt, "type"], [], "images are only allowed in user messages"))
        case "refusal":
          return Result.succeed([])
        default:
          // input_audio, file, and types newer than this code: the provider of the client's dialect judges them
          untranslated.note([...partAt, "type"], `content part of type ${JSON.stringify(part.type)} (OpenAI only)`)
          return Result.succeed([])
      }
    })),
    (parts) => parts.flat()
  )
}

const toolCallPart = (call: typeof FunctionCall.Type, id: string, at: Path): Result.Result<Part, GatewayError> => {
  const args = call.arguments === undefined || call.arguments === null || call.arguments === "" ? "{}" : call.arguments
  try {
    JSON.parse(args)
  } catch {
    return Result.fail(invalidAt([...at, "arguments"], [], "is not valid JSON"))
  }
  return Result.succeed({ type: "tool_call", id, name: call.name, arguments: args })
}

const textOnly = (parts: ReadonlyArray<TextPart | ImagePart>): Array<TextPart> => parts.flatMap((p) => (p.type === "text" ? [p] : []))

const roles = ["system", "developer", "user", "assistant", "tool", "function"].map((r) => JSON.stringify(r)).join(" | ")

const decodeMessages = (request: ChatRequest, untranslated: Untranslated) => Result.gen(function*() {
  const system: Array<TextPart> = []
  const out: Array<{ role: Message["role"]; content: Array<Part> }> = []
  // Consecutive same-role turns merge, which keeps user/assistant alternation and puts tool results
  // and the user's next words in one user turn.
  const push = (role: Message["role"], parts: ReadonlyArray<Part>) => {
    const last = out.at(-1)
    if (last !== undefined && last.role === role) last.content.push(...parts)
    else out.push({ role, content: [...parts] })
  }
  for (const [i, message] of request.messages.entries()) {
    const at = ["messages", i]
    if (!isJsonObject(message)) return yield* Result.fail(invalidAt(at, [], "Expected object"))
    switch (message["role"]) {
      case "system":
      case "developer": {
        // before the conversation starts: the system prompt; after, an instruction at its place
        const { content } = yield* decodeAt(WithContent, at, message)
        const text = textOnly(yield* decodeContent(content, [...at, "content"], false, untranslated))
        if (out.length === 0) system.push(...text)
        else if (text.length > 0) push("system", text)
        break
      }
      case "user": {
        const { content } = yield* decodeAt(WithContent, at, message)
        const parts = yield* decodeContent(content, [...at, "content"], true, untranslated)
        // a turn whose every part was left out would be an empty message, which providers reject
        if (parts.length === 0 && Array.isArray(content) && content.length > 0) untranslated.note(at, "user message (nothing left in it)")
        else push("user", parts)
        break
      }
      case "assistant": {
        const { content, function_call, tool_calls } = yield* decodeAt(AssistantMessage, at, message)
        const parts: Array<Part> = yield* decodeContent(content, [...at, "content"], false, untranslated)
        for (const [j, call] of (tool_calls ?? []).entries()) parts.push(yield* toolCallPart(call.function, call.id, [...at, "tool_calls", j, "function"]))
        if (function_call !== undefined && function_call !== null) parts.push(yield* toolCallPart(function_call, `call_${i}`, [...at, "function_call"]))
        push("assistant", parts)
        break
      }
      case "tool": {
        const { content, tool_call_id } = yield* decodeAt(ToolMessage, at, message)
        push("user", [{ type: "tool_result", callId: tool_call_id, content: textOnly(yield* decodeContent(content, [...at, "content"], false, untranslated)) }])
        break
      }
      case "function": {
        // the legacy form answers the call of the assistant message just before
        const { content } = yield* decodeAt(WithContent, at, message)
        push("user", [{ type: "tool_result", callId: `call_${i - 1}`, content: textOnly(yield* decodeContent(content, [...at, "content"], false, untranslated)) }])
        break
      }
      default:
        return yield* Result.fail(invalidAt([...at, "role"], [], `expected ${roles}`))
    }
  }
  return { system, messages: out as Array<Message> }
})

const definition = (fn: typeof FunctionDefinition.Type): ToolDefinition => ({
  name: fn.name,
  ...(fn.description === undefined ? {} : { description: fn.description }),
  parameters: fn.parameters ?? { type: "object", properties: {} },
  ...(typeof fn.strict === "boolean" ? { strict: fn.strict } : {})
})

const decodeTools = (request: ChatRequest, untranslated: Untranslated) => Result.gen(function*() {
  const tools: Array<ToolDefinition> = []
  for (const [i, tool] of (request.tools ?? []).entries()) {
    // custom (freeform) tools, and types newer than this code, are the provider's to judge
    if (tool.type !== "function") untranslated.note(["tools", i, "type"], `tool of type ${JSON.stringify(tool.type)} (OpenAI only)`)
    else tools.push(definition((yield* decodeAt(FunctionTool, ["tools", i], tool)).function))
  }
  for (const [i, fn] of (request.functions ?? []).entries()) tools.push(definition(yield* decodeAt(FunctionDefinition, ["functions", i], fn)))
  return tools
})

const decodeToolChoice = (request: ChatRequest): Result.Result<ToolChoice | undefined, GatewayError> => {
  const choice = request.tool_choice ?? request.function_call
  if (choice === undefined || choice === null) return Result.succeed(undefined)
  if (choice === "auto" || choice === "none" || choice === "required") return Result.succeed({ type: choice })
  const invalid = invalidAt(["tool_choice"], [], "expected \"auto\", \"none\", \"required\" or {type: \"function\", function: {name}}")
  return decodeAt(NamedChoice, ["tool_choice"], choice).pipe(
    Result.mapError(() => invalid),
    Result.flatMap((named) => {
      const name = named.function?.name ?? named.name
      return name === undefined ? Result.fail(invalid) : Result.succeed({ type: "tool", name } as const)
    })
  )
}

/** The request in IR; `model` is the model id the resolved Provider is sent. */
export const decodeChatRequest = (body: unknown, model: string) => Result.gen(function*() {
  if (!isJsonObject(body)) return yield* Result.fail(invalidRequest("the request body must be a JSON object"))
  const request = yield* decodeAt(ChatRequest, [], body)
  const untranslated = new Untranslated()
  if (request.n !== undefined && request.n !== null && request.n !== 1) untranslated.note(["n"], `more than one choice (n = ${request.n}) is answered by OpenAI-shaped providers only`, true)
  const { messages, system } = yield* decodeMessages(request, untranslated)
  const tools = yield* decodeTools(request, untranslated)
  const toolChoice = yield* decodeToolChoice(request)
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined
  const extensions = Object.fromEntries(Object.entries(request).filter(([key]) => !modeled.has(key)))
  const conversation: Conversation = {
    model,
    system,
    messages,
    tools,
    ...(toolChoice === undefined ? {} : { toolChoice }),
    ...(typeof request.parallel_tool_calls === "boolean" ? { parallelToolCalls: request.parallel_tool_calls } : {}),
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...(typeof request.temperature === "number" ? { temperature: request.temperature } : {}),
    ...(typeof request.top_p === "number" ? { topP: request.top_p } : {}),
    ...(request.stop === undefined || request.stop === null ? {} : { stop: typeof request.stop === "string" ? [request.stop] : request.stop }),
    ...(typeof request.user === "string" ? { user: request.user } : {}),
    extensions: Object.keys(extensions).length === 0 ? {} : { openai: extensions }
  }
  const decoded: DecodedRequest<OpenAIExtra> = {
    conversation,
    untranslatable: untranslated.items,
    extra: { includeUsage: request.stream_options?.include_usage === true }
  }
  return decoded
})
