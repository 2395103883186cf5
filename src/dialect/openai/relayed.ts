/**
 * A Chat Completions answer relayed from an OpenAI-shaped provider. Every chunk names the model: it
 * is rewritten to the id the client asked for (`provider/model`), the rest of each chunk kept.
 *
 * How the stream must end: with `data: [DONE]`, or with an error chunk (the provider already told the
 * client). Some compatible servers omit `[DONE]` after a chunk with a `finish_reason`: the answer is
 * whole, and `[DONE]` is added for the client. Anything else was cut short.
 */
import { endedEarly } from "../../errors.ts"
import { stringFieldAt } from "../json-field.ts"
import { asLatin1, type EventRewrite, lastTailEvent, parsesAsJson, type RelayDialect, tailEvents } from "../relay.ts"
import { errorFrame } from "./errors.ts"

export const echoModel = (model: string): EventRewrite => {
  const replacement = JSON.stringify(asLatin1(model))
  // A stream's chunks begin alike up to their model (`data: {"id":…,"object":…,"created":…,"model":…`):
  // a chunk that begins with the text through the last one's model gets the same replacement, unread.
  let seen: string | undefined
  let replaced = ""
  return {
    event: (text) => {
      if (seen !== undefined && text.startsWith(seen)) return replaced + text.slice(seen.length)
      if (!text.includes("data:") || text.includes("[DONE]")) return undefined
      const at = stringFieldAt(text, ["model"])
      if (at === undefined) return undefined
      seen = text.slice(0, at[1])
      replaced = text.slice(0, at[0]) + replacement
      return replaced + text.slice(at[1])
    },
    firstOnly: false
  }
}

export type StreamEnd = "whole" | "done_missing" | "cut"

export const streamEnd = (tail: string, fromStart: boolean): StreamEnd => {
  const last = lastTailEvent(tail, fromStart)
  if (last === undefined) return "cut"
  if (last.data.trim() === "[DONE]") return "whole"
  if (/^\s*\{\s*"error"\s*:/.test(last.data) && parsesAsJson(last.data)) return "whole"
  const finished = tailEvents(tail, fromStart).some((e) => /"finish_reason"\s*:\s*"/.test(e.data) && parsesAsJson(e.data))
  return finished && parsesAsJson(last.data) ? "done_missing" : "cut"
}

/** A delta with text, reasoning or a tool call: the first chunk (`"content":""`, the role) holds none. */
const output = /"(?:content|reasoning_content|reasoning)"\s*:\s*"[^"]|"tool_calls"\s*:/

export const relayed: RelayDialect = {
  echoModel,
  holdsContent: (text) => output.test(text),
  // the chunk with the finish reason, the usage chunk and [DONE]: a few hundred bytes
  tailBytes: 2048,
  errorFrame,
  onEnd: (provider) => (tail, fromStart) => {
    const end = streamEnd(tail, fromStart)
    if (end === "whole") return undefined
    if (end === "done_missing") return "data: [DONE]\n\n"
    return errorFrame(endedEarly(provider))
  }
}
