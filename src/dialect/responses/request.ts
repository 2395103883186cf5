/**
 * Decodes an OpenAI Responses API request (`POST /v1/responses`: Codex CLI, the Agents SDK, the AI
 * SDK) into the neutral conversation, with Effect Schemas as the Chat Completions decoder does: the
 * envelope first, then each input item (`request-items.ts`) and tool by its type, so a bad request
 * fails naming the field at fault and every object keeps its unknown keys.
 *
 * A request may continue a stored one (`previous_response_id`) and name stored items
 * (`item_reference`): the door looks them up first (`referencesOf`) and hands them over as
 * `ResponsesPrepared`. Custom (freeform) tools become tools with one string argument; the hosted
 * tools the gateway serves itself (web search, code execution) are asked of its tool loop. Fields
 * with a Chat Completions equivalent go to `extensions.openai`, the others to `extensions.responses`;
 * an unknown field is never an error. What only OpenAI can do (its other hosted tools, background
 * responses, stored conversations) is listed in `untranslatable`.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { type GatewayError, invalidRequest } from "../../errors.ts"
import type { Conversation, TextPart } from "../../ir/conversation.ts"
import { isJsonObject } from "../../json.ts"
import { invalidAt, makeDecodeAt, maybe, open, Untranslated } from "../decoding.ts"
import type { DecodedRequest } from "../wire.ts"
import { decodeInput, type Item, itemsMisfit, kindOf, type Located } from "./request-items.ts"
import { decodeToolChoice, decodeTools } from "./request-tools.ts"
import type { ResponsesExtra } from "./vocabulary.ts"

/** What the door looked up before decoding: the stored conversation a request continues. */
export interface ResponsesPrepared {
  /** the items before this request's input: the stored input and output of `previous_response_id` */
  readonly history: ReadonlyArray<Readonly<Record<string, unknown>>>
  /** items named by `item_reference` inputs, by their id */
  readonly references: ReadonlyMap<string, Readonly<Record<string, unknown>>>
}

const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

const requestFields = {
  model: Schema.String.check(Schema.isMinLength(1, { message: "is required (e.g. \"provider/model\")" })),
  // its items checked by hand (`itemsMisfit`), kept as they came
  input: maybe(Schema.Union([Schema.String, Schema.Array(Schema.Unknown)])),
  instructions: maybe(Schema.String),
  tools: maybe(Schema.Array(open({ type: Schema.Unknown }))),
  tool_choice: Schema.optionalKey(Schema.Unknown),
  parallel_tool_calls: maybe(Schema.Boolean),
  max_output_tokens: maybe(Schema.Finite),
  temperature: maybe(Schema.Finite),
  top_p: maybe(Schema.Finite),
  user: maybe(Schema.String),
  reasoning: maybe(open({ effort: maybe(Schema.String), summary: maybe(Schema.String) })),
  text: maybe(open({ format: maybe(open({ type: Schema.Unknown })), verbosity: maybe(Schema.String) })),
  stream: maybe(Schema.Boolean),
  store: maybe(Schema.Boolean),
  previous_response_id: maybe(Schema.String),
  metadata: maybe(JsonObject),
  prompt_cache_key: maybe(Schema.String),
  safety_identifier: maybe(Schema.String),
  service_tier: maybe(Schema.String),
  // Anthropic's signed thinking goes back in `encrypted_content` always: asking for it changes nothing
  include: maybe(Schema.Array(Schema.String))
}
const ResponsesRequest = open(requestFields)
type ResponsesRequest = typeof ResponsesRequest.Type

/** Fields read here; everything else goes to `extensions.responses`. */
const handled = new Set(Object.keys(requestFields))
/** Fields a Chat Completions provider takes as they are. */
const chatFields = ["prompt_cache_key", "safety_identifier", "service_tier", "metadata"] as const

const JsonSchemaFormat = open({ name: Schema.String, schema: JsonObject, strict: maybe(Schema.Boolean), description: maybe(Schema.String) })

