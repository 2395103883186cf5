/**
 * What both dialects need to relay a provider's answer untouched but for the model id: the events of
 * a stream's tail (how did it end?), an event rewrite, and a whole body with its `model` replaced.
 */
import type { GatewayError } from "../errors.ts"
import { replaceStringField } from "./json-field.ts"

/**
 * A rewrite of a relayed stream's events (see http/sse-rewrite.ts). An event is given as its bytes
 * read as latin1, one character per byte, so that every byte it does not change comes back exactly
 * as it was (JSON's structure is ASCII); what it puts in is written the same way (`asLatin1`).
 */
export interface EventRewrite {
  /** the event's new text (blank line included), or undefined to keep it as it is */
  readonly event: (bytes: string) => string | undefined
  /** only the first event may need it */
  readonly firstOnly: boolean
}

/** `text`'s UTF-8 bytes as latin1 text, one character per byte: what an EventRewrite puts in. */
export const asLatin1 = (text: string): string => Buffer.from(text, "utf8").toString("latin1")

/** How a dialect's provider answers are relayed to its clients. */
export interface RelayDialect {
  /** the model id the client asked for, in place of the provider's */
  readonly echoModel: (model: string) => EventRewrite
  /** what to append to a stream that ended, given its tail: nothing when whole */
  readonly onEnd: (provider: string) => (tail: string, fromStart: boolean) => string | undefined
  /** a failure midway, as the stream's last event */
  readonly errorFrame: (error: GatewayError) => string
  /** whether a chunk of the stream (latin1 text) holds the model's output, not only opening events: the time to first token */
  readonly holdsContent: (text: string) => boolean
  /** how many of a stream's last bytes to keep (held by reference while it lasts): more than its closing events and usage take */
  readonly tailBytes: number
}

/** A whole JSON answer with its top-level `model` replaced, every other byte kept. */
export const bodyWithModel = (bytes: Uint8Array, model: string): Uint8Array => {
  const replaced = replaceStringField(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"), ["model"], model)
  return replaced === undefined ? bytes : Buffer.from(replaced, "utf8")
}

export interface TailEvent {
  /** the `event:` field, "" when absent */
  readonly event: string
  /** the `data:` lines joined by "\n" */
  readonly data: string
}

/**
 * The events in `tail`, oldest first. Unless the tail holds the stream from its start, the first one
 * may be partial and is dropped. A last event without its closing blank line is kept (clients
 * dispatch it at the end of the stream). Comments (`: keep-alive`) are not events.
 */
export const tailEvents = (tail: string, fromStart: boolean): Array<TailEvent> => blocksOf(tail, fromStart).flatMap((block) => eventIn(block) ?? [])

/** The last event in `tail` (see `tailEvents`), reading only the blocks after it. */
export const lastTailEvent = (tail: string, fromStart: boolean): TailEvent | undefined => {
  const blocks = blocksOf(tail, fromStart)
  for (let i = blocks.length - 1; i >= 0; i--) {
    const event = eventIn(blocks[i]!)
    if (event !== undefined) return event
  }
  return undefined
}

const blocksOf = (tail: string, fromStart: boolean): Array<string> => {
  const blocks = (tail.includes("\r") ? tail.replace(/\r\n?/g, "\n") : tail).split("\n\n")
  if (!fromStart) blocks.shift()
  return blocks
}

const eventIn = (block: string): TailEvent | undefined => {
  let event = ""
  const data: Array<string> = []
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim()
    else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5))
  }
  return event === "" && data.length === 0 ? undefined : { event, data: data.join("\n") }
}

export const parsesAsJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
