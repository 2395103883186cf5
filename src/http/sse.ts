/** Server-sent event responses. */
import { Effect, Sink, Stream } from "effect"
import { HttpServerResponse } from "effect/http"

const sseOptions = {
  contentType: "text/event-stream",
  headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
}

export const sse = (frames: Stream.Stream<string>): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(frames.pipe(Stream.encodeText), sseOptions)

/**
 * A provider's event stream relayed byte for byte; if it breaks midway, `onError` renders the
 * failure as a last event in the client's dialect.
 */
export const relay = <E>(bytes: Stream.Stream<Uint8Array, E>, onError: (error: E) => string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(
    bytes.pipe(Stream.catch((e) => Stream.succeed(new TextEncoder().encode(onError(e))))),
    sseOptions
  )

/**
 * Waits for a stream's first element before the response is committed, so a failure that happens
 * before any output (upstream 429 after retries, bad key…) still gets a real HTTP status instead of
 * a 200 followed by an error event. The rest of the stream lives in the request's scope.
 */
export const awaitFirst = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.map(Stream.peel(stream, Sink.head<A>()), ([first, rest]) =>
    first._tag === "Some" ? Stream.concat(Stream.succeed(first.value), rest) : rest)
