/**
 * What a request's note learns from its answer: the model the provider says answered, when the
 * first output came (time to first token), and the usage. Read from IR events a chunk at a time,
 * and from relayed answers' bytes (the first and last of a stream, a whole body once), so nothing is
 * decoded again and nothing is done per byte.
 */
import * as Stream from "effect/Stream"
import type { RelayDialect } from "../dialect/relay.ts"
import { modelIn, usageIn } from "../dialect/usage-scan.ts"
import type { AnswerEvent, Completion, Usage } from "../ir/response.ts"
import type { CurrentRequestShape } from "../request-note.ts"
import type { RelayWatch } from "./relay-body.ts"

const noteUsage = (current: CurrentRequestShape, usage: Usage) => {
  current.note.input_tokens = Math.max(current.note.input_tokens ?? 0, usage.inputTokens)
  current.note.output_tokens = Math.max(current.note.output_tokens ?? 0, usage.outputTokens)
  if (usage.cacheReadTokens) current.note.cached_input_tokens = usage.cacheReadTokens
  if (usage.reasoningTokens) current.note.reasoning_tokens = usage.reasoningTokens
}

const firstOutput = (current: CurrentRequestShape) => {
  if (current.note.ttft_ms === undefined) current.note.ttft_ms = Math.round(performance.now() - current.started)
}

/** Events pass unchanged; the note learns as they go (an abandoned stream keeps what arrived). */
export const observeEvents = <E>(current: CurrentRequestShape | undefined, events: Stream.Stream<AnswerEvent, E>): Stream.Stream<AnswerEvent, E> =>
  current === undefined ? events : Stream.mapArray(events, (chunk) => {
    for (const event of chunk) {
      switch (event.type) {
        case "start":
          if (event.model !== "") current.note.response_model = event.model
          if (event.usage !== undefined) noteUsage(current, event.usage)
          break
        case "text":
        case "thinking":
        case "tool_call_start":
          firstOutput(current)
          break
        case "finish":
          noteUsage(current, event.usage)
      }
    }
    return chunk
  })

export const observeCompletion = (current: CurrentRequestShape | undefined, completion: Completion): void => {
  if (current === undefined) return
  if (completion.model !== "") current.note.response_model = completion.model
  noteUsage(current, completion.usage)
}

/** A relayed stream: its first output by the dialect's rule, its usage from its ends once the request ends. */
export const relayWatch = (current: CurrentRequestShape | undefined, dialect: RelayDialect): RelayWatch | undefined =>
  current === undefined ? undefined : {
    holdsContent: dialect.holdsContent,
    firstContent: () => firstOutput(current),
    atEnd: (read) => void current.atEnd.push(read),
    ended: (head, tail) => {
      const usage = usageIn(`${head}\n${tail}`)
      if (usage !== undefined) noteUsage(current, usage)
    }
  }

/** A relayed stream's first chunk as the provider sent it (latin1 text): the model it names, before the client's id replaces it. */
export const modelSeen = (current: CurrentRequestShape | undefined) => (first: string): void => {
  const model = current === undefined ? undefined : modelIn(first)
  if (model !== undefined) current!.note.response_model = Buffer.from(model, "latin1").toString("utf8")
}

/** The bytes of a whole answer read at each end: its model is near the start, its usage near the end. */
const wholeEndBytes = 16 * 1024

/** A relayed whole answer: its ends only, without decoding or copying the rest (it may be megabytes). */
export const observeWhole = (current: CurrentRequestShape | undefined, bytes: Uint8Array): void => {
  if (current === undefined) return
  const text = (from: number, to: number) => Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString("utf8")
  const head = text(0, Math.min(bytes.length, wholeEndBytes))
  const tail = bytes.length <= wholeEndBytes ? head : text(bytes.length - wholeEndBytes, bytes.length)
  const model = modelIn(head)
  if (model !== undefined) current.note.response_model = model
  const usage = usageIn(tail)
  if (usage !== undefined) noteUsage(current, usage)
}
