/**
 * GatewayErrors in Anthropic's envelope, `{"type":"error","error":{"type","message"}}`, with the
 * error types and HTTP statuses Anthropic uses, so that the SDKs' error classes and retry logic
 * (429 and 529 are retried, `retry-after` is honored) behave as they do against Anthropic itself.
 */
import { type ErrorKind, type GatewayError, statusOfKind } from "../../errors.ts"
import { errorEnvelopeOf } from "../wire.ts"
import { sseFrame } from "./sse.ts"

const anthropicType: Record<ErrorKind, string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  not_found: "not_found_error",
  method_not_allowed: "invalid_request_error",
  request_too_large: "request_too_large",
  headers_too_large: "invalid_request_error",
  rate_limit: "rate_limit_error",
  internal: "api_error",
  upstream: "api_error",
  overloaded: "overloaded_error",
  timeout: "timeout_error"
}

/** Overloaded is 529 here, which is what Anthropic's clients retry on. */
export const statusOf = (error: GatewayError): number => (error.kind === "overloaded" ? 529 : error.status ?? statusOfKind[error.kind])

export const errorBody = (error: GatewayError) => ({
  type: "error",
  error: { type: anthropicType[error.kind], message: error.message }
})

export const errorEnvelope = errorEnvelopeOf(statusOf, errorBody)

/** The `error` event that ends a stream that fails after its 200 was sent. */
export const errorFrame = (error: GatewayError): string => sseFrame("error", errorBody(error))
