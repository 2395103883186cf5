/**
 * Decodes an OpenAI Chat Completions request into the neutral conversation.
 *
 * Leading `system`/`developer` messages become the system prompt, later ones system turns at their
 * place; `tool` messages become tool results inside
 * a user turn (consecutive ones merged, and a following user message joins the same turn), so the
 * conversation alternates user/assistant as Anthropic requires. Top-level fields the IR does not
 * model go untouched to `extensions.openai`: an unknown field is never an error. What the IR cannot
 * carry (file and audio parts, `n` > 1, custom tools, part types and roles newer than this code) is
 * listed in `untranslatable`: such a request can only be passed through to an OpenAI-shaped provider,
 * and is a 400 anywhere else.
 */
import { Effect } from "effect"
import { type GatewayError, invalidRequest } from "../../errors.ts"
import type { Conversation, ImagePart, Message, Part, TextPart, ToolChoice, ToolDefinition } from "../../ir/conversation.ts"

export interface DecodedChatRequest {
  /** the model as the client sent it; the router resolves it */
  readonly model: string
  readonly stream: boolean
  /** `stream_options.include_usage` */
  readonly includeUsage: boolean
  /** `conversation.model` is the raw string until the router rewrites it */
  readonly conversation: Conversation
  /** what the conversation leaves out, each as the 400 it is when the request cannot be passed through */
  readonly untranslatable: ReadonlyArray<Untranslatable>
}

export interface Untranslatable {
  readonly param: string
  readonly message: string
}

/** Fields the IR models; everything else is an extension. */
const modeled = new Set([
  "model", "messages", "stream", "stream_options", "tools", "tool_choice", "functions", "function_call",
  "parallel_tool_calls", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "user", "n"
])

class Invalid extends Error {
  readonly param: string | undefined
  constructor(message: string, param?: string) {
    super(message)
    this.param = param
  }
}

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)
const fail = (param: string, message: string): never => {
  throw new Invalid(`${param}: ${message}`, param)
}
const str = (v: unknown, param: string): string => (typeof v === "string" ? v : fail(param, "expected a string"))
const optionalNumber = (v: unknown, param: string): number | undefined =>
  v === undefined || v === null ? undefined : typeof v === "number" && Number.isFinite(v) ? v : fail(param, "expected a number")

const dataUrl = /^data:([^;,]+);base64,(.*)$/s

