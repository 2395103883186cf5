/** Server-sent event responses. */
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Pull from "effect/Pull"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

export const sseOptions = {
  contentType: "text/event-stream",
  headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
}

/** The frames that are ready together are encoded, and written, as one piece. */
export const sse = (frames: Stream.Stream<string>): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(frames.pipe(Stream.mapArray((ready) => [Buffer.from(ready.join(""), "utf8")] as const)), sseOptions)

/** The first array a stream gives, whole: what arrived together stays together. */
const firstArray = <A>() =>
  Sink.fromTransform((upstream: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, never, unknown>) =>
    upstream.pipe(
      Effect.map((first) => [Option.some(first)] as const),
      Pull.catchDone(() => Effect.succeed([Option.none<Arr.NonEmptyReadonlyArray<A>>()] as const))
    ))

/**
 * Waits for a stream's first elements before the response is committed, so a failure that happens
 * before any output (upstream 429 after retries, bad key…) still gets a real HTTP status instead of
 * a 200 followed by an error event. What came with the first (the answer's opening and its first
 * output, decoded together) goes on with it, to leave in the response's first write. The rest of
 * the stream lives in the request's scope.
 */
export const awaitFirst = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.map(Stream.peel(stream, firstArray<A>()), ([first, rest]) =>
    first._tag === "Some" ? Stream.concat(Stream.fromArray(first.value), rest) : rest)
