import { describe, expect, it } from "vitest"
import { statusOf } from "../../src/dialect/openai/errors.ts"
import { retryAfterMillis, statusFailure, upstreamMessage } from "../../src/llm/upstream.ts"

describe("retryAfterMillis", () => {
  it("reads seconds, HTTP dates and retry-after-ms", () => {
    expect(retryAfterMillis({ "retry-after": "3" })).toBe(3000)
    expect(retryAfterMillis({ "retry-after-ms": "250", "retry-after": "3" })).toBe(250)
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(retryAfterMillis({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }, now)).toBe(5000)
    expect(retryAfterMillis({ "retry-after": "soon" })).toBeUndefined()
    expect(retryAfterMillis({})).toBeUndefined()
  })
})

describe("statusFailure", () => {
  /** the error, and the status an OpenAI client would see */
  const map = (status: number, body = "", retryAfter?: number) => {
    const error = statusFailure("p1", status, body, retryAfter)
    return { error, retryable: error.retryable, status: statusOf(error) }
  }

  it("maps provider statuses to what the caller should see", () => {
    expect(map(400, '{"error":{"message":"bad field"}}')).toMatchObject({ retryable: false, status: 400, error: { kind: "invalid_request" } })
    expect(map(400, '{"error":{"message":"bad field"}}').error.message).toBe("provider p1: bad field (upstream HTTP 400)")
    expect(map(409)).toMatchObject({ retryable: false, status: 409 })
    expect(map(422)).toMatchObject({ retryable: false, status: 400 })
    expect(map(404)).toMatchObject({ retryable: false, status: 404, error: { code: "model_not_found" } })
    expect(map(413).status).toBe(413)
    expect(map(429, "", 2000)).toMatchObject({ retryable: true, status: 429, error: { kind: "rate_limit", retryAfter: 2 } })
    expect(map(500)).toMatchObject({ retryable: true, status: 502 })
    expect(map(503)).toMatchObject({ retryable: true, status: 503, error: { kind: "overloaded" } })
    expect(map(529, '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')).toMatchObject({
      retryable: true,
      error: { kind: "overloaded", message: "provider p1: Overloaded (upstream HTTP 529)" }
    })
  })

  it("turns a rejected provider key into a 502 that tells the operator, not the caller's token, and is not retried", () => {
    const f = map(401, '{"error":{"message":"Incorrect API key provided: sk-proj-abc***xyz"}}')
    expect(f).toMatchObject({ retryable: false, status: 502, error: { code: "upstream_authentication_failed" } })
    expect(f.error.message).not.toContain("sk-")
  })

  it("reads both envelopes and plain text", () => {
    expect(upstreamMessage('{"type":"error","error":{"type":"x","message":"m1"}}')).toBe("m1")
    expect(upstreamMessage('{"error":"m2"}')).toBe("m2")
    expect(upstreamMessage("upstream connect error")).toBe("upstream connect error")
    expect(upstreamMessage("")).toBeUndefined()
  })
})
