/**
 * Every request no route takes gets a JSON error, in the Anthropic envelope under /anthropic/ and the
 * OpenAI one elsewhere: a client calling an endpoint the gateway does not serve fails clearly instead
 * of parsing HTML or an empty 200.
 */
import { Effect } from "effect"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { gatewayError } from "../errors.ts"
import { errorResponse } from "./respond.ts"

const served: ReadonlyArray<readonly [method: string, path: string]> = [
  ["POST", "/openai/v1/chat/completions"],
  ["GET", "/openai/v1/models"],
  ["POST", "/anthropic/v1/messages"],
  ["POST", "/anthropic/v1/messages/count_tokens"],
  ["GET", "/anthropic/v1/models"],
  ["GET", "/healthz"],
  ["GET", "/readyz"]
]

/** Where an old `/v1/...` path lives now. */
export const movedTo = (path: string): string | undefined => {
  if (!path.startsWith("/v1/")) return undefined
  return path.startsWith("/v1/messages") ? `/anthropic${path}` : `/openai${path}`
}

export const FallbackRoutes = HttpRouter.use((router) =>
  router.add("*", "*", Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = request.url.split("?")[0] ?? request.url
    const dialect = path.startsWith("/anthropic/") ? "anthropic" : "openai"
    const allowed = served.filter(([, p]) => p === path).map(([m]) => m)
    if (allowed.length > 0) {
      return errorResponse(dialect, gatewayError("invalid_request", `${request.method} is not allowed on ${path}; use ${allowed.join(", ")}`, {
        status: 405,
        code: "method_not_allowed"
      }))
    }
    const moved = movedTo(path)
    const message = moved === undefined
      ? `no route for ${request.method} ${path}: this gateway serves /openai/v1/chat/completions, /openai/v1/models, /anthropic/v1/messages and /anthropic/v1/models`
      : `${path} has moved: use ${moved}`
    return errorResponse(dialect, gatewayError("not_found", message, { code: "unknown_route" }))
  }))
)
