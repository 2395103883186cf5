/**
 * The gateway's HTTP client for providers: undici's Agent, which keeps a pool of keep-alive
 * connections per origin, and a dispatch handler of the gateway's own that takes each answer.
 * Undici's timers keep both time limits (the response headers within `--upstream-timeout`, and no
 * silence in a body longer than `--stream-idle-timeout`), so no timer is set per request or reset
 * per chunk. An interrupted request is aborted; a body read to its end,
 * or left just before it, leaves its connection to the pool.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Readable } from "node:stream"
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

type ParsedHeaders = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const headersOf = (parsed: ParsedHeaders): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const name in parsed) {
    const value = parsed[name]
    if (value !== undefined) headers[name] = typeof value === "string" ? value : value.join(", ")
  }
  return headers
}

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

/** What a body holds before its reader is chosen; past it the provider's connection waits. */
const heldBeforeRead = 64 * 1024

/** The body as a Node stream: the provider's connection pauses while the reader is full. */
class BodyStream extends Readable {
  readonly exchange: Exchange
  constructor(exchange: Exchange) {
    super()
    this.exchange = exchange
  }
  override _read(): void {
    this.exchange.controller?.resume()
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.exchange.abort()
    callback(error)
  }
}

/**
 * One request to a provider, as undici's dispatch handler: the answer's headers resume the caller,
 * and its body is kept until it is read one way (whole, or as a Node stream). A whole answer is
 * collected as it comes, without a stream or a promise in between.
 */
class Exchange implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined
  ended = false
  private started: ((result: Effect.Effect<PoolResponse, HttpFailure>) => void) | undefined
  private interrupted = false
  private chunks: Array<Buffer> = []
  private held = 0
  private error: Error | undefined
  private reader: BodyStream | undefined
  private wholeWanted: ((result: Effect.Effect<Buffer, HttpFailure>) => void) | undefined

  constructor(started: (result: Effect.Effect<PoolResponse, HttpFailure>) => void) {
    this.started = started
  }

  /** The provider's request dropped, if it is still under way. */
  abort(): void {
    if (this.ended || this.error !== undefined) return
    this.interrupted = true
    this.controller?.abort(new Error("the request was left"))
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    // interrupted while it waited for a connection
    if (this.interrupted) controller.abort(new Error("the request was left"))
  }

  onResponseStart(_: Dispatcher.DispatchController, status: number, headers: ParsedHeaders): void {
    const resume = this.started!
    this.started = undefined
    resume(Effect.succeed(this.response(status, headersOf(headers))))
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.reader !== undefined) {
      if (!this.reader.push(chunk)) controller.pause()
      return
    }
    this.chunks.push(chunk)
    this.held += chunk.length
    if (this.wholeWanted === undefined && this.held >= heldBeforeRead) controller.pause()
  }

  onResponseEnd(): void {
    this.ended = true
    if (this.reader !== undefined) this.reader.push(null)
    else if (this.wholeWanted !== undefined) this.wholeWanted(Effect.succeed(this.joined()))
  }

  onResponseError(_: Dispatcher.DispatchController, error: Error): void {
    if (this.started !== undefined) {
      const resume = this.started
      this.started = undefined
      return resume(Effect.fail(failureOf(error)))
    }
    this.error = error
    if (this.reader !== undefined) this.reader.destroy(error)
    else if (this.wholeWanted !== undefined) this.wholeWanted(Effect.fail(failureOf(error)))
  }

  private joined(): Buffer {
    const chunks = this.chunks
    this.chunks = []
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  }

  private readWhole(): Effect.Effect<Buffer, HttpFailure> {
    return Effect.callback<Buffer, HttpFailure>((resume) => {
      if (this.error !== undefined) return resume(Effect.fail(failureOf(this.error)))
      if (this.ended) return resume(Effect.succeed(this.joined()))
      this.wholeWanted = resume
      this.controller?.resume()
      return Effect.sync(() => this.abort())
    })
  }

  private readable(): BodyStream {
    if (this.reader !== undefined) return this.reader
    const reader = new BodyStream(this)
    this.reader = reader
    for (const chunk of this.chunks) reader.push(chunk)
    this.chunks = []
    if (this.error !== undefined) reader.destroy(this.error)
    else if (this.ended) reader.push(null)
    return reader
  }

  // the body's readers are made when one is asked for: a response is read one way only
  private response(status: number, headers: Record<string, string>): PoolResponse {
    const exchange = this
    return {
      status,
      headers,
      get stream() {
        const body = exchange.readable()
        return NodeStream.fromReadable({ evaluate: () => body, onError: failureOf, closeOnDone: false }).pipe(
          Stream.ensuring(Effect.sync(() => releaseBody(body)))
        )
      },
      get node() {
        return exchange.readable()
      },
      get whole() {
        return exchange.readWhole()
      }
    }
  }
}

// a Provider's few URLs, each parsed once (a URL parse is a few µs of every request)
const targets = new Map<string, { readonly origin: string; readonly path: string }>()
const target = (url: string) => {
  let split = targets.get(url)
  if (split === undefined) {
    const { origin, pathname, search } = new URL(url)
    if (targets.size >= 1000) targets.clear()
    targets.set(url, split = { origin, path: pathname + search })
  }
  return split
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
          const exchange = new Exchange(resume)
          const { origin, path } = target(url)
          agent.dispatch({ origin, path, method: "POST", headers, body }, exchange)
          return Effect.sync(() => exchange.abort())
        })
    })
  )
