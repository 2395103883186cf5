/**
 * The one error a client can see. Every failure on the request path ends up as a GatewayError, and
 * each dialect renders it in its own envelope (OpenAI `{"error":{…}}`, Anthropic `{"type":"error",…}`).
 * Messages are written for the caller: they never carry a token, an API key or a stack trace.
 */
import { Data } from "effect"

export type ErrorKind =
  | "invalid_request" // 400
  | "authentication" // 401
  | "permission" // 403
  | "not_found" // 404
  | "request_too_large" // 413
  | "rate_limit" // 429
  | "api_error" // 500 / 502
  | "overloaded" // 503 / 529
  | "timeout" // 504

export class GatewayError extends Data.TaggedError("GatewayError")<{
  readonly kind: ErrorKind
  readonly status: number
  readonly message: string
  /** the request field at fault (OpenAI's `param`) */
  readonly param?: string
  /** a machine-readable code (OpenAI's `code`, e.g. `model_not_found`) */
  readonly code?: string
  /** seconds, forwarded as `retry-after` on 429/503 */
  readonly retryAfter?: number
}> {}

const defaultStatus: Record<ErrorKind, number> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  request_too_large: 413,
  rate_limit: 429,
  api_error: 500,
  overloaded: 503,
  timeout: 504
}

export const gatewayError = (
  kind: ErrorKind,
  message: string,
  extra: { status?: number; param?: string; code?: string; retryAfter?: number } = {}
): GatewayError => new GatewayError({ kind, message, ...extra, status: extra.status ?? defaultStatus[kind] })

export const invalidRequest = (message: string, param?: string): GatewayError =>
  gatewayError("invalid_request", message, param === undefined ? {} : { param })
