/** Responses every route shares: errors in the caller's dialect, and JSON. */
import { HttpServerResponse } from "effect/http"
import type { GatewayError } from "../errors.ts"
import { errorEnvelope as anthropicError } from "../dialect/anthropic/errors.ts"
import { errorEnvelope as openaiError } from "../dialect/openai/errors.ts"

export type Dialect = "openai" | "anthropic"

export const errorResponse = (dialect: Dialect, error: GatewayError): HttpServerResponse.HttpServerResponse => {
  const { body, headers, status } = dialect === "openai" ? openaiError(error) : anthropicError(error)
  return HttpServerResponse.jsonUnsafe(body, { status, headers })
}

export const json = (body: unknown): HttpServerResponse.HttpServerResponse => HttpServerResponse.jsonUnsafe(body)
