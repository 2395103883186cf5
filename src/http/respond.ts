/** Responses every route shares: errors in the caller's format, and JSON. */
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { anthropicClient } from "../dialect/anthropic/client.ts"
import { openaiClient } from "../dialect/openai/client.ts"
import type { ClientDialect, ErrorEnvelope } from "../dialect/wire.ts"
import type { GatewayError } from "../errors.ts"
import { rateLimitHeaders } from "./rate-limit-headers.ts"

/** The error as the caller's format shows it: its status, its envelope, its headers. */
export const errorEnvelope = (dialect: ClientDialect, error: GatewayError): ErrorEnvelope =>
  (dialect === "openai" ? openaiClient : anthropicClient).errorEnvelope(error)

/**
 * The error's envelope, with `x-should-retry`, which the official SDKs (and Claude Code) obey before
 * their own status rules: a bad token or request fails at once instead of being retried for a minute.
 * A limit's refusal also carries the caller's standing (./rate-limit-headers.ts).
 */
export const errorResponse = (dialect: ClientDialect, error: GatewayError): HttpServerResponse.HttpServerResponse => {
  const { body, headers, status } = errorEnvelope(dialect, error)
  return HttpServerResponse.jsonUnsafe(body, {
    status,
    headers: { ...headers, ...rateLimitHeaders(dialect, error.rateLimit), "x-should-retry": String(error.retryable) }
  })
}

export const json = (body: unknown): HttpServerResponse.HttpServerResponse => HttpServerResponse.jsonUnsafe(body)

/** A provider's whole answer as it sent it (pass-through). */
export const wholeBody = (answer: { readonly contentType: string; readonly bytes: Uint8Array }): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.uint8Array(answer.bytes, { contentType: answer.contentType })
