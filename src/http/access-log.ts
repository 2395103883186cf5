/**
 * One JSON log line per request, written when the response is complete (for a stream: when it
 * ends, with how it ended). Routes add what they learn (user, provider, model) with `noteRequest`.
 * Never tokens, keys or bodies.
 */
import { Effect } from "effect"
import type { HttpServerRequest } from "effect/http"

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

/** The longest path written to the log; the rest is cut (a request line may be 16 KiB). */
const loggedPathChars = 512

export const writeAccessLog = (
  request: HttpServerRequest.HttpServerRequest,
  entry: { readonly requestId: string; readonly started: number; readonly status: number; readonly outcome: string }
) =>
  Effect.logInfo("request").pipe(Effect.annotateLogs({
    request_id: entry.requestId,
    method: request.method,
    path: (request.url.split("?")[0] ?? request.url).slice(0, loggedPathChars),
    status: entry.status,
    duration_ms: Math.round(performance.now() - entry.started),
    outcome: entry.outcome,
    ...notes.get(request.source as object)
  }))
