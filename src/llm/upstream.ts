/**
 * The one way the gateway talks to a provider over HTTP: a JSON POST that is retried on transient
 * failures (429, 5xx, 529, connection errors) with exponential backoff and jitter, honoring
 * `retry-after`, and whose failures become GatewayErrors with the status a client should see.
 *
 * Retries happen only here, before a response is handed to the caller, so nothing has reached the
 * client yet. A caller that is interrupted (client gone) aborts the request in flight. A call starts
 * once its request is admitted under its limits (`awaitAdmission`), checked while it was prepared.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import * as Sse from "effect/encoding/Sse"
import { GatewayConfig } from "../config.ts"
import { GatewayError, gatewayError } from "../errors.ts"
import { isJsonObject, readJson } from "../json.ts"
import { labelled, metrics } from "../metrics.ts"
import { ProviderHealth } from "../providers/health.ts"
import { CallerSecrets, headerSecrets, Redactor } from "../redact.ts"
import { awaitAdmission, CurrentRequest } from "../request-note.ts"
import { annotateUpstreamStatus, traceHeaders, upstreamAttemptSpan } from "../tracing.ts"
import type { Readable } from "node:stream"
import { failureOf, type HttpFailure, makeHttpPool, type PoolResponse, releaseBody } from "./http-pool.ts"

export interface UpstreamCall {
  /** the Provider's name, used in error messages */
  readonly provider: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** JSON text */
  readonly body: string
  /** what a 2xx answer must be: one JSON document, or an event stream */
  readonly expect: "json" | "sse"
  /** the Provider's type and the model sent, for the attempt's span */
  readonly providerType?: string | undefined
  readonly model?: string | undefined
}

/** A response body as a Node stream, with what its failures mean to a client and how to let it go. */
export interface NodeBody {
  readonly readable: Readable
  /** an `error` event of `readable`, as the client should hear of it */
  readonly failure: (error: unknown) => GatewayError
  /** once left: a body near its end is read to it (keeping the connection), any other dropped */
  readonly release: () => void
}

/** A whole JSON answer: its bytes as the provider sent them, and what they parse to. */
export interface WholeAnswer {
  readonly bytes: Uint8Array
  readonly value: unknown
}

export interface UpstreamShape {
  /** Resolves with a 2xx response once its headers arrive; its body is not read. */
  readonly send: (call: UpstreamCall) => Effect.Effect<PoolResponse, GatewayError>
  /** The response body as a Node stream, for a relay of Node streams: it fails after `--stream-idle-timeout` of silence. */
  readonly nodeBody: (provider: string, response: PoolResponse) => NodeBody
  /** The response body as SSE events (same idle limit). */
  readonly events: (provider: string, response: PoolResponse) => Stream.Stream<Sse.Event, GatewayError>
  /**
   * The response body read whole and checked: complete JSON (a body cut short fails), not nested
   * too deeply, and not an error envelope sent with a 2xx status.
   */
  readonly whole: (provider: string, response: PoolResponse) => Effect.Effect<WholeAnswer, GatewayError>
  /** `whole`, parsed. */
  readonly json: (provider: string, response: PoolResponse) => Effect.Effect<unknown, GatewayError>
}

const errorBodyLimit = 64 * 1024

/** `retry-after` (seconds or an HTTP date) or `retry-after-ms`, in milliseconds. */
export const retryAfterMillis = (headers: Readonly<Record<string, string | undefined>>, now = Date.now()): number | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined && Number.isFinite(Number(ms))) return Math.max(0, Number(ms))
  const value = headers["retry-after"]
  if (value === undefined) return undefined
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** The provider's own error message, from either the OpenAI or the Anthropic envelope. */
export const upstreamMessage = (body: string): string | undefined => {
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown }
    if (typeof json.error === "string") return json.error
    if (typeof json.error?.message === "string") return json.error.message
    if (typeof json.message === "string") return json.message
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = body.trim().slice(0, 500)
  return text === "" ? undefined : text
}

/** What a 2xx answer that is not an answer looks like to the caller: a 502 naming the provider. */
export const notAnAnswer = (provider: string, status: number, contentType: string, body: string, expected: UpstreamCall["expect"]): GatewayError => {
  const wanted = expected === "sse" ? "an event stream" : "a JSON answer"
  const what = /html/i.test(contentType) || /^\s*</.test(body)
    ? `an HTML page instead of ${wanted}; check the Provider's spec.baseURL`
    : `${contentType === "" ? "a body without a content type" : contentType} instead of ${wanted}: ${upstreamMessage(body) ?? "(empty)"}`
  return gatewayError("upstream", `provider ${provider} answered HTTP ${status} with ${what}`, { code: "upstream_invalid_response" })
}

