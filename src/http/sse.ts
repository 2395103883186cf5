/** Server-sent event responses. */
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type { ChunkRewriter } from "./sse-rewrite.ts"

const sseOptions = {
  contentType: "text/event-stream",
  headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
}

/** The frames that are ready together are encoded, and written, as one piece. */
export const sse = (frames: Stream.Stream<string>): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(frames.pipe(Stream.mapArray((ready) => [Buffer.from(ready.join(""), "utf8")] as const)), sseOptions)

const encoder = new TextEncoder()

/** The last chunks of a relayed stream, by reference. */
interface Tail {
  readonly chunks: Array<Uint8Array>
  kept: number
  /** whether chunks from the start were let go */
  dropped: boolean
}

export interface RelayEnd<E> {
  /** the last event for a stream that failed midway, in the client's dialect */
  readonly onError: (error: E) => string
  /**
   * What to append to a stream that ended, given its last bytes (and whether they are the whole
   * stream): nothing when it ended whole, else an error event (or a missing terminator).
   */
  readonly onEnd: (tail: string, fromStart: boolean) => string | undefined
  /** how many of the stream's last bytes `onEnd` needs (more than its last events take) */
  readonly tailBytes: number
}

/** Whether what was relayed so far ends at the end of an event (a blank line), or nothing was. */
const endsEvent = (tail: Tail): boolean => {
  if (tail.chunks.length === 0) return true
  const last = Buffer.concat(tail.chunks.slice(-4)).subarray(-4).toString("latin1")
  return last.endsWith("\n\n") || last.endsWith("\r\n\r\n") || last.endsWith("\r\r")
}

/** What a relayed stream tells its request's note, read from its bytes. */
export interface RelayWatch {
  /** whether a chunk (latin1 text) holds the model's output, not only the stream's opening events */
  readonly holdsContent: (text: string) => boolean
  /** the first chunk that does */
  readonly firstContent: () => void
  /** `read` once the request ends, however (the client may have gone) */
  readonly atEnd: (read: () => void) => void
  /** the stream's first chunk ("" when the last bytes hold it) and its last bytes */
  readonly ended: (head: string, tail: string) => void
}

interface Relayed extends Tail {
  head: Uint8Array | undefined
  seenContent: boolean
}

const textOf = (bytes: Uint8Array, encoding: "utf8" | "latin1") => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding)

/**
 * A provider's event stream relayed byte for byte, but for what `rewrite` changes of its events (the
 * model id), in one stage. Its last few KiB are kept (references to the chunks, no copy) so that how
 * it ended can be checked when it ends: a stream cut short must not reach the client as a clean
 * finish, and one that fails midway ends with the failure's event. With a `watch`, its chunks are
 * looked at until the first that holds output, and its ends are read once the request ends.
 */
export const relay = <E>(bytes: Stream.Stream<Uint8Array, E>, end: RelayEnd<E>, options: { readonly rewrite?: ChunkRewriter; readonly watch?: RelayWatch | undefined } = {}): HttpServerResponse.HttpServerResponse => {
  const { rewrite, watch } = options
  // the state of the stream's run, read once the request ends
  let relayed: Relayed | undefined
  watch?.atEnd(() => {
    if (relayed === undefined) return
    // a tail that holds the stream from its start holds its first chunk too: read once
    const head = relayed.head === undefined || !relayed.dropped ? "" : textOf(relayed.head.subarray(0, end.tailBytes), "utf8")
    watch.ended(head, Buffer.concat(relayed.chunks).toString("utf8"))
  })
  const keep = (tail: Relayed, chunk: Uint8Array, out: Array<Uint8Array>) => {
    tail.head ??= chunk
    if (!tail.seenContent && watch!.holdsContent(textOf(chunk, "latin1"))) {
      tail.seenContent = true
      watch!.firstContent()
    }
    tail.chunks.push(chunk)
    tail.kept += chunk.length
    while (tail.chunks.length > 1 && tail.kept - tail.chunks[0]!.length >= end.tailBytes) {
      tail.kept -= tail.chunks.shift()!.length
      tail.dropped = true
    }
    out.push(chunk)
  }
  /** what is left of the stream once it is over: held-back bytes, and an error event or terminator if it is not whole */
  const closing = (tail: Relayed, out: Array<Uint8Array>) => {
    const rest = rewrite?.end()
    if (rest !== undefined) keep(tail, rest, out)
    const extra = end.onEnd(Buffer.concat(tail.chunks).toString("utf8"), !tail.dropped)
    if (extra !== undefined) out.push(encoder.encode(extra))
  }
  const frames = Stream.transformPull(bytes, (pull) =>
    Effect.sync(() => {
      const tail: Relayed = (relayed = { chunks: [], kept: 0, dropped: false, head: undefined, seenContent: watch === undefined })
      let over = false
      const next: Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>> = Effect.suspend(() => {
        if (over) return Cause.done()
        return Pull.matchEffect(pull, {
          onSuccess: (chunks) => {
            const out: Array<Uint8Array> = []
            for (const chunk of chunks) {
              const sent = rewrite === undefined ? chunk : rewrite.chunk(chunk)
              if (sent !== undefined) keep(tail, sent, out)
            }
            return Arr.isArrayNonEmpty(out) ? Effect.succeed(out) : next
          },
          onDone: () => {
            over = true
            const out: Array<Uint8Array> = []
            closing(tail, out)
            return Arr.isArrayNonEmpty(out) ? Effect.succeed(out) : Cause.done()
          },
          onFailure: (cause) => {
            const failure = Cause.findErrorOption(cause)
            // a defect or an interruption: nothing typed to tell the client
            if (failure._tag === "None") return Effect.failCause(cause as Cause.Cause<never>)
            // the failure as the stream's last event, after the last whole one: held-back bytes are
            // not one, and an event the provider's bytes left open is closed first
            over = true
            rewrite?.end()
            const frame = end.onError(failure.value)
            return Effect.succeed([encoder.encode(endsEvent(tail) ? frame : `\n\n${frame}`)] as const)
          }
        })
      })
      return next
    }))
  return HttpServerResponse.stream(frames, sseOptions)
}

/**
 * Waits for a stream's first element before the response is committed, so a failure that happens
 * before any output (upstream 429 after retries, bad key…) still gets a real HTTP status instead of
 * a 200 followed by an error event. The rest of the stream lives in the request's scope.
 */
export const awaitFirst = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.map(Stream.peel(stream, Sink.head<A>()), ([first, rest]) =>
    first._tag === "Some" ? Stream.concat(Stream.succeed(first.value), rest) : rest)
