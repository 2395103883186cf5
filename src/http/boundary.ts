/**
 * What every request passes through, matched by a route or not: a request id, the caller's token
 * known to the log masking, every failure rendered as an error envelope of the caller's dialect
 * (by path: Anthropic's under /anthropic/, OpenAI's elsewhere), and the access log line.
 *
 * Nothing escapes it: a path no route takes (or the router cannot decode) is a 404 or 405, a typed
 * error its envelope, and a defect a 500 with only the request id in it. Every message shown is
 * masked (Provider, Tool and search keys, the caller's token) and bounded in length, and so is every
 * byte of every body, whole or streamed, whatever produced it (a provider's own events included).
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { GatewayError, gatewayError } from "../errors.ts"
import { byteMaskOnce, maskChunk, maskStream, withCallerSecrets } from "../mask-bytes.ts"
import { Activity } from "../memory.ts"
import { CallerSecrets, clampText, headerSecret, Redactor, type RedactorShape } from "../redact.ts"
import { GatewayConfig } from "../config.ts"
import { labelled, metrics } from "../metrics.ts"
import { CurrentRequest, type RequestNote } from "../request-note.ts"
import { attachNote, noteFailure, writeAccessLog } from "./access-log.ts"
import { inContextOf } from "./in-context.ts"
import { RelayBody } from "./relay-body.ts"
import { makeRequestMetrics } from "./request-metrics.ts"
import { noRoute } from "./fallback.ts"
import type { ClientDialect } from "../dialect/wire.ts"
import { errorResponse } from "./respond.ts"

/** The longest message an error envelope carries. */
export const maxMessageChars = 2000

export const dialectOf = (path: string): ClientDialect => (path.startsWith("/anthropic/") || path === "/anthropic" ? "anthropic" : "openai")

/** The credentials a caller sent, raw (the token may be malformed; it is masked all the same). */
export const callerSecretsOf = (headers: Readonly<Record<string, string | undefined>>): ReadonlyArray<string> =>
  [headers["authorization"], headers["x-api-key"]].flatMap((v) => (v === undefined || v.trim() === "" ? [] : [headerSecret(v), v.trim()]))

/** An error as a caller may see it: secrets masked, message and param bounded. */
export const presentable = (redactor: RedactorShape, secrets: ReadonlyArray<string>) => (e: GatewayError): GatewayError =>
  new GatewayError({
    ...e,
    message: clampText(redactor.mask(e.message, secrets), maxMessageChars),
    ...(e.param === undefined ? {} : { param: clampText(redactor.mask(e.param, secrets), 200) })
  })

/** A request id the client sent is echoed only when it is a short, printable token. */
const requestIdOf = (header: string | undefined): string =>
  header !== undefined && /^[\x21-\x7e]{1,128}$/.test(header) ? header : crypto.randomUUID()

const requestsInFlight = labelled(metrics.requestsInFlight)
const streamsInFlight = labelled(metrics.streamsInFlight)

/** The API's paths (not health, readiness or metrics): what the in-flight gauges count. */
const isApi = (path: string) => path.startsWith("/openai/") || path.startsWith("/anthropic/")

/** The client's wire format by path, as the metrics label it. */
const dialectName = (path: string) => (path.startsWith("/openai/v1/responses") ? "responses" : dialectOf(path))

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "completed" : Cause.hasInterruptsOnly(exit.cause) ? "client_closed" : "failed"

const isRouteNotFound = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "HttpServerError" &&
  (error as { reason?: { _tag?: unknown } }).reason?._tag === "RouteNotFound"

