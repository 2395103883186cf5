/** Reading a request body as JSON, bounded by `--max-body-bytes`. */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as ByteSize from "effect/ByteSize"
import * as Effect from "effect/Effect"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import { IncomingMessage } from "node:http"
import { type GatewayError, gatewayError, invalidRequest } from "../errors.ts"
import { readJson } from "../json.ts"

const tooLarge = (limit: number) =>
  gatewayError("request_too_large", `request body is larger than the limit of ${limit} bytes`)

const isTooLarge = (error: { readonly reason: unknown }): boolean =>
  (error.reason as { readonly reason?: unknown } | undefined)?.reason === "BodyTooLarge"

const unreadable = () => invalidRequest("the request body could not be read")

const decoder = new TextDecoder()

/**
 * A body of declared length within the limit: read straight off Node's message, done at its end.
 * Node's parser delivers no more than the declared length; the platform's reader waits for the
 * message's close, a turn after its end, and copies the bytes once more.
 */
const readDeclared = (incoming: IncomingMessage): Effect.Effect<Uint8Array, GatewayError> =>
  Effect.callback((resume) => {
    const chunks: Array<Buffer> = []
    const onData = (chunk: Buffer) => void chunks.push(chunk)
    const onEnd = () => {
      stop()
      resume(Effect.succeed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)))
    }
    // the client went away or the connection broke before the body's end
    const onBroken = () => {
      stop()
      resume(Effect.fail(unreadable()))
    }
    const stop = () => {
      incoming.off("data", onData)
      incoming.off("end", onEnd)
      incoming.off("error", onBroken)
      incoming.off("close", onBroken)
    }
    incoming.on("data", onData)
    incoming.on("end", onEnd)
    incoming.on("error", onBroken)
    incoming.on("close", onBroken)
    return Effect.sync(stop)
  })

/** The body's JSON value, its text, and its length in characters (what a token estimate starts from). */
export const readJsonBody = (
  limit: number,
  maxDepth: number
): Effect.Effect<{ readonly value: unknown; readonly text: string; readonly chars: number }, GatewayError, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const declared = Number(request.headers["content-length"])
    if (Number.isFinite(declared) && declared > limit) return yield* tooLarge(limit)

    // a chunked body, or one the client waits to send until told to (100-continue), is the platform's to
    // read: it sends the 100, stops past the limit and drains what is left (as is any request not from Node's server)
    const incoming: unknown = NodeHttpServerRequest.toIncomingMessage(request)
    const bytes = incoming instanceof IncomingMessage && Number.isFinite(declared) && request.headers["expect"] === undefined
      ? yield* readDeclared(incoming)
      : yield* request.arrayBuffer.pipe(
        Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(limit)),
        Effect.mapError((e) => (isTooLarge(e) ? tooLarge(limit) : unreadable()))
      )
    const text = decoder.decode(bytes)
    if (text.trim() === "") return yield* invalidRequest("the request body is empty: expected a JSON object")
    const read = readJson(text, maxDepth)
    if (read.ok) return { value: read.value, text, chars: text.length }
    return yield* invalidRequest(read.problem === "depth"
      ? `the request body is ${read.message} (the limit is --max-json-depth)`
      : `the request body is not valid JSON: ${read.message}`)
  })
