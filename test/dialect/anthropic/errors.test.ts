import { describe, expect, it } from "vitest"
import { errorEnvelope, errorFrame } from "../../../src/dialect/anthropic/errors.ts"
import { gatewayError, invalidRequest } from "../../../src/errors.ts"

describe("errorEnvelope", () => {
  it("uses Anthropic's error types and statuses", () => {
    const cases = [
      [invalidRequest("max_tokens: Field required", "max_tokens"), 400, "invalid_request_error"],
      [gatewayError("authentication", "invalid x-api-key"), 401, "authentication_error"],
      [gatewayError("permission", "not allowed"), 403, "permission_error"],
      [gatewayError("not_found", "no such model"), 404, "not_found_error"],
      [gatewayError("request_too_large", "too big"), 413, "request_too_large"],
      [gatewayError("method_not_allowed", "use POST"), 405, "invalid_request_error"],
      [gatewayError("internal", "gateway fault"), 500, "api_error"],
      [gatewayError("upstream", "provider p1: bad gateway"), 502, "api_error"],
      [gatewayError("overloaded", "provider busy"), 529, "overloaded_error"],
      [gatewayError("timeout", "provider took too long"), 504, "timeout_error"]
    ] as const
    for (const [error, status, type] of cases) {
      expect(errorEnvelope(error)).toEqual({ status, headers: {}, body: { type: "error", error: { type, message: error.message } } })
    }
  })

  it("tells rate-limited clients when to retry", () => {
    expect(errorEnvelope(gatewayError("rate_limit", "slow down", { retryAfter: 7 }))).toEqual({
      status: 429,
      headers: { "retry-after": "7" },
      body: { type: "error", error: { type: "rate_limit_error", message: "slow down" } }
    })
  })
})

describe("errorFrame", () => {
  it("is an SSE error event", () => {
    expect(errorFrame(gatewayError("overloaded", "Overloaded"))).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
  })
})
