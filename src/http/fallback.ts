/**
 * The answer to a request no route takes: a JSON error, in the Anthropic envelope under /anthropic/
 * and the OpenAI one elsewhere, so a client calling an endpoint the gateway does not serve fails
 * clearly instead of parsing HTML or an empty 200. A path the router cannot even decode
 * (`%ZZ`) ends here too.
 */
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import { type GatewayError, gatewayError } from "../errors.ts"
import { clampText } from "../redact.ts"

const served: ReadonlyArray<readonly [method: string, path: string]> = [
  ["POST", "/openai/v1/chat/completions"],
  ["POST", "/openai/v1/responses"],
  ["POST", "/openai/v1/responses/input_tokens"],
  ["GET", "/openai/v1/models"],
  ["POST", "/anthropic/v1/messages"],
  ["POST", "/anthropic/v1/messages/count_tokens"],
  ["GET", "/anthropic/v1/models"],
  ["GET", "/healthz"],
  ["GET", "/readyz"],
  ["GET", "/metrics"]
]

/** Where an old `/v1/...` path lives now. */
export const movedTo = (path: string): string | undefined => {
  if (!path.startsWith("/v1/")) return undefined
  return path.startsWith("/v1/messages") ? `/anthropic${path}` : `/openai${path}`
}

/** The longest path quoted back in an error message. */
const quotedPathChars = 200

export const noRoute = (request: HttpServerRequest.HttpServerRequest): GatewayError => {
  const path = request.url.split("?")[0] ?? request.url
  const allowed = served.filter(([, p]) => p === path).map(([m]) => m)
  if (allowed.length > 0) {
    return gatewayError("method_not_allowed", `${request.method} is not allowed on ${path}; use ${allowed.join(", ")}`)
  }
  const moved = movedTo(path)
  const shown = clampText(path, quotedPathChars)
  const message = moved === undefined
    ? `no route for ${request.method} ${shown}: this gateway serves /openai/v1/chat/completions, /openai/v1/responses, /openai/v1/models, /anthropic/v1/messages and /anthropic/v1/models`
    : `${shown} has moved: use ${clampText(moved, quotedPathChars)}`
  return gatewayError("not_found", message, { code: "unknown_route" })
}
