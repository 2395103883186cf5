/**
 * The `mock` provider: answers locally and deterministically, with no network and no key, so the
 * gateway is useful (and testable) anywhere.
 *
 * - the last user turn is not tool results, and a line of it asks for an offered tool by name
 *   (`call_tool lookup Oslo`, `call_tool code_exec {"language":"python","code":"print(6*7)"}`), or
 *   `tool_choice` names one or requires one (then the first) → calls it, with the JSON object that
 *   follows its name as arguments, else with arguments built from its JSON Schema (strings get the
 *   text after the name); never with `tool_choice: none`. Only that explicit line calls a tool: a
 *   tool merely mentioned (Claude Code's reminders name its Agent tool) does not;
 * - the last user turn holds tool results → `Tool <name> returned: <result>`;
 * - otherwise → `Echo: <last user text>`.
 * `max_tokens` and `stop` are honoured; token counts are whitespace-separated words (an
 * approximation, but a stable one). Streams come in small pieces, tool arguments in fragments.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { completionEvents } from "../ir/collect.ts"
import { type Conversation, type Message, type Part, textOf, type ToolDefinition } from "../ir/conversation.ts"
import type { Completion, FinishReason, StreamEvent } from "../ir/response.ts"
import { parseJsonObject } from "../json.ts"
import { awaitAdmission } from "../request-note.ts"
import type { BackendFactory } from "./backend.ts"

const isSpace = (code: number) => code === 32 || (code >= 9 && code <= 13) || code === 160 || code === 0x2028 || code === 0x2029

/** Whitespace-separated words, counted without building them (a 5 MB prompt would be millions of strings). */
const words = (text: string): number => {
  let count = 0
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i))
    if (!space && !inWord) count++
    inWord = !space
  }
  return count
}

/** Where the text after its first `n` words starts (their trailing whitespace included). */
const afterWords = (text: string, n: number): number => {
  let count = 0
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i))
    if (!space && !inWord && ++count > n) return i
    inWord = !space
  }
  return text.length
}

const conversationWords = (c: Conversation): number =>
  words(textOf(c.system)) +
  c.messages.reduce((n, m) => n + m.content.reduce((k, p) => {
    if (p.type === "text" || p.type === "thinking") return k + words(p.text)
    if (p.type === "tool_call") return k + words(p.arguments)
    if (p.type === "tool_result") return k + words(textOf(p.content))
    return k
  }, 0), 0)

/**
 * Arguments for a tool: the JSON object in `text`, if it is one; else from the schema: required
 * strings get `text` (an enum its first value that `text` mentions), numbers 1, booleans true.
 */
const argumentsFor = (schema: Record<string, unknown>, text: string): Record<string, unknown> => {
  const given = parseJsonObject(text)
  if (given !== undefined) return given
  // not a JSON object: built from the schema
  const properties = (schema["properties"] ?? {}) as Record<string, { type?: unknown; enum?: unknown }>
  const required = Array.isArray(schema["required"]) ? (schema["required"] as Array<string>) : []
  const args: Record<string, unknown> = {}
  for (const name of required) {
    const { enum: values, type } = properties[name] ?? {}
    if (Array.isArray(values) && values.length > 0) {
      args[name] = values.find((v) => typeof v === "string" && text.includes(v)) ?? values[0]
      continue
    }
    args[name] = type === "number" || type === "integer" ? 1 : type === "boolean" ? true : type === "array" ? [] : type === "object" ? {} : text
  }
  return args
}