const decodeAt = makeDecodeAt(SchemaIssue.makeFormatterStandardSchemaV1())

/** `text.format` as Chat Completions' `response_format`; plain text needs none. */
const responseFormat = (request: ResponsesRequest, untranslated: Untranslated) => Result.gen(function*() {
  const format = request.text?.format
  if (format === undefined || format === null || format.type === "text") return undefined
  if (format.type === "json_object") return { type: "json_object" }
  if (format.type === "json_schema") {
    const { description, name, schema, strict } = yield* decodeAt(JsonSchemaFormat, ["text", "format"], format)
    return {
      type: "json_schema",
      json_schema: {
        name,
        schema,
        ...(typeof strict === "boolean" ? { strict } : {}),
        ...(typeof description === "string" ? { description } : {})
      }
    }
  }
  return untranslated.note(["text", "format", "type"], `a text format of type ${JSON.stringify(format.type)} (OpenAI only)`, true)
})

/** What a Chat Completions provider gets in its body. */
const chatExtensions = (request: ResponsesRequest, format: Readonly<Record<string, unknown>> | undefined) => {
  const openai: Record<string, unknown> = {}
  if (format !== undefined) openai.response_format = format
  if (typeof request.text?.verbosity === "string") openai.verbosity = request.text.verbosity
  for (const key of chatFields) if (request[key] !== undefined && request[key] !== null) openai[key] = request[key]
  if (typeof request.reasoning?.effort === "string") openai.reasoning_effort = request.reasoning.effort
  return openai
}

const sent = <A>(value: A | null | undefined, fallback: A): A => (value === undefined || value === null ? fallback : value)

/** What a Response object echoes of its request, with the API's defaults. */
const echoOf = (request: ResponsesRequest, store: boolean): Record<string, unknown> => {
  const rest = request as Readonly<Record<string, unknown>>
  return {
    instructions: sent(request.instructions, null),
    tools: sent(request.tools, []),
    tool_choice: sent(request.tool_choice, "auto"),
    parallel_tool_calls: sent(request.parallel_tool_calls, true),
    temperature: sent(request.temperature, 1),
    top_p: sent(request.top_p, 1),
    max_output_tokens: sent(request.max_output_tokens, null),
    previous_response_id: sent(request.previous_response_id, null),
    reasoning: { ...request.reasoning, effort: sent(request.reasoning?.effort, null), summary: sent(request.reasoning?.summary, null) },
    text: { ...request.text, format: sent(request.text?.format, { type: "text" }) },
    truncation: sent(rest.truncation, "disabled"),
    metadata: sent(request.metadata, {}),
    user: sent(request.user, null),
    store,
    ...Object.fromEntries((["prompt_cache_key", "safety_identifier", "service_tier"] as const).flatMap((key) => {
      const value = request[key]
      return value === undefined || value === null ? [] : [[key, value]]
    }))
  }
}

/** The items to decode: the stored history, then this request's input. */
const itemsOf = (request: ResponsesRequest, prepared: ResponsesPrepared | undefined): Result.Result<Array<Located>, GatewayError> => {
  // a stored item is named by its place in the history the previous response id stands for
  const history = (prepared?.history ?? []).map((item, i): Located => ({ at: ["previous_response_id", i], item }))
  const input = request.input
  if (input === undefined || input === null) {
    return history.length > 0 ? Result.succeed(history) : Result.fail(invalidAt(["input"], [], "is required (a string or an array of input items)"))
  }
  if (typeof input === "string") {
    return Result.succeed([...history, { at: ["input"], item: { type: "message", role: "user", content: [{ type: "input_text", text: input }] } }])
  }
  return Result.succeed([...history, ...(input as ReadonlyArray<Item>).map((item, i): Located => ({ at: ["input", i], item }))])
}

/** The envelope's fields up to `input`: a fault there is found before one in an input item. */
const beforeItems = new Set<string | undefined>([undefined, "model", "input"])

