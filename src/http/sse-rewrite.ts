/**
 * Events of a relayed stream rewritten one at a time, every other byte kept: the stream is cut at
 * its blank lines (LF or CRLF), each complete event goes out as soon as it is whole, and only what
 * is not yet a whole event waits (a client cannot use half an event anyway). Once `firstOnly` has
 * seen its event, or when no blank line comes within a megabyte, bytes pass untouched.
 *
 * A chunk's bytes are read once as latin1 text (one character per byte, so string offsets are byte
 * offsets) and what it holds goes out as one buffer, however many events it holds.
 */
import type { EventRewrite } from "../dialect/relay.ts"

/** the longest start of an event held for its blank line: a longer one passes as it comes */
export const longestHeldEvent = 1024 * 1024

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

/** An EventRewrite applied to a stream's chunks as they come: what of each goes out now, and what is left at the end. */
export interface ChunkRewriter {
  /** the chunk's bytes to send now (its whole events, rewritten), or undefined when none is whole yet */
  readonly chunk: (bytes: Uint8Array) => Uint8Array | undefined
  /** what was held back, once the stream is over */
  readonly end: () => Uint8Array | undefined
}

const bytesOf = (chunk: Uint8Array): Buffer => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)

/** `firstText`, if given, gets the first chunk's text as it came (latin1), before any rewrite. */
export const eventRewriter = (rewrite: EventRewrite, firstText?: (text: string) => void): ChunkRewriter => {
  /** what is not yet a whole event, as latin1 text */
  let pending = ""
  let done = false
  let first = true
  return {
    chunk: (chunk) => {
      if (done) return chunk
      const text = pending + bytesOf(chunk).toString("latin1")
      if (first) {
        first = false
        firstText?.(text)
      }
      const eventEnd = eventEnds(text)
      let out = ""
      let at = 0
      for (let end = eventEnd(0); end >= 0 && !done; end = eventEnd(at)) {
        const event = text.slice(at, end)
        out += rewrite.event(event) ?? event
        at = end
        done = rewrite.firstOnly
      }
      if (done || text.length - at > longestHeldEvent) {
        done = true
        out += text.slice(at)
        pending = ""
      } else pending = text.slice(at)
      return out === "" ? undefined : Buffer.from(out, "latin1")
    },
    end: () => {
      const rest = pending
      pending = ""
      return rest === "" ? undefined : Buffer.from(rest, "latin1")
    }
  }
}