/** A JSON answer that is an error envelope (some servers send those with a 200), as the caller's 502. */
export const errorInAnswer = (provider: string, value: unknown): GatewayError | undefined => {
  if (!isJsonObject(value)) {
    return gatewayError("upstream", `provider ${provider} answered with JSON that is not an object`, { code: "upstream_invalid_response" })
  }
  const json = value
  const isError = json["type"] === "error" || (json["error"] !== undefined && json["error"] !== null && json["choices"] === undefined && json["content"] === undefined)
  if (!isError) return undefined
  const message = upstreamMessage(JSON.stringify(json)) ?? "an error"
  return gatewayError("upstream", `provider ${provider} answered with an error: ${message}`, { code: "upstream_error" })
}

/** Maps a provider's error status to what the gateway's caller should see, and whether a retry may help. */
export const statusFailure = (
  provider: string,
  status: number,
  body: string,
  retryAfterMs: number | undefined
): GatewayError => {
  const detail = upstreamMessage(body)
  const said = (fallback: string) => `provider ${provider}: ${detail ?? fallback} (upstream HTTP ${status})`
  const retryAfter = retryAfterMs === undefined ? {} : { retryAfter: Math.ceil(retryAfterMs / 1000) }
  if (status === 401 || status === 403) {
    return gatewayError("upstream", `provider ${provider} rejected the gateway's credentials (upstream HTTP ${status}); check the Provider's Secret`, {
      code: "upstream_authentication_failed"
    })
  }
  if (status === 404) return gatewayError("not_found", said("not found"), { code: "model_not_found" })
  if (status === 413) return gatewayError("request_too_large", said("request too large"))
  if (status === 408) return gatewayError("timeout", said("request timeout"))
  if (status === 429) return gatewayError("rate_limit", said("rate limited"), retryAfter)
  if (status === 503 || status === 529) return gatewayError("overloaded", said("overloaded"), retryAfter)
  if (status === 504) return gatewayError("timeout", said("gateway timeout"))
  if (status >= 500) return gatewayError("upstream", said("server error"), { retryable: true })
  return gatewayError("invalid_request", said("bad request"), status === 400 || status === 422 ? {} : { status })
}

/** Whether a 2xx response's content type fits what the call expects (none at all is given the benefit of the doubt). */
const answersAs = (expect: UpstreamCall["expect"], contentType: string): boolean =>
  contentType === "" || (expect === "sse" ? /text\/event-stream/i.test(contentType) : /json/i.test(contentType))


/** At most `limit` bytes of a body, as text; a body that never ends must not hold the request. */
const readStart = (response: PoolResponse, limit: number): Effect.Effect<string> =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    return response.stream.pipe(
      Stream.takeWhile((chunk) => {
        if (size >= limit) return false
        chunks.push(chunk)
        size += chunk.length
        return true
      }),
      Stream.runDrain,
      Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.void }),
      Effect.orElseSucceed(() => undefined),
      Effect.map(() => Buffer.concat(chunks).subarray(0, limit).toString("utf8"))
    )
  })