/** The envelope, its input items checked in their place in its field order (after `model` and `input` itself). */
const envelopeOf = (body: Readonly<Record<string, unknown>>): Result.Result<ResponsesRequest, GatewayError> => {
  const envelope = decodeAt(ResponsesRequest, [], body)
  if (Result.isFailure(envelope) && beforeItems.has(envelope.failure.param?.split(".")[0])) return envelope
  const misfit = Array.isArray(body.input) ? itemsMisfit(body.input, ["input"]) : undefined
  return misfit === undefined ? envelope : Result.fail(misfit)
}

/** The request in IR; `model` is the model id the resolved Provider is sent. */
export const decodeResponsesRequest = (
  body: unknown,
  model: string,
  prepared: ResponsesPrepared | undefined
): Result.Result<DecodedRequest<ResponsesExtra>, GatewayError> =>
  Result.gen(function*() {
    if (!isJsonObject(body)) return yield* Result.fail(invalidRequest("the request body must be a JSON object"))
    const request = yield* envelopeOf(body)
    const untranslated = new Untranslated()
    if (typeof request.previous_response_id === "string" && request.previous_response_id !== "" && prepared === undefined) {
      untranslated.note(["previous_response_id"], "a response this gateway did not store (its provider may have it)", true)
    }
    const decoded = yield* decodeInput(yield* itemsOf(request, prepared), prepared?.references ?? new Map(), untranslated)
    const { freeform, hosted, namespaced: inNamespace, tools } = yield* decodeTools(request.tools, untranslated)
    const toolChoice = yield* decodeToolChoice(request.tool_choice, untranslated)
    const openai = chatExtensions(request, yield* responseFormat(request, untranslated))
    const responses = Object.fromEntries(Object.entries(request).filter(([key]) => !handled.has(key)))
    // without these the answer cannot be given elsewhere: it would not run in the background, nor join the stored conversation
    if (responses.background === true) untranslated.note(["background"], "a background response is run by OpenAI providers only", true)
    if (responses.conversation !== undefined && responses.conversation !== null) {
      untranslated.note(["conversation"], "a conversation of OpenAI's Conversations API is kept by OpenAI providers only", true)
    }
    const instructions: Array<TextPart> = typeof request.instructions === "string" && request.instructions !== "" ? [{ type: "text", text: request.instructions }] : []
    const store = request.store !== false
    const conversation: Conversation = {
      model,
      system: [...instructions, ...decoded.system],
      messages: decoded.messages,
      tools,
      ...(toolChoice === undefined ? {} : { toolChoice }),
      ...(typeof request.parallel_tool_calls === "boolean" ? { parallelToolCalls: request.parallel_tool_calls } : {}),
      ...(typeof request.max_output_tokens === "number" ? { maxTokens: request.max_output_tokens } : {}),
      ...(typeof request.temperature === "number" ? { temperature: request.temperature } : {}),
      ...(typeof request.top_p === "number" ? { topP: request.top_p } : {}),
      ...(typeof request.user === "string" ? { user: request.user } : {}),
      ...(typeof request.reasoning?.effort === "string" ? { reasoningEffort: request.reasoning.effort } : {}),
      extensions: {
        ...(Object.keys(openai).length === 0 ? {} : { openai }),
        ...(Object.keys(responses).length === 0 ? {} : { responses })
      }
    }
    return {
      conversation,
      untranslatable: untranslated.items,
      extra: { echo: echoOf(request, store), freeform, hosted, namespaced: inNamespace, store, input: decoded.input }
    }
  })

/** The `item_reference` ids and `previous_response_id` of a body, for the door to look up (cheap: no full decode). */
export const referencesOf = (body: Readonly<Record<string, unknown>>): { readonly previous?: string; readonly items: ReadonlyArray<string> } => {
  const previous = typeof body.previous_response_id === "string" && body.previous_response_id !== "" ? { previous: body.previous_response_id } : {}
  const items = Array.isArray(body.input)
    ? body.input.flatMap((item: unknown) => (isJsonObject(item) && kindOf(item) === "item_reference" && typeof item.id === "string" ? [item.id] : []))
    : []
  return { ...previous, items }
}
