/**
 * The request boundary on its own, over routes that fail in every way a handler can: each answer is
 * an envelope of the path's dialect, with secrets masked and nothing of the failure's internals.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, References, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { gatewayError } from "../../src/errors.ts"
import { Boundary, callerSecretsOf, presentable, RequestMetrics } from "../../src/http/boundary.ts"
import { makeRequestMetrics } from "../../src/http/request-metrics.ts"
import { Activity } from "../../src/memory.ts"
import { CallerSecrets, makeRedactor, Redactor } from "../../src/redact.ts"
import { CurrentRequest } from "../../src/request-note.ts"

const redactor = makeRedactor()
redactor.register("providers", ["sk-provider-key-0001"])

const routes = HttpRouter.use(Effect.fn(function*(router) {
  yield* router.add("GET", "/openai/v1/die", Effect.die(new Error("boom at /srv/secret/path with sk-provider-key-0001")))
  yield* router.add("GET", "/anthropic/v1/die", Effect.sync(() => JSON.stringify(JSON.parse("[".repeat(1) + "x"))).pipe(Effect.as(HttpServerResponse.text("no"))))
  yield* router.add("GET", "/anthropic/v1/fail", Effect.fail(gatewayError("upstream", "upstream said sk-provider-key-0001 and caller-token-0001")))
  yield* router.add("GET", "/openai/v1/ok", Effect.succeed(HttpServerResponse.text("ok")))
  // a stream that logs and reads its request's note while it is pulled, after the handler returned
  yield* router.add("GET", "/openai/v1/stream", Effect.succeed(HttpServerResponse.stream(Stream.fromEffect(Effect.gen(function*() {
    yield* Effect.logInfo("mid-stream")
    const current = yield* CurrentRequest
    if (current !== undefined) current.note.provider = "noted"
    return new TextEncoder().encode("data: caller-token-0001\n\n")
  })))))
}))

/** What each log line knew of its request: its annotations and the caller's secrets. */
const logged: Array<{ readonly message: unknown; readonly annotations: Record<string, unknown>; readonly secrets: ReadonlyArray<string> }> = []
const capture = Logger.make(({ fiber, message }) => {
  logged.push({ message, annotations: fiber.getRef(References.CurrentLogAnnotations), secrets: fiber.getRef(CallerSecrets) })
})

const web = HttpRouter.toWebHandler(Layer.mergeAll(routes, Boundary, Logger.layer([capture])), { disableLogger: true })
// services used by handlers come with each request, as the server provides them
const services = Context.make(Redactor, redactor).pipe(
  Context.add(Activity, { begin: () => {}, end: () => {}, inFlight: () => 0, lastEnded: () => 0 }),
  Context.add(RequestMetrics, makeRequestMetrics(10))
)
const handler = (request: Request) => web.handler(request, services)
const get = (path: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const res = await handler(new Request(`http://x${path}`, { headers }))
    return { status: res.status, body: await res.text(), id: res.headers.get("x-request-id") }
  })

describe("the request boundary", () => {
  it.effect("a defect is a 500 envelope with only the request id, never an empty body or a stack", () =>
    Effect.gen(function*() {
      const a = yield* get("/openai/v1/die", { "x-request-id": "req-7" })
      expect(a.status).toBe(500)
      expect(JSON.parse(a.body)).toEqual({ error: { message: "internal error (request req-7)", type: "api_error", param: null, code: "internal_error" } })
      const b = yield* get("/anthropic/v1/die")
      expect(b.status).toBe(500)
      expect(JSON.parse(b.body)).toMatchObject({ type: "error", error: { type: "api_error", message: `internal error (request ${b.id})` } })
    }))

  it.effect("a typed error is rendered in the path's envelope with every secret masked", () =>
    Effect.gen(function*() {
      const res = yield* get("/anthropic/v1/fail", { authorization: "Bearer caller-token-0001" })
      expect(res.status).toBe(502)
      expect(JSON.parse(res.body).error.message).toBe("upstream said *** and ***")
    }))

  it.effect("no route, or a path the router cannot decode, is a JSON 404; a known path with the wrong method a 405", () =>
    Effect.gen(function*() {
      expect(yield* get("/nowhere")).toMatchObject({ status: 404 })
      expect(JSON.parse((yield* get("/openai/v1/models/%ZZ")).body).error.code).toBe("unknown_route")
      const wrong = yield* Effect.promise(() => handler(new Request("http://x/openai/v1/chat/completions")))
      expect(wrong.status).toBe(405)
      expect(yield* get("/openai/v1/ok")).toMatchObject({ status: 200, body: "ok" })
    }))

  it.effect("a long unknown path is quoted back only in part", () =>
    Effect.gen(function*() {
      for (const path of [`/${"a".repeat(10_000)}`, `/v1/${"b".repeat(10_000)}`]) {
        const { message } = JSON.parse((yield* get(path)).body).error
        expect(message.length).toBeLessThan(600)
        expect(message).toContain(`${path.slice(0, 200)}… (${path.length - 200} more characters)`)
      }
    }))

  it.effect("a streamed body is masked, and what its pulls log or note belongs to its request", () =>
    Effect.gen(function*() {
      logged.length = 0
      const res = yield* get("/openai/v1/stream", { authorization: "Bearer caller-token-0001", "x-request-id": "req-s1" })
      expect(res.body).toBe("data: ***\n\n")
      const midStream = logged.find((l) => JSON.stringify(l.message).includes("mid-stream"))
      expect(midStream?.annotations).toMatchObject({ request_id: "req-s1" })
      expect(midStream?.secrets).toContain("caller-token-0001")
      // the access log line, written in the turn after the stream ended, has what the stream noted
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      const access = logged.find((l) => l.annotations["request_id"] === "req-s1" && l.annotations["provider"] !== undefined)
      expect(access?.annotations["provider"]).toBe("noted")
    }))

  it("presentable masks the caller's raw credentials and bounds long messages", () => {
    const present = presentable(makeRedactor(), callerSecretsOf({ "x-api-key": " raw-caller-key-1 " }))
    const shown = present(gatewayError("invalid_request", `bad raw-caller-key-1 ${"x".repeat(5000)}`))
    expect(shown.message.startsWith("bad *** xxx")).toBe(true)
    expect(shown.message.length).toBeLessThan(2100)
  })
})