export class Upstream extends Context.Service<Upstream, UpstreamShape>()("orka/Upstream") {
  static readonly make = Effect.gen(function*() {
    const config = yield* GatewayConfig
    const health = yield* ProviderHealth
    const redactor = yield* Redactor
    const upstreamAttempts = labelled(metrics.upstreamAttempts)
    const upstreamRetries = labelled(metrics.upstreamRetries)
    const pool = yield* makeHttpPool({ headersTimeout: config.upstreamTimeout, bodyTimeout: config.streamIdleTimeout })

    /** Counted by the provider's status (`error` when none came), and in the request's note. */
    const counted = (provider: string, status: string) =>
      Effect.flatMap(CurrentRequest, (current) => {
        if (current !== undefined) current.note.attempts = (current.note.attempts ?? 0) + 1
        return Metric.update(upstreamAttempts({ orka_provider: provider, status }), 1)
      })

    const attempt = (call: UpstreamCall, n: number): Effect.Effect<PoolResponse, GatewayError> =>
      Effect.flatMap(CallerSecrets, (secrets) => traceHeaders(config.traceToProviders).pipe(
        Effect.flatMap((trace) => pool.post(call.url, { "content-type": "application/json", ...call.headers, ...trace }, call.body)),
        Effect.tapError(() => counted(call.provider, "error")),
        Effect.tap((response) => Effect.andThen(counted(call.provider, String(response.status)), annotateUpstreamStatus(response.status))),
        Effect.mapError((failure) =>
          failure.reason === "headers_timeout"
            // the whole wait is spent: trying again would double it
            ? gatewayError("timeout", `provider ${call.provider} did not answer within ${config.upstreamTimeout / 1000}s`, { retryable: false })
            : gatewayError("upstream", `could not reach provider ${call.provider}: ${failure.detail}`, { retryable: true })
        ),
        Effect.flatMap((response) => {
          // whatever the provider sent back is masked before any of it is kept: it may echo the request
          const body = readStart(response, errorBodyLimit).pipe(Effect.map((text) => redactor.mask(text, headerSecrets(call.headers))))
          if (response.status >= 200 && response.status < 300) {
            const contentType = response.headers["content-type"] ?? ""
            if (answersAs(call.expect, contentType)) {
              health.succeeded(call.provider)
              return Effect.succeed(response)
            }
            return Effect.flatMap(body, (text) => Effect.fail(notAnAnswer(call.provider, response.status, contentType, text, call.expect)))
          }
          if (response.status === 401 || response.status === 403) health.authFailed(call.provider, response.status)
          return Effect.flatMap(body, (text) => Effect.fail(statusFailure(call.provider, response.status, text, retryAfterMillis(response.headers))))
        }),
        upstreamAttemptSpan({
          provider: call.provider,
          providerType: call.providerType,
          model: call.model,
          shown: (model) => redactor.mask(model, secrets),
          url: call.url,
          attempt: n + 1
        })
      ))

    const send = (call: UpstreamCall) => {
      const loop = (n: number): Effect.Effect<PoolResponse, GatewayError> =>
        attempt(call, n).pipe(Effect.catch((error) => {
          if (!error.retryable || n >= config.upstreamRetries) return Effect.fail(error)
          const backoff = 250 * 2 ** n * (0.8 + Math.random() * 0.4)
          const asked = error.retryAfter === undefined ? 0 : error.retryAfter * 1000
          const wait = Math.max(backoff, asked)
          if (wait > config.retryMaxWait) return Effect.fail(error)
          const retried = Metric.update(upstreamRetries({ orka_provider: call.provider, reason: error.kind }), 1)
          return retried.pipe(Effect.andThen(Effect.sleep(wait)), Effect.andThen(loop(n + 1)))
        }))
      // the request's limits, checked while it was prepared, must have admitted it first
      return Effect.andThen(awaitAdmission, loop(0))
    }

    const broke = (provider: string) => (failure: HttpFailure) =>
      failure.reason === "body_timeout"
        ? gatewayError("timeout", `provider ${provider} sent nothing for ${config.streamIdleTimeout / 1000}s`)
        : gatewayError("upstream", `the connection to provider ${provider} broke mid-response`)

    const body = (provider: string, response: PoolResponse) => Stream.mapError(response.stream, broke(provider))

    const nodeBody = (provider: string, { node }: PoolResponse): NodeBody => ({
      readable: node,
      failure: (error) => broke(provider)(failureOf(error)),
      release: () => releaseBody(node)
    })

    const events = (provider: string, response: PoolResponse) =>
      body(provider, response).pipe(
        Stream.decodeText,
        Stream.pipeThroughChannel(Sse.decode()),
        Stream.mapError((e) =>
          e._tag === "GatewayError" ? e : gatewayError("upstream", `provider ${provider} sent a malformed event stream`))
      )

    const whole = (provider: string, response: PoolResponse) =>
      response.whole.pipe(
        Effect.mapError(broke(provider)),
        Effect.flatMap((bytes): Effect.Effect<WholeAnswer, GatewayError> => {
          const read = readJson(bytes.toString("utf8"), config.maxJsonDepth)
          if (!read.ok) {
            const what = read.problem === "depth" ? `JSON ${read.message}` : "incomplete or invalid JSON"
            return Effect.fail(gatewayError("upstream", `provider ${provider} answered with ${what}`, { code: "upstream_invalid_response" }))
          }
          const problem = errorInAnswer(provider, read.value)
          if (problem !== undefined) return Effect.fail(new GatewayError({ ...problem, message: redactor.mask(problem.message) }))
          return Effect.succeed({ bytes, value: read.value })
        })
      )

    const json = (provider: string, response: PoolResponse) =>
      Effect.map(whole(provider, response), (answer) => answer.value)

    return Upstream.of({ send, nodeBody, events, whole, json })
  })

  /** Needs GatewayConfig, ProviderHealth and a Redactor; holds the connection pool. */
  static readonly layer = Layer.effect(Upstream, Upstream.make)
}
