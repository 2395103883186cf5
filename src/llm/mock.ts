/**
 * The `mock` provider: answers locally and deterministically, with no network and no key, so the
 * gateway is useful (and testable) anywhere.
 *
 * - tools given, and the last user turn is not tool results → calls the first tool (or the one
 *   `tool_choice` names; none with `tool_choice: none`) with arguments built from its JSON Schema;
 * - the last user turn holds tool results → `Tool <name> returned: <result>`;
 * - otherwise → `Echo: <last user text>`.
 * `max_tokens` and `stop` are honoured; token counts are whitespace-separated words (an
 * approximation, but a stable one). Streams come in small pieces, tool arguments in fragments.
 */
import { Effect, Stream } from "effect"
import { type Conversation, type Message, type Part, textOf } from "../ir/conversation.ts"
import type { Completion, FinishReason, StreamEvent } from "../ir/response.ts"
import type { BackendFactory } from "./backend.ts"

const words = (text: string): number => text.split(/\s+/).filter((w) => w !== "").length

const conversationWords = (c: Conversation): number =>
  words(textOf(c.system)) +
  c.messages.reduce((n, m) => n + m.content.reduce((k, p) => {
    if (p.type === "text" || p.type === "thinking") return k + words(p.text)
    if (p.type === "tool_call") return k + words(p.arguments)
    if (p.type === "tool_result") return k + words(textOf(p.content))
    return k
  }, 0), 0)

/** Arguments for a tool from its schema: required strings get the user's text, numbers 1, booleans true. */
const argumentsFor = (schema: Record<string, unknown>, userText: string): Record<string, unknown> => {
  const properties = (schema["properties"] ?? {}) as Record<string, { type?: unknown }>
  const required = Array.isArray(schema["required"]) ? (schema["required"] as Array<string>) : []
  const args: Record<string, unknown> = {}
  for (const name of required) {
    const type = properties[name]?.type
    args[name] = type === "number" || type === "integer" ? 1 : type === "boolean" ? true : type === "array" ? [] : type === "object" ? {} : userText
  }
  return args
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
    out = out.split(/(?<=\s)/).reduce((acc, piece) => (words(acc + piece) <= c.maxTokens! ? acc + piece : acc), "").trimEnd()
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
  const tool = c.toolChoice?.type === "none"
    ? undefined
    : c.toolChoice?.type === "tool"
    ? c.tools.find((t) => t.name === (c.toolChoice as { name: string }).name)
    : c.tools[0]
  if (tool !== undefined) {
    return {
      content: [{ type: "tool_call", id: `call_mock_${++counter}`, name: tool.name, arguments: JSON.stringify(argumentsFor(tool.parameters, userText)) }],
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

const events = (completion: Completion): Array<StreamEvent> => {
  const out: Array<StreamEvent> = [{ type: "start", id: completion.id, model: completion.model, usage: { inputTokens: completion.usage.inputTokens, outputTokens: 0 } }]
  let index = 0
  for (const part of completion.content) {
    if (part.type === "text") for (const text of pieces(part.text, 8)) out.push({ type: "text", text })
    if (part.type === "tool_call") {
      const i = index++
      out.push({ type: "tool_call_start", index: i, id: part.id, name: part.name })
      for (const fragment of pieces(part.arguments, 6)) out.push({ type: "tool_call_delta", index: i, arguments: fragment })
    }
  }
  out.push({
    type: "finish",
    reason: completion.finishReason,
    ...(completion.stopSequence === undefined ? {} : { stopSequence: completion.stopSequence }),
    usage: completion.usage
  })
  return out
}

export const mockBackend: BackendFactory = () => ({
  complete: (c) => Effect.sync(() => complete(c)),
  stream: (c) => Stream.suspend(() => Stream.fromIterable(events(complete(c))))
})
