/** Responses every route shares: errors in the caller's dialect, and JSON. */
import { HttpServerResponse } from "effect/http"
import type { GatewayError } from "../errors.ts"
import { errorEnvelope as anthropicError } from "../dialect/anthropic/errors.ts"
import { errorEnvelope as openaiError } from "../dialect/openai/errors.ts"

export type Dialect = "openai" | "anthropic"

/** The error as the dialect shows it: its status, its envelope, its headers. */
export const errorEnvelope = (dialect: Dialect, error: GatewayError): { status: number; body: object; headers: Record<string, string> } =>
  dialect === "openai" ? openaiError(error) : anthropicError(error)

/**
 * The error's envelope, with `x-should-retry`, which the official SDKs (and Claude Code) obey before
 * their own status rules: a bad token or request fails at once instead of being retried for a minute.
 */
export const errorResponse = (dialect: Dialect, error: GatewayError): HttpServerResponse.HttpServerResponse => {
  const { body, headers, status } = errorEnvelope(dialect, error)
  return HttpServerResponse.jsonUnsafe(body, { status, headers: { ...headers, "x-should-retry": String(error.retryable) } })
}

export const json = (body: unknown): HttpServerResponse.HttpServerResponse => HttpServerResponse.jsonUnsafe(body)

/** A provider's whole answer as it sent it (pass-through). */
export const wholeBody = (answer: { readonly contentType: string; readonly bytes: Uint8Array }): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.uint8Array(answer.bytes, { contentType: answer.contentType })
