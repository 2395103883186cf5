import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import { awaitFirst } from "../../src/http/sse.ts"

/** The arrays a stream gives, as its writer gets them (each one write). */
const writes = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function*() {
    const arrays: Array<ReadonlyArray<A>> = []
    yield* Stream.runForEachArray(stream, (array) => Effect.sync(() => void arrays.push([...array])))
    return arrays
  })

describe("awaitFirst", () => {
  it.effect("keeps what came with the first element beside it: the answer's opening and first output leave in one write", () =>
    Effect.gen(function*() {
      const rest = yield* awaitFirst(Stream.fromArrays(["start", "first text"], ["more", "finish"]))
      expect(yield* writes(rest)).toEqual([["start", "first text"], ["more", "finish"]])
    }))

  it.effect("fails before the response when the stream fails before its first element; an empty stream stays empty", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.exit(awaitFirst(Stream.fail("rate limited")))
      expect(failed).toEqual(Exit.fail("rate limited"))
      expect(yield* writes(yield* awaitFirst(Stream.empty))).toEqual([])
    }))

  it.effect("a failure after the first elements reaches the stream's reader", () =>
    Effect.gen(function*() {
      const rest = yield* awaitFirst(Stream.concat(Stream.fromArray(["start"]), Stream.fail("cut")))
      const arrays: Array<ReadonlyArray<string>> = []
      const exit = yield* Effect.exit(Stream.runForEachArray(rest, (array) => Effect.sync(() => void arrays.push([...array]))))
      expect(arrays).toEqual([["start"]])
      expect(exit).toEqual(Exit.fail("cut"))
    }))
})
