/**
 * A Messages answer relayed from an Anthropic provider. Only `message_start` names the model: it is
 * rewritten to the id the client asked for (Claude Code compares the two, and drops its signed
 * thinking from the next turn when they differ), every other byte kept.
 *
 * How the stream must end: with `message_stop`, or with an `error` event (the provider already told
 * the client). Anything else was cut short.
 */
import { endedEarly } from "../../errors.ts"
import { replaceStringField } from "../json-field.ts"
import { asLatin1, type EventRewrite, lastTailEvent, parsesAsJson, type RelayDialect } from "../relay.ts"
import { errorFrame } from "./errors.ts"

export const echoModel = (model: string): EventRewrite => {
  const bytes = asLatin1(model)
  return { event: (text) => replaceStringField(text, ["message", "model"], bytes), firstOnly: true }
}

export type StreamEnd = "whole" | "cut"

export const streamEnd = (tail: string, fromStart: boolean): StreamEnd => {
  const last = lastTailEvent(tail, fromStart)
  if (last === undefined || !parsesAsJson(last.data)) return "cut"
  const type = (JSON.parse(last.data) as { type?: unknown } | null)?.type
  return type === "message_stop" || type === "error" || last.event === "error" ? "whole" : "cut"
}

export const relayed: RelayDialect = {
  echoModel,
  errorFrame,
  // message_start and ping come first; the output begins with the first block's delta
  holdsContent: (text) => text.includes("content_block_delta"),
  // message_delta (the usage) and message_stop: a few hundred bytes
  tailBytes: 2048,
  onEnd: (provider) => (tail, fromStart) =>
    streamEnd(tail, fromStart) === "whole"
      ? undefined
      : errorFrame(endedEarly(provider))
}
