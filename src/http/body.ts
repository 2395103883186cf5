/** Reading a request body as JSON, bounded by `--max-body-bytes`. */
import * as ByteSize from "effect/ByteSize"
import * as Effect from "effect/Effect"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import { type GatewayError, gatewayError, invalidRequest } from "../errors.ts"
import { readJson } from "../json.ts"

const tooLarge = (limit: number) =>
  gatewayError("request_too_large", `request body is larger than the limit of ${limit} bytes`)

const isTooLarge = (error: { readonly reason: unknown }): boolean =>
  (error.reason as { readonly reason?: unknown } | undefined)?.reason === "BodyTooLarge"

const decoder = new TextDecoder()

/** The body's JSON value, and its length in characters (what a token estimate starts from). */
export const readJsonBody = (
  limit: number,
  maxDepth: number
): Effect.Effect<{ readonly value: unknown; readonly chars: number }, GatewayError, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const declared = Number(request.headers["content-length"])
    if (Number.isFinite(declared) && declared > limit) return yield* tooLarge(limit)

    // read whole by the platform (one buffer, no stream of chunks), stopped past the limit
    const bytes = yield* request.arrayBuffer.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(limit)),
      Effect.mapError((e) => (isTooLarge(e) ? tooLarge(limit) : invalidRequest("the request body could not be read")))
    )
    const text = decoder.decode(bytes)
    if (text.trim() === "") return yield* invalidRequest("the request body is empty: expected a JSON object")
    const read = readJson(text, maxDepth)
    if (read.ok) return { value: read.value, chars: text.length }
    return yield* invalidRequest(read.problem === "depth"
      ? `the request body is ${read.message} (the limit is --max-json-depth)`
      : `the request body is not valid JSON: ${read.message}`)
  })
