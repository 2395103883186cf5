/**
 * One JSON log line per request, written when the response is complete (for a stream: when it
 * ends, with how it ended). Routes add what they learn (user, provider, model) with `noteRequest`,
 * and a failure its kind, code and a short reason. Its level follows the outcome: `info`, `warn`
 * for a 4xx, `error` for a 5xx or a stream that failed midway. Never tokens, keys or bodies.
 */
import * as Effect from "effect/Effect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type { GatewayError } from "../errors.ts"
import { clampText } from "../redact.ts"
import type { RequestNote } from "../request-note.ts"

// Keyed by the Node request object, which stays the same through the router's request copies.
const notes = new WeakMap<object, RequestNote>()

/** The request's note, made by the boundary: what routes note goes to the same object the deeper layers fill. */
export const attachNote = (request: HttpServerRequest.HttpServerRequest, note: RequestNote): void => void notes.set(request.source as object, note)

export const noteRequest = (request: HttpServerRequest.HttpServerRequest, note: RequestNote): void => {
  const key = request.source as object
  const noted = notes.get(key)
  if (noted === undefined) notes.set(key, { ...note })
  else Object.assign(noted, note)
}

/** The longest reason written to the log. */
const reasonChars = 200

/** A failure the client was told of (already masked): in the request's log line. */
export const noteFailure = (request: HttpServerRequest.HttpServerRequest, error: GatewayError): void =>
  noteRequest(request, {
    error_type: error.kind,
    ...(error.code === undefined ? {} : { code: error.code }),
    reason: clampText(error.message, reasonChars)
  })

/** The longest path written to the log; the rest is cut (a request line may be 16 KiB). */
const loggedPathChars = 512

export const writeAccessLog = (
  request: HttpServerRequest.HttpServerRequest,
  entry: { readonly requestId: string; readonly durationMs: number; readonly status: number; readonly outcome: string }
) => {
  const note = notes.get(request.source as object)
  // a stream that told the client of a failure midway failed, whatever its status
  const outcome = entry.outcome === "completed" && note?.error_type !== undefined ? "failed" : entry.outcome
  const log = entry.status >= 500 || (outcome === "failed" && entry.status < 400) ? Effect.logError : entry.status >= 400 ? Effect.logWarning : Effect.logInfo
  return log("request").pipe(Effect.annotateLogs({
    request_id: entry.requestId,
    method: request.method,
    path: (request.url.split("?")[0] ?? request.url).slice(0, loggedPathChars),
    status: entry.status,
    duration_ms: Math.round(entry.durationMs),
    outcome,
    ...note
  }))
}
