/**
 * OpenAI's error envelope, `{"error": {"message", "type", "param", "code"}}`, and its statuses: the
 * same for both of OpenAI's APIs (Chat Completions in `openai/`, Responses in `responses/`), so that
 * the `openai` SDKs' error classes and retries behave as against OpenAI.
 */
import { type ErrorKind, type GatewayError, statusOfKind } from "../errors.ts"
import { errorEnvelopeOf } from "./wire.ts"

const types: Record<ErrorKind, string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  not_found: "not_found_error",
  method_not_allowed: "invalid_request_error",
  request_too_large: "invalid_request_error",
  headers_too_large: "invalid_request_error",
  rate_limit: "rate_limit_error",
  internal: "api_error",
  upstream: "api_error",
  overloaded: "overloaded_error",
  timeout: "timeout_error"
}

const defaultCodes: Partial<Record<ErrorKind, string>> = {
  request_too_large: "request_too_large",
  rate_limit: "rate_limit_exceeded",
  method_not_allowed: "method_not_allowed"
}

export const statusOf = (e: GatewayError): number => e.status ?? statusOfKind[e.kind]

export const errorBody = (e: GatewayError) => ({
  error: {
    message: e.message,
    type: types[e.kind],
    param: e.param ?? null,
    code: e.code ?? defaultCodes[e.kind] ?? null
  }
})

export const errorEnvelope = errorEnvelopeOf(statusOf, errorBody)
