/** Reading a request body as JSON, bounded by `--max-body-bytes`. */
import { Effect, Stream } from "effect"
import { HttpServerRequest } from "effect/http"
import { type GatewayError, gatewayError, invalidRequest } from "../errors.ts"
import { readJson } from "../json.ts"

const tooLarge = (limit: number) =>
  gatewayError("request_too_large", `request body is larger than the limit of ${limit} bytes`)

export const readJsonBody = (limit: number, maxDepth: number): Effect.Effect<unknown, GatewayError, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const declared = Number(request.headers["content-length"])
    if (Number.isFinite(declared) && declared > limit) return yield* tooLarge(limit)

    const chunks: Array<Uint8Array> = []
    let size = 0
    yield* request.stream.pipe(
      Stream.mapError(() => invalidRequest("the request body could not be read")),
      Stream.runForEach((chunk) => {
        size += chunk.length
        if (size > limit) return Effect.fail(tooLarge(limit))
        chunks.push(chunk)
        return Effect.void
      })
    )
    const text = Buffer.concat(chunks).toString("utf8")
    if (text.trim() === "") return yield* invalidRequest("the request body is empty: expected a JSON object")
    const read = readJson(text, maxDepth)
    if (read.ok) return read.value
    return yield* invalidRequest(read.problem === "depth"
      ? `the request body is ${read.message} (the limit is --max-json-depth)`
      : `the request body is not valid JSON: ${read.message}`)
  })