/** `call_tool <name> <arguments>` at the start of a line. */
const callLine = /^\s*call_tool\s+([^\s{:]+)\s*:?\s*(.*)$/m

/** The tool this turn calls, and the text its arguments come from. */
const chooseTool = (c: Conversation, userText: string): { tool: ToolDefinition; text: string } | undefined => {
  const choice = c.toolChoice
  if (choice?.type === "none") return undefined
  const line = callLine.exec(userText)
  const named = line === null ? undefined : c.tools.find((t) => t.name === line[1])
  const tool = choice?.type === "tool"
    ? c.tools.find((t) => t.name === choice.name)
    : named ?? (choice?.type === "required" ? c.tools[0] : undefined)
  if (tool === undefined) return undefined
  const after = named === tool ? line![2]!.trim() : ""
  return { tool, text: after === "" ? userText : after }
}

const lastUser = (c: Conversation): Message | undefined => c.messages.findLast((m) => m.role === "user")

let counter = 0

interface Answer {
  readonly content: ReadonlyArray<Part>
  readonly finishReason: FinishReason
  readonly stopSequence?: string
}

/** Cuts text at the first stop sequence and at `maxTokens` words. */
const limit = (text: string, c: Conversation): Answer => {
  let out = text
  let reason: FinishReason = "end_turn"
  let stopSequence: string | undefined
  for (const stop of c.stop ?? []) {
    const at = out.indexOf(stop)
    if (stop !== "" && at >= 0) {
      out = out.slice(0, at)
      reason = "stop_sequence"
      stopSequence = stop
    }
  }
  if (c.maxTokens !== undefined && words(out) > c.maxTokens) {
    out = out.slice(0, afterWords(out, c.maxTokens)).trimEnd()
    reason = "max_tokens"
    stopSequence = undefined
  }
  return { content: [{ type: "text", text: out }], finishReason: reason, ...(stopSequence === undefined ? {} : { stopSequence }) }
}

export const answer = (c: Conversation): Answer => {
  const turn = lastUser(c)
  const results = turn?.content.flatMap((p) => (p.type === "tool_result" ? [p] : [])) ?? []
  if (results.length > 0) {
    const names = new Map(c.messages.flatMap((m) => m.content.flatMap((p) => (p.type === "tool_call" ? [[p.id, p.name] as const] : []))))
    return limit(results.map((r) => `Tool ${names.get(r.callId) ?? r.callId} returned: ${textOf(r.content)}`).join("\n"), c)
  }
  const userText = turn === undefined ? "" : textOf(turn.content)
  const chosen = chooseTool(c, userText)
  if (chosen !== undefined) {
    const args = argumentsFor(chosen.tool.parameters, chosen.text)
    return {
      content: [{ type: "tool_call", id: `call_mock_${++counter}`, name: chosen.tool.name, arguments: JSON.stringify(args) }],
      finishReason: "tool_use"
    }
  }
  return limit(`Echo: ${userText}`, c)
}

const complete = (c: Conversation): Completion => {
  const a = answer(c)
  const output = a.content.reduce((n, p) => n + (p.type === "text" ? words(p.text) : p.type === "tool_call" ? words(p.arguments) : 0), 0)
  return {
    id: `mock-${++counter}`,
    model: c.model || "mock-1",
    content: a.content,
    finishReason: a.finishReason,
    ...(a.stopSequence === undefined ? {} : { stopSequence: a.stopSequence }),
    usage: { inputTokens: conversationWords(c), outputTokens: output }
  }
}

/** Splits text into pieces of at most `size` characters. */
const pieces = (text: string, size: number): Array<string> => text.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) ?? []

/** The answer as a provider streams it: in small pieces, but never more than a few hundred of them (an echo may be megabytes). */
const events = (completion: Completion): Array<StreamEvent> =>
  completionEvents(completion).flatMap((event): Array<StreamEvent> => {
    if (event.type === "text") return pieces(event.text, Math.max(8, Math.ceil(event.text.length / 256))).map((text) => ({ type: "text", text }))
    if (event.type === "tool_call_delta") return pieces(event.arguments, 6).map((fragment) => ({ ...event, arguments: fragment }))
    return [event]
  })

// like a Provider's call, an answer starts once the request's limits admitted it (the tool loop runs on it)
export const mockBackend: BackendFactory = () => ({
  complete: (c) => Effect.andThen(awaitAdmission, Effect.sync(() => complete(c))),
  stream: (c) => Stream.unwrap(Effect.as(awaitAdmission, Stream.suspend(() => Stream.fromIterable(events(complete(c))))))
})
