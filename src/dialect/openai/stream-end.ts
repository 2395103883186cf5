/**
 * How a Chat Completions event stream relayed byte for byte must end: with `data: [DONE]`, or with
 * an error chunk (the provider already told the client). Some compatible servers omit `[DONE]`
 * after a chunk with a `finish_reason`: the answer is whole, and `[DONE]` is added for the client.
 * Anything else was cut short.
 */
import { parsesAsJson, tailEvents } from "../sse-tail.ts"

export type StreamEnd = "whole" | "done_missing" | "cut"

export const streamEnd = (tail: string, fromStart: boolean): StreamEnd => {
  const events = tailEvents(tail, fromStart)
  const last = events.at(-1)
  if (last === undefined) return "cut"
  if (last.data.trim() === "[DONE]") return "whole"
  if (/^\s*\{\s*"error"\s*:/.test(last.data) && parsesAsJson(last.data)) return "whole"
  const finished = events.some((e) => /"finish_reason"\s*:\s*"/.test(e.data) && parsesAsJson(e.data))
  return finished && parsesAsJson(last.data) ? "done_missing" : "cut"
}
