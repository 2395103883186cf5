/** Server-sent event responses. */
import * as Effect from "effect/Effect"
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

/**
 * Waits for a stream's first element before the response is committed, so a failure that happens
 * before any output (upstream 429 after retries, bad key…) still gets a real HTTP status instead of
 * a 200 followed by an error event. The rest of the stream lives in the request's scope.
 */
export const awaitFirst = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.map(Stream.peel(stream, Sink.head<A>()), ([first, rest]) =>
    first._tag === "Some" ? Stream.concat(Stream.succeed(first.value), rest) : rest)