const image = (part: Json, param: string): ImagePart => {
  const spec = part["image_url"]
  const url = isObject(spec) ? spec["url"] : spec
  if (typeof url !== "string") return fail(`${param}.image_url.url`, "expected a string")
  const detail = isObject(spec) && typeof spec["detail"] === "string" ? { detail: spec["detail"] } : {}
  const data = dataUrl.exec(url)
  if (data !== null) return { type: "image", source: { kind: "base64", mediaType: data[1]!, data: data[2]! }, ...detail }
  if (/^https?:\/\//i.test(url)) return { type: "image", source: { kind: "url", url }, ...detail }
  return fail(`${param}.image_url.url`, "expected an http(s) URL or a base64 data URL")
}

/** `content` as parts: a string, null, or an array of typed parts. */
const content = (value: unknown, param: string, allowImages: boolean, notes: Array<Untranslatable>): Array<TextPart | ImagePart> => {
  if (value === undefined || value === null) return []
  if (typeof value === "string") return value === "" ? [] : [{ type: "text", text: value }]
  if (!Array.isArray(value)) return fail(param, "expected a string or an array of content parts")
  return value.flatMap((part, i): Array<TextPart | ImagePart> => {
    const at = `${param}.${i}`
    if (!isObject(part)) return fail(at, "expected a content part object")
    switch (part["type"]) {
      case "text":
        return [{ type: "text", text: str(part["text"], `${at}.text`) }]
      case "image_url":
        return allowImages ? [image(part, at)] : fail(`${at}.type`, "images are only allowed in user messages")
      case "refusal":
        return []
      default:
        // input_audio, file, and types newer than this code: the provider of the client's dialect judges them
        notes.push({ param: `${at}.type`, message: `content parts of type ${JSON.stringify(part["type"])} reach OpenAI-shaped providers only, without server-side tools` })
        return []
    }
  })
}

const toolCall = (call: unknown, param: string): Part => {
  if (!isObject(call) || !isObject(call["function"])) return fail(param, "expected {id, type: \"function\", function: {name, arguments}}")
  const fn = call["function"]
  const args = fn["arguments"] === undefined || fn["arguments"] === "" ? "{}" : str(fn["arguments"], `${param}.function.arguments`)
  try {
    JSON.parse(args)
  } catch {
    return fail(`${param}.function.arguments`, "is not valid JSON")
  }
  return { type: "tool_call", id: str(call["id"], `${param}.id`), name: str(fn["name"], `${param}.function.name`), arguments: args }
}

const textOnly = (parts: ReadonlyArray<TextPart | ImagePart>): Array<TextPart> =>
  parts.flatMap((p) => (p.type === "text" ? [p] : []))

interface Decoded {
  readonly system: Array<TextPart>
  readonly messages: Array<Message>
}

const messages = (value: unknown, notes: Array<Untranslatable>): Decoded => {
  if (!Array.isArray(value) || value.length === 0) return fail("messages", "expected a non-empty array of messages")
  const system: Array<TextPart> = []
  const out: Array<{ role: Message["role"]; content: Array<Part> }> = []
  // Consecutive same-role turns merge, which keeps user/assistant alternation and puts tool results
  // and the user's next words in one user turn.
  const push = (role: Message["role"], parts: ReadonlyArray<Part>) => {
    const last = out.at(-1)
    if (last !== undefined && last.role === role) last.content.push(...parts)
    else out.push({ role, content: [...parts] })
  }
  value.forEach((message, i) => {
    const at = `messages.${i}`
    if (!isObject(message)) return fail(at, "expected a message object")
    const role = message["role"]
    switch (role) {
      case "system":
      case "developer": {
        // before the conversation starts: the system prompt; after, an instruction at its place
        const text = textOnly(content(message["content"], `${at}.content`, false, notes))
        if (out.length === 0) system.push(...text)
        else if (text.length > 0) push("system", text)
        return
      }
      case "user":
        push("user", content(message["content"], `${at}.content`, true, notes))
        return
      case "assistant": {
        const parts: Array<Part> = content(message["content"], `${at}.content`, false, notes)
        const calls = message["tool_calls"]
        if (calls !== undefined && calls !== null) {
          if (!Array.isArray(calls)) return fail(`${at}.tool_calls`, "expected an array")
          calls.forEach((c, j) => parts.push(toolCall(c, `${at}.tool_calls.${j}`)))
        }
        const legacy = message["function_call"]
        if (isObject(legacy)) parts.push(toolCall({ id: `call_${i}`, function: legacy }, `${at}.function_call`))
        push("assistant", parts)
        return
      }
      case "tool":
      case "function": {
        const callId = role === "tool" ? message["tool_call_id"] : `call_${i - 1}`
        if (typeof callId !== "string") return fail(`${at}.tool_call_id`, "is required on tool messages")
        push("user", [{ type: "tool_result", callId, content: textOnly(content(message["content"], `${at}.content`, false, notes)) }])
        return
      }
      default:
        notes.push({ param: `${at}.role`, message: `messages with role ${JSON.stringify(role)} reach OpenAI-shaped providers only, without server-side tools` })
        return
    }
  })
  return { system, messages: out }
}

const tools = (body: Json, notes: Array<Untranslatable>): Array<ToolDefinition> => {
  const definitions: Array<ToolDefinition> = []
  const add = (fn: unknown, param: string) => {
    if (!isObject(fn)) return fail(param, "expected a function definition")
    const parameters = fn["parameters"] ?? { type: "object", properties: {} }
    if (!isObject(parameters)) return fail(`${param}.parameters`, "expected a JSON Schema object")
    definitions.push({
      name: str(fn["name"], `${param}.name`),
      ...(typeof fn["description"] === "string" ? { description: fn["description"] } : {}),
      parameters,
      ...(typeof fn["strict"] === "boolean" ? { strict: fn["strict"] } : {})
    })
  }
  const list = body["tools"]
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) return fail("tools", "expected an array")
    list.forEach((tool, i) => {
      if (!isObject(tool)) return fail(`tools.${i}`, "expected a tool object")
      if (tool["type"] === "function") return add(tool["function"], `tools.${i}.function`)
      // custom (freeform) tools, and types newer than this code
      notes.push({ param: `tools.${i}.type`, message: `tools of type ${JSON.stringify(tool["type"])} reach OpenAI-shaped providers only, without server-side tools` })
    })
  }
  const legacy = body["functions"]
  if (Array.isArray(legacy)) legacy.forEach((fn, i) => add(fn, `functions.${i}`))
  return definitions
}

