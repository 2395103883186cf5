/**
 * One JSON log line per request, written when the response is complete (for a stream: when it
 * ends, with how it ended). Routes add what they learn (user, provider, model) with `noteRequest`.
 * Never tokens, keys or bodies.
 */
import { Cause, Effect, Exit, Stream } from "effect"
import { HttpBody, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"

export interface RequestNote {
  user?: string
  provider?: string
  model?: string
  stream?: boolean
  /** whether the server-side tool loop ran */
  tools?: boolean
}

// Keyed by the Node request object, which stays the same through the router's request copies.
const notes = new WeakMap<object, RequestNote>()

export const noteRequest = (request: HttpServerRequest.HttpServerRequest, note: RequestNote): void => {
  const key = request.source as object
  notes.set(key, { ...notes.get(key), ...note })
}

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "completed" : Cause.hasInterruptsOnly(exit.cause) ? "client_closed" : "failed"

export const AccessLog = HttpRouter.middleware((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = performance.now()
    const requestId = request.headers["x-request-id"] ?? crypto.randomUUID()
    const write = (status: number, outcome: string) =>
      Effect.logInfo("request").pipe(Effect.annotateLogs({
        request_id: requestId,
        method: request.method,
        path: request.url.split("?")[0] ?? request.url,
        status,
        duration_ms: Math.round(performance.now() - started),
        outcome,
        ...notes.get(request.source as object)
      }))

    const response = yield* app.pipe(
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : write(499, outcomeOf(exit)))
    )
    const withId = HttpServerResponse.setHeader(response, "x-request-id", requestId)
    if (response.body._tag !== "Stream") {
      yield* write(response.status, "completed")
      return withId
    }
    const body = response.body
    return HttpServerResponse.setBody(
      withId,
      HttpBody.stream(body.stream.pipe(Stream.onExit((exit) => write(response.status, outcomeOf(exit)))), body.contentType)
    )
  }), { global: true })
