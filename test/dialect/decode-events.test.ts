/**
 * `decodeEvents`, the one stage every provider stream is decoded in: chunks stay chunks (but the
 * answer's first output leaves without the rest of its chunk), a failure
 * ends the stream after what was decoded before it, the answer's last event stops the reading, and
 * what the format adds at its end (or the failure of a cut answer) comes last.
 */
import { Effect, Exit, Result, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { decodeEvents, type EventDecoding } from "../../src/dialect/wire.ts"
import { type GatewayError, gatewayError } from "../../src/errors.ts"

const bad = gatewayError("upstream", "bad event")
const cut = gatewayError("upstream", "cut")

/** Events are numbers: 0 fails, negative ends the answer, others become their text twice; from 10 up, they are output. */
const decoding = (atEnd: EventDecoding<number, string>["atEnd"] = () => Result.succeed(["end"])): EventDecoding<number, string> => ({
  decode: (n) => (n === 0 ? Result.fail(bad) : Result.succeed(n < 0 ? ["last"] : [`${n}a`, `${n}b`])),
  ends: (n) => n < 0,
  atEnd,
  isOutput: (text) => Number.parseInt(text) >= 10
})

/** The chunks that come out of `chunks` (each arriving as one), and how the stream ended. */
const run = async (chunks: ReadonlyArray<readonly [number, ...Array<number>]>, d = decoding()) => {
  const out: Array<ReadonlyArray<string>> = []
  const events: Stream.Stream<number, GatewayError> = Stream.fromArrays(...chunks)
  const exit = await Effect.runPromiseExit(Stream.runForEachArray(decodeEvents(events, d), (chunk) => Effect.sync(() => void out.push(chunk))))
  return { out, exit }
}

describe("decodeEvents", () => {
  it("keeps what arrived together in one chunk, and ends with what the format adds", async () => {
    const { exit, out } = await run([[1, 2], [3]])
    expect(Exit.isSuccess(exit)).toBe(true)
    // the end is known when the events run out: on the pull after the last chunk
    expect(out).toEqual([["1a", "1b", "2a", "2b"], ["3a", "3b"], ["end"]])
  })

  it("sends the first output without waiting for the rest of its chunk, once", async () => {
    expect((await run([[1, 10, 11, 2], [3]])).out).toEqual([["1a", "1b", "10a", "10b"], ["11a", "11b", "2a", "2b"], ["3a", "3b"], ["end"]])
    expect((await run([[10, 11], [12, 13]])).out).toEqual([["10a", "10b"], ["11a", "11b"], ["12a", "12b", "13a", "13b"], ["end"]])
    // the first output last in its chunk: nothing to hold back
    expect((await run([[1, 10], [11, 12]])).out).toEqual([["1a", "1b", "10a", "10b"], ["11a", "11b", "12a", "12b"], ["end"]])
  })

  it("ends, or fails, in the rest of a chunk cut after the first output", async () => {
    const ended = await run([[10, -1, 5], [6]])
    expect(Exit.isSuccess(ended.exit)).toBe(true)
    expect(ended.out).toEqual([["10a", "10b"], ["last", "end"]])
    const failed = await run([[10, 11, 0, 12]])
    expect(failed.out).toEqual([["10a", "10b"], ["11a", "11b"]])
    expect(failed.exit).toEqual(Exit.fail(bad))
  })

  it("sends what decoded before a failure, then fails", async () => {
    const { exit, out } = await run([[1, 0, 2], [3]])
    expect(out.flat()).toEqual(["1a", "1b"])
    expect(exit).toEqual(Exit.fail(bad))
  })

  it("reads nothing after the answer's last event", async () => {
    const { exit, out } = await run([[1, -1, 2], [3]])
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(out.flat()).toEqual(["1a", "1b", "last", "end"])
  })

  it("fails a stream that ran out before its answer was whole", async () => {
    const { exit, out } = await run([[1]], decoding(() => Result.fail(cut)))
    expect(out.flat()).toEqual(["1a", "1b"])
    expect(exit).toEqual(Exit.fail(cut))
    expect((await run([], decoding(() => Result.fail(cut)))).exit).toEqual(Exit.fail(cut))
  })
})
