/**
 * The input items of a Responses API request as turns of the neutral conversation, each item checked
 * by its type so a bad one fails naming the field at fault (`input.2.content.0.text`).
 *
 * Messages, function and custom (freeform) tool calls and their outputs become text, tool calls and
 * tool results; consecutive same-role items merge into one turn, so user and assistant alternate.
 * Reasoning items carry thinking only when the gateway wrote it for an Anthropic provider
 * (`anthropicSignature`); OpenAI's encrypted reasoning, and item types only OpenAI runs, are left out
 * and listed. Calls of hosted tools that the gateway served are skipped: their outcome is already in
 * the assistant's later text. Every item is also kept as sent, with an id, for the store.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type { GatewayError } from "../../errors.ts"
import type { ImagePart, Message, Part, TextPart } from "../../ir/conversation.ts"
import { isJsonObject } from "../../json.ts"
import { invalidAt, makeDecodeAt, maybe, type Path, textOnly, type Untranslated } from "../decoding.ts"
import { anthropicSignature, freeformArgument, itemId, namespaced } from "./vocabulary.ts"

export type Item = Readonly<Record<string, unknown>>

/**
 * Where an input item is not an object, in the Schema's words, if one is not. Items and content
 * parts are checked by hand and kept as they came; an item's own shape is a plain Struct of the
 * fields read from it (an open Struct copies every key on Effect's slow path, and a Codex
 * conversation is a hundred items).
 */
export const itemsMisfit = (items: ReadonlyArray<unknown>, at: Path): GatewayError | undefined => {
  for (let i = 0; i < items.length; i++) if (!isJsonObject(items[i])) return invalidAt([...at, i], [], "Expected object")
  return undefined
}

/** Each content part an object with a `type`, or the first that is not. */
const partsMisfit = (parts: ReadonlyArray<unknown>, at: Path): GatewayError | undefined => {
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]
    if (!isJsonObject(part)) return invalidAt([...at, i], [], "Expected object")
    if (!("type" in part)) return invalidAt([...at, i, "type"], [], "Missing key")
  }
  return undefined
}

/** A message's content or a call's output, before its parts are checked (`partsMisfit`). */
const ContentJson = Schema.Union([Schema.String, Schema.Array(Schema.Unknown)])
type Content = string | ReadonlyArray<Item & { readonly type: unknown }>

const MessageItem = Schema.Struct({ role: Schema.Unknown, content: ContentJson })
const TextJson = Schema.Struct({ text: Schema.String })
const ImageJson = Schema.Struct({ image_url: maybe(Schema.String), file_id: maybe(Schema.String), detail: maybe(Schema.String) })
const FunctionCallItem = Schema.Struct({ call_id: Schema.String, name: Schema.String, arguments: Schema.String, namespace: maybe(Schema.String) })
const CustomToolCallItem = Schema.Struct({ call_id: Schema.String, name: Schema.String, input: Schema.String, namespace: maybe(Schema.String) })

/** A call's tool by the name the model knows it by: namespaced when it is in a namespace. */
const calledName = (call: { readonly name: string; readonly namespace?: string | null | undefined }): string =>
  typeof call.namespace === "string" && call.namespace !== "" ? namespaced({ namespace: call.namespace, name: call.name }) : call.name
const CallOutputItem = Schema.Struct({ call_id: Schema.String, output: ContentJson })
const ReasoningItem = Schema.Struct({ summary: Schema.Array(Schema.Struct({ text: Schema.String })), encrypted_content: maybe(Schema.String) })
const ReferenceItem = Schema.Struct({ id: Schema.String })

const decodeAt = makeDecodeAt(SchemaIssue.makeFormatterStandardSchemaV1())

/**
 * An item's type. `type` may be left out of a message (`{role, content}`) and of an item reference
 * (`{id}`), which is then told apart by having no role.
 */
export const kindOf = (item: Item): unknown => {
  if (item.type !== undefined && item.type !== null) return item.type
  return item.role === undefined && typeof item.id === "string" ? "item_reference" : "message"
}

/** Output items of the hosted tools the gateway serves itself, sent back as history. */
const servedHere = new Set<unknown>(["web_search_call", "code_interpreter_call"])

const idPrefixes = new Map<unknown, string>([
  ["message", "msg"],
  ["function_call", "fc"],
  ["function_call_output", "fco"],
  ["custom_tool_call", "ctc"],
  ["custom_tool_call_output", "ctco"],
  ["reasoning", "rs"]
])

