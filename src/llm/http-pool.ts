/**
 * The gateway's HTTP client for providers: undici's Agent, which keeps a pool of keep-alive
 * connections per origin. Its own timers keep both time limits (the response headers within
 * `--upstream-timeout`, and no silence in a body longer than `--stream-idle-timeout`), so no timer
 * is set per request or reset per chunk. An interrupted request is aborted; a body read to its end,
 * or left just before it, leaves its connection to the pool.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"
import { Agent, type Dispatcher } from "undici"

/** Why a request or its body failed: a time limit, or what the connection said (a code such as ECONNREFUSED). */
export class HttpFailure {
  readonly _tag = "HttpFailure"
  readonly reason: "headers_timeout" | "body_timeout" | "transport"
  readonly detail: string
  constructor(reason: HttpFailure["reason"], detail: string) {
    this.reason = reason
    this.detail = detail
  }
}

export interface PoolResponse {
  readonly status: number
  /** lower-case names; a repeated header's values joined with ", " */
  readonly headers: Readonly<Record<string, string>>
  /** the body as it arrives (read it once: whole, as a stream, or as `node`) */
  readonly stream: Stream.Stream<Uint8Array, HttpFailure>
  /** the body as undici's Node stream, for a relay of Node streams (`releaseBody` once it is left) */
  readonly node: Readable
  /** the body read whole */
  readonly whole: Effect.Effect<Buffer, HttpFailure>
}

export interface PoolLimits {
  /** milliseconds until the response headers must have arrived */
  readonly headersTimeout: number
  /** milliseconds a body may stay silent */
  readonly bodyTimeout: number
}

export interface HttpPool {
  readonly post: (url: string, headers: Readonly<Record<string, string>>, body: string) => Effect.Effect<PoolResponse, HttpFailure>
}

export const failureOf = (error: unknown): HttpFailure => {
  const code = (error as { code?: unknown; cause?: { code?: unknown } } | undefined)?.code
  if (code === "UND_ERR_HEADERS_TIMEOUT") return new HttpFailure("headers_timeout", "no response headers in time")
  if (code === "UND_ERR_BODY_TIMEOUT") return new HttpFailure("body_timeout", "the body went silent")
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code
  return new HttpFailure("transport", typeof cause === "string" ? cause : typeof code === "string" ? code : "connection failed")
}

const headersOf = (raw: Dispatcher.ResponseData["headers"]): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const name in raw) {
    const value = raw[name]
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return headers
}

/** The body whole; an interruption destroys it. */
const readWhole = (body: Readable): Effect.Effect<Buffer, HttpFailure> =>
  Effect.callback<Buffer, HttpFailure>((resume) => {
    const chunks: Array<Buffer> = []
    body.on("data", (chunk: Buffer) => chunks.push(chunk))
    body.once("end", () => resume(Effect.succeed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))))
    body.once("error", (error) => resume(Effect.fail(failureOf(error))))
    return Effect.sync(() => body.destroy())
  })

/** How long a body left before its end may take to get there before it is dropped. */
const drainMs = 100

/**
 * A body its reader left before the end: a stream left after its last event (whose end is already
 * on its way) is read to the end, which keeps the connection for the next request; one left midway
 * (the client went away) is dropped shortly after, which aborts the provider's generation.
 */
export const releaseBody = (body: Readable): void => {
  if (body.readableEnded || body.destroyed) return
  const timer = setTimeout(() => body.destroy(), drainMs)
  timer.unref()
  body.once("end", () => clearTimeout(timer))
  body.on("error", () => clearTimeout(timer))
  body.resume()
}

// the body's readers are made when one is asked for: a response is read one way only, and kept while it is
const responseOf = (data: Dispatcher.ResponseData): PoolResponse => {
  const body = data.body as unknown as Readable
  return {
    status: data.statusCode,
    headers: headersOf(data.headers),
    get stream() {
      return NodeStream.fromReadable({ evaluate: () => body, onError: failureOf, closeOnDone: false }).pipe(
        Stream.ensuring(Effect.sync(() => releaseBody(body)))
      )
    },
    node: body,
    get whole() {
      return readWhole(body)
    }
  }
}

/** An Agent for the scope's lifetime (its connections are closed with it). */
export const makeHttpPool = (limits: PoolLimits): Effect.Effect<HttpPool, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Agent({ headersTimeout: limits.headersTimeout, bodyTimeout: limits.bodyTimeout })),
      (agent) => Effect.promise(() => agent.destroy())
    ),
    (agent): HttpPool => ({
      post: (url, headers, body) =>
        Effect.callback<PoolResponse, HttpFailure>((resume) => {
          const controller = new AbortController()
          const { origin, pathname, search } = new URL(url)
          agent.request({ origin, path: pathname + search, method: "POST", headers, body, signal: controller.signal }).then(
            (data) => resume(Effect.succeed(responseOf(data))),
            (error) => resume(Effect.fail(failureOf(error)))
          )
          return Effect.sync(() => controller.abort())
        })
    })
  )
