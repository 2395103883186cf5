/**
 * The one error a client can see. Every failure on the request path ends up as a GatewayError whose
 * `kind` says what went wrong; each dialect renders it in its own envelope with its own status table
 * (OpenAI `{"error":{…}}`, Anthropic `{"type":"error",…}`; overloaded is 503 for one, 529 for the
 * other). Like the reasons of `effect/ai`'s AiError, an error carries whether trying again can help
 * (`retryable`, which the gateway's own retries and the `x-should-retry` header follow) and how long
 * to wait (`retryAfter`). Messages are written for the caller: they never carry a token, an API key
 * or a stack trace.
 */
import * as Data from "effect/Data"

export type ErrorKind =
  | "invalid_request" // 400
  | "authentication" // 401
  | "permission" // 403
  | "not_found" // 404
  | "method_not_allowed" // 405
  | "request_too_large" // 413
  | "headers_too_large" // 431
  | "rate_limit" // 429
  | "internal" // 500: the gateway's own fault
  | "upstream" // 502: a provider failed, rejected the gateway's key, or answered what is not an answer
  | "overloaded" // 503 / 529
  | "timeout" // 504

/** One limit's standing, as rate-limit headers show it. */
export interface LimitStanding {
  readonly limit: number
  readonly remaining: number
  /** when it is whole again (ms since the epoch) */
  readonly resetAt: number
}

/** The strictest request limit and token limit a request is under (each dialect names their headers its way). */
export interface RateLimitState {
  readonly requests?: LimitStanding
  readonly tokens?: LimitStanding
}

export class GatewayError extends Data.TaggedError("GatewayError")<{
  readonly kind: ErrorKind
  readonly message: string
  /** whether the same request may succeed later (a provider's 429 or 5xx, an overload, a timeout) */
  readonly retryable: boolean
  /** the request field at fault (OpenAI's `param`) */
  readonly param?: string
  /** a machine-readable code (OpenAI's `code`, e.g. `model_not_found`) */
  readonly code?: string
  /** seconds, forwarded as `retry-after` */
  readonly retryAfter?: number
  /** the same wait to the millisecond, when known: `retry-after-ms`, which the official SDKs read first */
  readonly retryAfterMs?: number
  /** the caller's limits, when one refused the request: shown as the dialect's rate-limit headers */
  readonly rateLimit?: RateLimitState
  /** a status the kind does not imply: a provider's own 4xx passed on (409), a request too slow (408) */
  readonly status?: number
}> {}

const retryableKinds: ReadonlySet<ErrorKind> = new Set(["rate_limit", "overloaded", "timeout"])

export const gatewayError = (
  kind: ErrorKind,
  message: string,
  extra: { retryable?: boolean; status?: number; param?: string; code?: string; retryAfter?: number; retryAfterMs?: number; rateLimit?: RateLimitState } = {}
): GatewayError => new GatewayError({ kind, message, ...extra, retryable: extra.retryable ?? retryableKinds.has(kind) })

export const invalidRequest = (message: string, param?: string): GatewayError =>
  gatewayError("invalid_request", message, param === undefined ? {} : { param })

/** A stream that stopped before its end: the answer is incomplete, whoever noticed. */
export const endedEarly = (provider?: string): GatewayError =>
  gatewayError("upstream", `${provider === undefined ? "the provider's" : `provider ${provider}'s`} stream ended before the answer was complete`)

/** A provider's answer that could not be read (not JSON, not the shape its wire format has). */
export const malformedAnswer = (provider: string): GatewayError => gatewayError("upstream", `provider ${provider} sent a malformed answer`)

/** The HTTP status of each kind, for a dialect to adjust (Anthropic's overloaded is 529). */
export const statusOfKind: Readonly<Record<ErrorKind, number>> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_too_large: 413,
  headers_too_large: 431,
  rate_limit: 429,
  internal: 500,
  upstream: 502,
  overloaded: 503,
  timeout: 504
}