/** The item as a stored response keeps it: with its type spelled out and an id. */
const kept = (item: Item, kind: unknown): Item => {
  const typed = kind === "message" && item.type !== "message" ? { ...item, type: "message" } : item
  return typeof item.id === "string" && item.id !== "" ? typed : { ...typed, id: itemId(idPrefixes.get(kind) ?? "item") }
}

const dataUrl = /^data:([^;,]+);base64,(.*)$/s

const decodeImage = (part: Item, at: Path, untranslated: Untranslated) => Result.gen(function*() {
  const { detail, file_id, image_url } = yield* decodeAt(ImageJson, at, part)
  const detailKept = typeof detail === "string" ? { detail } : {}
  if (typeof image_url === "string") {
    const data = dataUrl.exec(image_url)
    if (data !== null) return [{ type: "image", source: { kind: "base64", mediaType: data[1]!, data: data[2]! }, ...detailKept } satisfies ImagePart]
    if (/^https?:\/\//i.test(image_url)) return [{ type: "image", source: { kind: "url", url: image_url }, ...detailKept } satisfies ImagePart]
    return yield* Result.fail(invalidAt([...at, "image_url"], [], "expected an http(s) URL or a base64 data URL"))
  }
  if (typeof file_id === "string") {
    untranslated.note([...at, "file_id"], "an uploaded file (OpenAI only)")
    return []
  }
  return yield* Result.fail(invalidAt([...at, "image_url"], [], "expected an image URL or a file_id"))
})

/** `content` (or a tool's `output`) as parts: a string or an array of typed parts. */
const decodeContent = (value: string | ReadonlyArray<unknown>, at: Path, allowImages: boolean, untranslated: Untranslated): Result.Result<Array<TextPart | ImagePart>, GatewayError> => {
  if (typeof value === "string") return Result.succeed(value === "" ? [] : [{ type: "text", text: value }])
  const misfit = partsMisfit(value, at)
  if (misfit !== undefined) return Result.fail(misfit)
  const parts: Array<TextPart | ImagePart> = []
  for (const [i, part] of (value as Exclude<Content, string>).entries()) {
    const partAt = [...at, i]
    switch (part.type) {
      case "input_text":
      case "output_text": {
        const text = decodeAt(TextJson, partAt, part)
        if (Result.isFailure(text)) return Result.fail(text.failure)
        parts.push({ type: "text", text: text.success.text })
        break
      }
      case "input_image": {
        if (!allowImages) return Result.fail(invalidAt([...partAt, "type"], [], "images are only allowed in user messages and tool outputs"))
        const images = decodeImage(part, partAt, untranslated)
        if (Result.isFailure(images)) return Result.fail(images.failure)
        parts.push(...images.success)
        break
      }
      case "refusal":
        break
      default:
        // input_file, input_audio, and types newer than this code: the provider of the client's dialect judges them
        untranslated.note([...partAt, "type"], `content part of type ${JSON.stringify(part.type)} (OpenAI only)`)
    }
  }
  return Result.succeed(parts)
}

const roles = ["user", "assistant", "system", "developer"].map((r) => JSON.stringify(r)).join(" | ")

/** The conversation as it is built, item by item. */
class Turns {
  readonly system: Array<TextPart> = []
  readonly messages: Array<{ role: Message["role"]; content: Array<Part> }> = []
  /** consecutive same-role items join one turn; an item with nothing left in it adds none */
  push(role: Message["role"], parts: ReadonlyArray<Part>): void {
    if (parts.length === 0) return
    const last = this.messages.at(-1)
    if (last !== undefined && last.role === role) last.content.push(...parts)
    else this.messages.push({ role, content: [...parts] })
  }
  /** before the conversation starts: the system prompt; after, an instruction at its place */
  instruct(parts: ReadonlyArray<TextPart>): void {
    if (this.messages.length === 0) this.system.push(...parts)
    else this.push("system", parts)
  }
}

const decodeMessage = (item: Item, at: Path, turns: Turns, untranslated: Untranslated): Result.Result<void, GatewayError> => {
  const decoded = decodeAt(MessageItem, at, item)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const { content, role } = decoded.success
  const contentAt = [...at, "content"]
  switch (role) {
    case "system":
    case "developer":
      return Result.map(decodeContent(content, contentAt, false, untranslated), (parts) => turns.instruct(textOnly(parts)))
    case "user":
      return Result.map(decodeContent(content, contentAt, true, untranslated), (parts) => {
        // a turn whose every part was left out would be an empty message, which providers reject
        if (parts.length === 0 && Array.isArray(content) && content.length > 0) untranslated.note(at, "user message (nothing left in it)")
        turns.push("user", parts)
      })
    case "assistant":
      return Result.map(decodeContent(content, contentAt, false, untranslated), (parts) => turns.push("assistant", parts))
    default:
      return Result.fail(invalidAt([...at, "role"], [], `expected ${roles}`))
  }
}

const decodeFunctionCall = (item: Item, at: Path): Result.Result<Part, GatewayError> => {
  const decoded = decodeAt(FunctionCallItem, at, item)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const call = decoded.success
  const args = call.arguments === "" ? "{}" : call.arguments
  try {
    JSON.parse(args)
  } catch {
    return Result.fail(invalidAt([...at, "arguments"], [], "is not valid JSON"))
  }
  return Result.succeed({ type: "tool_call", id: call.call_id, name: calledName(call), arguments: args })
}

const decodeCallOutput = (item: Item, at: Path, untranslated: Untranslated): Result.Result<Part, GatewayError> => {
  const decoded = decodeAt(CallOutputItem, at, item)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const { call_id, output } = decoded.success
  return Result.map(decodeContent(output, [...at, "output"], true, untranslated), (content) => ({ type: "tool_result", callId: call_id, content }))
}

/** Thinking the gateway wrote for an Anthropic provider: one summary part per thinking block, so the text is exact. */
const decodeReasoning = (item: Item, at: Path, turns: Turns, untranslated: Untranslated) => Result.gen(function*() {
  const { encrypted_content, summary } = yield* decodeAt(ReasoningItem, at, item)
  if (typeof encrypted_content === "string" && encrypted_content.startsWith(anthropicSignature)) {
    const text = summary.map((s) => s.text).join("")
    return turns.push("assistant", [{ type: "thinking", text, signature: encrypted_content.slice(anthropicSignature.length) }])
  }
  return untranslated.note(at, "reasoning item (OpenAI's encrypted reasoning goes to OpenAI providers only)")
})

const decodeItem = (item: Item, kind: unknown, at: Path, turns: Turns, untranslated: Untranslated): Result.Result<void, GatewayError> => {
  switch (kind) {
    case "message":
      return decodeMessage(item, at, turns, untranslated)
    case "function_call":
      return Result.map(decodeFunctionCall(item, at), (call) => turns.push("assistant", [call]))
    case "custom_tool_call":
      return Result.map(decodeAt(CustomToolCallItem, at, item), (call) =>
        turns.push("assistant", [{ type: "tool_call", id: call.call_id, name: calledName(call), arguments: JSON.stringify({ [freeformArgument]: call.input }) }]))
    case "function_call_output":
    case "custom_tool_call_output":
      return Result.map(decodeCallOutput(item, at, untranslated), (result) => turns.push("user", [result]))
    case "reasoning":
      return decodeReasoning(item, at, turns, untranslated)
    default:
      if (!servedHere.has(kind)) untranslated.note([...at, "type"], `input item of type ${JSON.stringify(kind)} (OpenAI only)`)
      return Result.void
  }
}

/** An item where it was found: in this request's `input`, or in the stored history. */
export interface Located {
  readonly at: Path
  readonly item: Item
}

export interface DecodedInput {
  /** the leading system and developer messages */
  readonly system: ReadonlyArray<TextPart>
  readonly messages: ReadonlyArray<Message>
  /** every item, references replaced by what they name, each with an id */
  readonly input: ReadonlyArray<Item>
}

/** The items in IR, an `item_reference` replaced by the item it names in `references`. */
export const decodeInput = (items: ReadonlyArray<Located>, references: ReadonlyMap<string, Item>, untranslated: Untranslated): Result.Result<DecodedInput, GatewayError> => {
  const turns = new Turns()
  const input: Array<Item> = []
  for (const { at, item: sent } of items) {
    let item = sent
    let kind = kindOf(sent)
    if (kind === "item_reference") {
      const reference = decodeAt(ReferenceItem, at, sent)
      if (Result.isFailure(reference)) return Result.fail(reference.failure)
      const named = references.get(reference.success.id)
      if (named === undefined || kindOf(named) === "item_reference") {
        untranslated.note(at, "item_reference to an item this gateway did not store (its provider may have it)", true)
        input.push(sent)
        continue
      }
      item = named
      kind = kindOf(named)
    }
    input.push(kept(item, kind))
    const decoded = decodeItem(item, kind, at, turns, untranslated)
    if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  }
  return Result.succeed({ system: turns.system, messages: turns.messages, input })
}
