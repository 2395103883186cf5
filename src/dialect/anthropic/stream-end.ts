/**
 * How a Messages event stream relayed byte for byte must end: with `message_stop`, or with an
 * `error` event (the provider already told the client). Anything else was cut short.
 */
import { parsesAsJson, tailEvents } from "../sse-tail.ts"

export type StreamEnd = "whole" | "cut"

export const streamEnd = (tail: string, fromStart: boolean): StreamEnd => {
  const last = tailEvents(tail, fromStart).at(-1)
  if (last === undefined || !parsesAsJson(last.data)) return "cut"
  const type = (JSON.parse(last.data) as { type?: unknown } | null)?.type
  return type === "message_stop" || type === "error" || last.event === "error" ? "whole" : "cut"
}
