/**
 * Events of a relayed stream rewritten one at a time, every other byte kept: the stream is cut at
 * its blank lines (LF or CRLF), each complete event goes out as soon as it is whole, and only what
 * is not yet a whole event waits (a client cannot use half an event anyway). Once `firstOnly` has
 * seen its event, or when no blank line comes within a megabyte, bytes pass untouched.
 *
 * A chunk's bytes are read once as latin1 text (one character per byte, so string offsets are byte
 * offsets) and what it holds goes out as one buffer, however many events it holds.
 */
import * as Stream from "effect/Stream"
import type { EventRewrite } from "../dialect/relay.ts"

const giveUpBytes = 1024 * 1024

/**
 * The ends of the events in `text`, in order (just after each blank line), -1 after the last. Each
 * kind of blank line is searched for again only once passed, so a chunk is scanned about once.
 */
const eventEnds = (text: string) => {
  let lf = text.indexOf("\n\n")
  let crlf = text.indexOf("\r\n\r\n")
  return (from: number): number => {
    if (lf >= 0 && lf < from) lf = text.indexOf("\n\n", from)
    if (crlf >= 0 && crlf < from) crlf = text.indexOf("\r\n\r\n", from)
    if (lf < 0) return crlf < 0 ? -1 : crlf + 4
    return crlf < 0 || lf < crlf ? lf + 2 : crlf + 4
  }
}

interface State {
  /** what is not yet a whole event, as latin1 text */
  pending: string
  done: boolean
  first: boolean
}

const bytesOf = (chunk: Uint8Array): Buffer => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)

/** `firstText`, if given, gets the first chunk's text as it came (latin1), before any rewrite. */
export const rewriteEvents = <E, R>(stream: Stream.Stream<Uint8Array, E, R>, rewrite: EventRewrite, firstText?: (text: string) => void): Stream.Stream<Uint8Array, E, R> =>
  stream.pipe(Stream.mapAccum((): State => ({ pending: "", done: false, first: true }), (state, chunk) => {
    if (state.done) return [state, [chunk]]
    const text = state.pending + bytesOf(chunk).toString("latin1")
    if (state.first) {
      state.first = false
      firstText?.(text)
    }
    const eventEnd = eventEnds(text)
    let out = ""
    let at = 0
    for (let end = eventEnd(0); end >= 0 && !state.done; end = eventEnd(at)) {
      const event = text.slice(at, end)
      out += rewrite.event(event) ?? event
      at = end
      state.done = rewrite.firstOnly
    }
    if (state.done || text.length - at > giveUpBytes) {
      state.done = true
      out += text.slice(at)
      state.pending = ""
    } else state.pending = text.slice(at)
    return [state, out === "" ? [] : [Buffer.from(out, "latin1")]]
  }, { onHalt: (state) => (state.pending === "" ? [] : [Buffer.from(state.pending, "latin1")]) }))