const serve = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  request: HttpServerRequest.HttpServerRequest,
  secrets: ReadonlyArray<string>
) =>
  Effect.gen(function*() {
    const redactor = yield* Redactor
    const activity = yield* Activity
    const record = yield* RequestMetrics
    const started = performance.now()
    const requestId = requestIdOf(request.headers["x-request-id"])
    const path = request.url.split("?")[0] ?? ""
    const dialect = dialectOf(path)
    const present = presentable(redactor, secrets)
    const note: RequestNote = {}
    attachNote(request, note)
    const current = { started, note, atEnd: [] as Array<() => void>, afterEnd: [] as Array<() => void> }
    const inFlight = isApi(path) ? requestsInFlight({ orka_dialect: dialectName(path) }) : undefined
    activity.begin()
    const context = yield* Effect.context<never>()
    inFlight?.modifyUnsafe(1, context)
    /**
     * The request is over: the hooks read what the note still needs and let its limits go at once
     * (a concurrency slot is free before the client sees the answer's end), then the log line and
     * the metrics follow in the next turn, once the answer's last bytes are out: the client does not
     * wait for them, and the next request on any connection is read in a later turn than this one.
     */
    const run = Effect.runForkWith(context)
    const ended = (status: number, outcome: string): void => {
      const durationMs = performance.now() - started
      try {
        for (const read of current.atEnd) read()
        for (const settle of current.afterEnd) settle()
      } finally {
        setImmediate(() =>
          run(writeAccessLog(request, { requestId, durationMs, status, outcome }).pipe(
            Effect.andThen(record(note, durationMs, outcome)),
            Effect.ensuring(Effect.sync(activity.end)),
            Effect.ensuring(Effect.sync(() => inFlight?.modifyUnsafe(-1, context)))
          ))
        )
      }
    }

    const answer = (error: GatewayError) => {
      const shown = present(error)
      noteFailure(request, shown)
      return errorResponse(dialect, shown)
    }
    const envelope = (cause: Cause.Cause<unknown>): Effect.Effect<HttpServerResponse.HttpServerResponse, unknown> => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
      const error = Cause.squash(cause)
      if (error instanceof GatewayError) return Effect.succeed(answer(error))
      if (isRouteNotFound(error)) return Effect.succeed(answer(noRoute(request)))
      return Effect.logError("request failed unexpectedly").pipe(
        Effect.annotateLogs({ request_id: requestId, error: redactor.mask(String(error).split("\n")[0] ?? "", secrets) }),
        Effect.as(answer(gatewayError("internal", `internal error (request ${requestId})`, { code: "internal_error" })))
      )
    }

    const response = yield* app.pipe(
      Effect.provideService(CurrentRequest, current),
      Effect.catchCause(envelope),
      // every line the request logs says which request it was
      Effect.annotateLogs({ request_id: requestId }),
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => ended(499, outcomeOf(exit))))
    )
    const withId = HttpServerResponse.setHeader(response, "x-request-id", requestId)
    const bytes = withCallerSecrets(byteMaskOnce(redactor.forms()), secrets)
    const body = response.body
    /** counted in the streams gauge until the returned function is called */
    const streamStarted = () => {
      const streaming = streamsInFlight({ orka_dialect: dialectName(path) })
      streaming.modifyUnsafe(1, context)
      return () => streaming.modifyUnsafe(-1, context)
    }
    if (body._tag === "Raw" && body.body instanceof RelayBody) {
      // a relay of Node streams (http/relay-body.ts): masked as it goes, over when it says so
      const streamEnded = streamStarted()
      body.body.maskWith(bytes)
      body.body.whenOver((outcome) => {
        streamEnded()
        ended(response.status, outcome)
      })
      return withId
    }
    if (body._tag !== "Stream") {
      ended(response.status, "completed")
      return body._tag === "Uint8Array" ? HttpServerResponse.setBody(withId, HttpBody.uint8Array(maskChunk(bytes, body.body), body.contentType)) : withId
    }
    const streamEnded = streamStarted()
    return HttpServerResponse.setBody(
      withId,
      HttpBody.stream(
        maskStream(bytes, body.stream).pipe(
          Stream.onExit((exit) => Effect.sync(() => {
            streamEnded()
            ended(response.status, outcomeOf(exit))
          })),
          // what the request's own fiber had, for every pull of the stream
          inContextOf((context) =>
            context.pipe(
              Context.add(References.CurrentLogAnnotations, { request_id: requestId }),
              Context.add(CallerSecrets, secrets),
              Context.add(CurrentRequest, current)
            ))
        ),
        body.contentType
      )
    )
  })

/** The chat requests' metrics, one recorder per app (its caller cap is the app's). */
export class RequestMetrics extends Context.Service<RequestMetrics, ReturnType<typeof makeRequestMetrics>>()("orka/RequestMetrics") {
  static readonly layer = Layer.effect(RequestMetrics, Effect.map(GatewayConfig, (config) => makeRequestMetrics(config.metricsMaxCallers)))
}

export const Boundary = HttpRouter.middleware((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const secrets = callerSecretsOf(request.headers)
    return yield* serve(app, request, secrets).pipe(Effect.provideService(CallerSecrets, secrets))
  }), { global: true })
