/**
 * A Responses stream relayed from an OpenAI provider. The events that carry the whole response
 * (`response.created`, `response.in_progress`, `response.queued` and the three ends) name the model:
 * it is rewritten to the id the client asked for, every other byte kept. The others (deltas, items)
 * are passed over unread, by their `event:` line.
 *
 * How the stream must end: with `response.completed`, `response.incomplete`, `response.failed` or an
 * `error` event (the provider already told the client). Anything else was cut short, and gets a
 * `response.failed` numbered after the last event the client got.
 */
import { endedEarly } from "../../errors.ts"
import { replaceStringField } from "../json-field.ts"
import { asLatin1, type EventRewrite, lastTailEvent, parsesAsJson, type RelayDialect } from "../relay.ts"
import { failedFrame } from "./errors.ts"

const withResponse: ReadonlySet<string> = new Set([
  "response.created",
  "response.in_progress",
  "response.queued",
  "response.completed",
  "response.incomplete",
  "response.failed"
])

const terminal: ReadonlySet<string> = new Set(["response.completed", "response.incomplete", "response.failed", "error"])

/** The value of the event's `event:` line, or undefined when it has none. */
const eventName = (text: string): string | undefined => {
  const first = text.startsWith("event:")
  const line = first ? 0 : text.indexOf("\nevent:") + 1
  if (!first && line === 0) return undefined
  const end = text.indexOf("\n", line)
  return text.slice(line + 6, end < 0 ? text.length : end).trim()
}

export const echoModel = (model: string): EventRewrite => {
  const bytes = asLatin1(model)
  return {
    event: (text) => {
      const name = eventName(text)
      // without an `event:` line, only the item events, by far the most, are told apart unread
      if (name === undefined ? text.includes("\"type\":\"response.output_") : !withResponse.has(name)) return undefined
      return replaceStringField(text, ["response", "model"], bytes)
    },
    firstOnly: false
  }
}

export type StreamEnd = "whole" | "cut"

export const streamEnd = (tail: string, fromStart: boolean): StreamEnd => {
  const last = lastTailEvent(tail, fromStart)
  if (last === undefined) return !fromStart && endsWithUsage(tail) ? "whole" : "cut"
  if (!parsesAsJson(last.data)) return "cut"
  const type = (JSON.parse(last.data) as { type?: unknown } | null)?.type
  return (typeof type === "string" && terminal.has(type)) || terminal.has(last.event) ? "whole" : "cut"
}

/** The highest `sequence_number` in the tail, or undefined when none is there. */
export const lastSequence = (tail: string): number | undefined => {
  let last: number | undefined
  // a quote unescaped is JSON's own: this is a key, never a string's content
  for (const match of tail.matchAll(/"sequence_number"\s*:\s*(\d+)/g)) last = Math.max(last ?? 0, Number(match[1]))
  return last
}

/**
 * Whether a tail that lies wholly inside its last event ends a whole Response: the end events echo
 * the request's instructions and tools, often more than the tail holds. Read backwards from the end,
 * a Response with its usage has a `usage` object two levels down (the event's `response`); items and
 * deltas have none, and an unfinished Response's usage is null.
 */
const endsWithUsage = (tail: string): boolean => {
  const text = tail.trimEnd()
  if (!endsOnBoundary(tail) || !text.endsWith("}")) return false
  let depth = 0
  /** a `:` was passed, at `value`'s left: the next string is its key */
  let key = false
  let value = 0
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i)
    if (c === 34) {
      const open = openingQuote(text, i)
      if (open < 0) return false
      if (key && depth === 2 && text.slice(open, i + 1) === "\"usage\"") return text.charCodeAt(value) === 123
      key = false
      i = open
    } else if (c === 125 || c === 93) depth++
    else if ((c === 123 || c === 91) && --depth <= 0) return false
    else if (c === 58) {
      key = true
      value = i + 1
      while (value < text.length && /\s/.test(text[value]!)) value++
    }
  }
  return false
}

/** Where the string that ends at `close` begins: the first quote before it that no backslash escapes. */
const openingQuote = (text: string, close: number): number => {
  for (let j = close === 0 ? -1 : text.lastIndexOf("\"", close - 1); j >= 0; j = j === 0 ? -1 : text.lastIndexOf("\"", j - 1)) {
    let k = j - 1
    while (k >= 0 && text.charCodeAt(k) === 92) k--
    if ((j - 1 - k) % 2 === 0) return j
  }
  return -1
}

const endsOnBoundary = (tail: string): boolean => tail.slice(-4).replace(/\r\n?/g, "\n").endsWith("\n\n")

/** A stream cut inside an event: a blank line ends that event first, so that what follows is an event of its own. */
const boundary = (tail: string): string => (tail === "" || endsOnBoundary(tail) ? "" : "\n\n")

export const relayed: RelayDialect = {
  echoModel,
  // response.created and in_progress come first; the output begins with a delta (text, arguments, reasoning)
  holdsContent: (text) => /\.delta\b/.test(text),
  // response.completed echoes the whole Response: its usage sits near its end, but after the output and tools
  tailBytes: 8192,
  errorFrame: (error) => failedFrame(error),
  onEnd: (provider) => (tail, fromStart) => {
    if (streamEnd(tail, fromStart) === "whole") return undefined
    const last = lastSequence(tail)
    return boundary(tail) + failedFrame(endedEarly(provider), last === undefined ? 0 : last + 1)
  }
}
