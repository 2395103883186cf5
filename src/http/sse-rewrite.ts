/**
 * Events of a relayed stream rewritten one at a time, every other byte kept: the stream is cut at
 * its blank lines (LF or CRLF), each complete event goes out as soon as it is whole, and only what
 * is not yet a whole event waits (a client cannot use half an event anyway). Once `firstOnly` has
 * seen its event, or when no blank line comes within a megabyte, bytes pass untouched.
 */
import { Stream } from "effect"
import type { EventRewrite } from "../dialect/relay.ts"

const lf = Buffer.from("\n\n")
const crlf = Buffer.from("\r\n\r\n")
const giveUpBytes = 1024 * 1024

/** The end of the first event in `data` from `from` (just after its blank line), or -1. */
const eventEnd = (data: Buffer, from: number): number => {
  const a = data.indexOf(lf, from)
  const b = data.indexOf(crlf, from)
  if (a < 0) return b < 0 ? -1 : b + 4
  return b < 0 || a < b ? a + 2 : b + 4
}

interface State {
  pending: Buffer
  done: boolean
}

export const rewriteEvents = <E, R>(stream: Stream.Stream<Uint8Array, E, R>, rewrite: EventRewrite): Stream.Stream<Uint8Array, E, R> =>
  stream.pipe(Stream.mapAccum((): State => ({ pending: Buffer.alloc(0), done: false }), (state, chunk) => {
    if (state.done) return [state, [chunk]]
    const data = state.pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([state.pending, chunk])
    const out: Array<Uint8Array> = []
    let at = 0
    for (let end = eventEnd(data, 0); end >= 0 && !state.done; end = eventEnd(data, at)) {
      const event = data.subarray(at, end)
      const changed = rewrite.event(event.toString("utf8"))
      out.push(changed === undefined ? event : Buffer.from(changed, "utf8"))
      at = end
      state.done = rewrite.firstOnly
    }
    const rest = data.subarray(at)
    if (state.done || rest.length > giveUpBytes) {
      state.done = true
      if (rest.length > 0) out.push(rest)
      state.pending = Buffer.alloc(0)
    } else state.pending = Buffer.from(rest) // a copy: the chunk it points into is not ours to keep
    return [state, out]
  }, { onHalt: (state) => (state.pending.length === 0 ? [] : [state.pending]) }))
