/**
 * GatewayErrors in Anthropic's envelope, `{"type":"error","error":{"type","message"}}`, with the
 * error types and HTTP statuses Anthropic uses, so that the SDKs' error classes and retry logic
 * (429 and 529 are retried, `retry-after` is honored) behave as they do against Anthropic itself.
 */
import type { ErrorKind, GatewayError } from "../../errors.ts"
import { sseFrame } from "./sse.ts"

const anthropicType: Record<ErrorKind, string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  not_found: "not_found_error",
  request_too_large: "request_too_large",
  rate_limit: "rate_limit_error",
  api_error: "api_error",
  overloaded: "overloaded_error",
  timeout: "api_error"
}

/** The error's own status, but 529 for overloaded, which is what Anthropic's clients retry on. */
const statusOf = (error: GatewayError): number => (error.kind === "overloaded" ? 529 : error.status)

export const errorBody = (error: GatewayError) => ({
  type: "error",
  error: { type: anthropicType[error.kind], message: error.message }
})

export const errorEnvelope = (error: GatewayError): { status: number; body: object; headers: Record<string, string> } => ({
  status: statusOf(error),
  body: errorBody(error),
  headers: error.retryAfter === undefined ? {} : { "retry-after": String(error.retryAfter) }
})

/** The `error` event that ends a stream that fails after its 200 was sent. */
export const errorFrame = (error: GatewayError): string => sseFrame("error", errorBody(error))