const toolChoice = (body: Json): ToolChoice | undefined => {
  const choice = body["tool_choice"] ?? body["function_call"]
  if (choice === undefined || choice === null) return undefined
  if (choice === "auto" || choice === "none" || choice === "required") return { type: choice }
  if (isObject(choice)) {
    const name = isObject(choice["function"]) ? choice["function"]["name"] : choice["name"]
    if (typeof name === "string") return { type: "tool", name }
  }
  return fail("tool_choice", "expected \"auto\", \"none\", \"required\" or {type: \"function\", function: {name}}")
}

const stop = (value: unknown): Array<string> | undefined => {
  if (value === undefined || value === null) return undefined
  if (typeof value === "string") return [value]
  if (Array.isArray(value) && value.every((s) => typeof s === "string")) return value as Array<string>
  return fail("stop", "expected a string or an array of strings")
}

const decode = (body: unknown): DecodedChatRequest => {
  if (!isObject(body)) throw new Invalid("the request body must be a JSON object")
  const model = body["model"]
  if (typeof model !== "string" || model === "") return fail("model", "is required (e.g. \"provider/model\")")
  const notes: Array<Untranslatable> = []
  const n = body["n"]
  if (n !== undefined && n !== null && n !== 1) notes.push({ param: "n", message: "n > 1 reaches OpenAI-shaped providers only, without server-side tools" })
  const { messages: turns, system } = messages(body["messages"], notes)
  const maxTokens = optionalNumber(body["max_completion_tokens"], "max_completion_tokens") ??
    optionalNumber(body["max_tokens"], "max_tokens")
  const temperature = optionalNumber(body["temperature"], "temperature")
  const topP = optionalNumber(body["top_p"], "top_p")
  const stops = stop(body["stop"])
  const choice = toolChoice(body)
  const streamOptions = body["stream_options"]
  const extensions = Object.fromEntries(Object.entries(body).filter(([key]) => !modeled.has(key)))
  return {
    model,
    stream: body["stream"] === true,
    includeUsage: isObject(streamOptions) && streamOptions["include_usage"] === true,
    conversation: {
      model,
      system,
      messages: turns,
      tools: tools(body, notes),
      ...(choice === undefined ? {} : { toolChoice: choice }),
      ...(typeof body["parallel_tool_calls"] === "boolean" ? { parallelToolCalls: body["parallel_tool_calls"] } : {}),
      ...(maxTokens === undefined ? {} : { maxTokens }),
      ...(temperature === undefined ? {} : { temperature }),
      ...(topP === undefined ? {} : { topP }),
      ...(stops === undefined ? {} : { stop: stops }),
      ...(typeof body["user"] === "string" ? { user: body["user"] } : {}),
      extensions: Object.keys(extensions).length === 0 ? {} : { openai: extensions }
    },
    untranslatable: notes
  }
}

export const decodeChatRequest = (body: unknown): Effect.Effect<DecodedChatRequest, GatewayError> =>
  Effect.try({
    try: () => decode(body),
    catch: (e) => e instanceof Invalid ? invalidRequest(e.message, e.param) : invalidRequest(String(e))
  })
