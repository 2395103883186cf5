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
import { invalidAt, makeDecodeAt, maybe, open, type Path, textOnly, Untranslated } from "../decoding.ts"
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
  const parts: Array<TextPart | ImagePart> = []
  for (let i = 0; i < value.length; i++) {
    const part = value[i]!
    const partAt = [...at, i]
    switch (part.type) {
      case "text": {
        const text = decodeAt(TextPartJson, partAt, part)
        if (Result.isFailure(text)) return Result.fail(text.failure)
        parts.push({ type: "text", text: text.success.text })
        break
      }
      case "image_url": {
        if (!allowImages) return Result.fail(invalidAt([...partAt, "type"], [], "images are only allowed in user messages"))
        const image = decodeImage(part, partAt)
        if (Result.isFailure(image)) return Result.fail(image.failure)
        parts.push(image.success)
        break
      }
      case "refusal":
        break
      default:
        // input_audio, file, and types newer than this code: the provider of the client's dialect judges them
        untranslated.note([...partAt, "type"], `content part of type ${JSON.stringify(part.type)} (OpenAI only)`)
    }
  }
  return Result.succeed(parts)
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

const roles = ["system", "developer", "user", "assistant", "tool", "function"].map((r) => JSON.stringify(r)).join(" | ")

/** A message's content as parts, after its own shape was decoded (`shape`): the first failure of either. */
const contentOf = <A extends { readonly content?: Content | undefined }>(
  shape: Result.Result<A, GatewayError>,
  at: Path,
  allowImages: boolean,
  untranslated: Untranslated
): Result.Result<{ readonly message: A; readonly parts: Array<TextPart | ImagePart> }, GatewayError> => {
  if (Result.isFailure(shape)) return Result.fail(shape.failure)
  const parts = decodeContent(shape.success.content, [...at, "content"], allowImages, untranslated)
  return Result.isFailure(parts) ? Result.fail(parts.failure) : Result.succeed({ message: shape.success, parts: parts.success })
}

const decodeMessages = (request: ChatRequest, untranslated: Untranslated): Result.Result<{ system: Array<TextPart>; messages: Array<Message> }, GatewayError> => {
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
    if (!isJsonObject(message)) return Result.fail(invalidAt(at, [], "Expected object"))
    switch (message["role"]) {
      case "system":
      case "developer": {
        // before the conversation starts: the system prompt; after, an instruction at its place
        const decoded = contentOf(decodeAt(WithContent, at, message), at, false, untranslated)
        if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
        const text = textOnly(decoded.success.parts)
        if (out.length === 0) system.push(...text)
        else if (text.length > 0) push("system", text)
        break
      }
      case "user": {
        const decoded = contentOf(decodeAt(WithContent, at, message), at, true, untranslated)
        if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
        const { message: { content }, parts } = decoded.success
        // a turn whose every part was left out would be an empty message, which providers reject
        if (parts.length === 0 && Array.isArray(content) && content.length > 0) untranslated.note(at, "user message (nothing left in it)")
        else push("user", parts)
        break
      }
      case "assistant": {
        const decoded = contentOf(decodeAt(AssistantMessage, at, message), at, false, untranslated)
        if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
        const { message: { function_call, tool_calls }, parts } = decoded.success
        const turn: Array<Part> = parts
        const calls = tool_calls ?? []
        for (let j = 0; j < calls.length; j++) {
          const call = toolCallPart(calls[j]!.function, calls[j]!.id, [...at, "tool_calls", j, "function"])
          if (Result.isFailure(call)) return Result.fail(call.failure)
          turn.push(call.success)
        }
        if (function_call !== undefined && function_call !== null) {
          const call = toolCallPart(function_call, `call_${i}`, [...at, "function_call"])
          if (Result.isFailure(call)) return Result.fail(call.failure)
          turn.push(call.success)
        }
        push("assistant", turn)
        break
      }
      case "tool": {
        const decoded = contentOf(decodeAt(ToolMessage, at, message), at, false, untranslated)
        if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
        push("user", [{ type: "tool_result", callId: decoded.success.message.tool_call_id, content: textOnly(decoded.success.parts) }])
        break
      }
      case "function": {
        // the legacy form answers the call of the assistant message just before
        const decoded = contentOf(decodeAt(WithContent, at, message), at, false, untranslated)
        if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
        push("user", [{ type: "tool_result", callId: `call_${i - 1}`, content: textOnly(decoded.success.parts) }])
        break
      }
      default:
        return Result.fail(invalidAt([...at, "role"], [], `expected ${roles}`))
    }
  }
  return Result.succeed({ system, messages: out as Array<Message> })
}

const definition = (fn: typeof FunctionDefinition.Type): ToolDefinition => ({
  name: fn.name,
  ...(fn.description === undefined ? {} : { description: fn.description }),
  parameters: fn.parameters ?? { type: "object", properties: {} },
  ...(typeof fn.strict === "boolean" ? { strict: fn.strict } : {})
})

const decodeTools = (request: ChatRequest, untranslated: Untranslated): Result.Result<Array<ToolDefinition>, GatewayError> => {
  const tools: Array<ToolDefinition> = []
  for (const [i, tool] of (request.tools ?? []).entries()) {
    // custom (freeform) tools, and types newer than this code, are the provider's to judge
    if (tool.type !== "function") {
      untranslated.note(["tools", i, "type"], `tool of type ${JSON.stringify(tool.type)} (OpenAI only)`)
      continue
    }
    const decoded = decodeAt(FunctionTool, ["tools", i], tool)
    if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
    tools.push(definition(decoded.success.function))
  }
  for (const [i, fn] of (request.functions ?? []).entries()) {
    const decoded = decodeAt(FunctionDefinition, ["functions", i], fn)
    if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
    tools.push(definition(decoded.success))
  }
  return Result.succeed(tools)
}

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
