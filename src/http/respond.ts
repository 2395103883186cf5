/** Responses every route shares: errors in the caller's dialect, and JSON. */
import { HttpServerResponse } from "effect/http"
import type { GatewayError } from "../errors.ts"
import { errorBody as anthropicBody, errorEnvelope as anthropicError } from "../dialect/anthropic/errors.ts"
import { errorBody as openaiBody, errorEnvelope as openaiError } from "../dialect/openai/errors.ts"

export type Dialect = "openai" | "anthropic"

/**
 * Whether a client should try again, as the `x-should-retry` header the official SDKs (and Claude
 * Code) obey before their own status rules: a bad token or request fails at once instead of being
 * retried for a minute.
 */
export const shouldRetry = (status: number): boolean => status === 408 || status === 429 || status >= 500

export const errorResponse = (dialect: Dialect, error: GatewayError): HttpServerResponse.HttpServerResponse => {
  const { body, headers, status } = dialect === "openai" ? openaiError(error) : anthropicError(error)
  return HttpServerResponse.jsonUnsafe(body, { status, headers: { ...headers, "x-should-retry": String(shouldRetry(status)) } })
}

/** The error envelope alone, for answers written outside the router. */
export const errorBody = (dialect: Dialect, error: GatewayError): object => (dialect === "openai" ? openaiBody(error) : anthropicBody(error))

export const json = (body: unknown): HttpServerResponse.HttpServerResponse => HttpServerResponse.jsonUnsafe(body)

/** A provider's whole answer as it sent it (pass-through). */
export const wholeBody = (answer: { readonly contentType: string; readonly bytes: Uint8Array }): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.uint8Array(answer.bytes, { contentType: answer.contentType })
