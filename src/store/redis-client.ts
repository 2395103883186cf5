/**
 * One connection to the Redis of --redis-url, for one use (stored responses, limit counters). ioredis
 * is loaded only when one is made. Making it neither waits for Redis nor fails without it: the client
 * connects in the background and reconnects by itself. A request never waits on a Redis that is
 * away: commands are not queued while disconnected and time out after `commandTimeout`. The log says
 * so once per outage, and once when it is back, naming the server without its credentials.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Redis } from "ioredis"
import { Redactor } from "../redact.ts"

export interface RedisConnectionOptions {
  /** `redis://[:password@]host:port[/db]`, `rediss://` for TLS */
  readonly url: string
  /** milliseconds a command may take before it fails */
  readonly commandTimeout: number
  /** the warning logged when an outage starts, and the line when it ends */
  readonly down: string
  readonly back: string
}

export interface RedisConnection {
  readonly client: Redis
  /** a command; a failure (the server away, a timeout) is logged once per outage and fails with its cause */
  readonly call: <A>(command: () => Promise<A>) => Effect.Effect<A, unknown>
}

/** The URL as it may be logged. */
export const withoutCredentials = (url: string): string => {
  try {
    const parsed = new URL(url)
    parsed.username = ""
    parsed.password = ""
    return parsed.toString()
  } catch {
    return "(the configured --redis-url)"
  }
}

const passwordOf = (url: string): string | undefined => {
  try {
    return decodeURIComponent(new URL(url).password) || undefined
  } catch {
    return undefined
  }
}

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!

export const connectRedis = (options: RedisConnectionOptions): Effect.Effect<RedisConnection, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { Redis } = yield* Effect.promise(() => import("ioredis"))
    const redis = withoutCredentials(options.url)
    const redactor = yield* Effect.serviceOption(Redactor)
    if (Option.isSome(redactor)) redactor.value.register("redis", [passwordOf(options.url)])
    const run = Effect.runForkWith(yield* Effect.context<never>())

    // ioredis reports every failed reconnect attempt: only the change between available and not is logged
    let down = false
    const wentDown = (error: unknown) => {
      if (down) return
      down = true
      run(Effect.logWarning(options.down).pipe(Effect.annotateLogs({ redis, error: describe(error) })))
    }
    const cameBack = () => {
      if (!down) return
      down = false
      run(Effect.logInfo(options.back).pipe(Effect.annotateLogs({ redis })))
    }

    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(options.url, {
          enableOfflineQueue: false,
          commandTimeout: options.commandTimeout,
          // a command in flight when the connection drops fails at once rather than waiting for the next one
          maxRetriesPerRequest: 0,
          retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
          connectTimeout: 5000
        })
        client.on("error", wentDown)
        client.on("ready", cameBack)
        return client
      }),
      (client) => Effect.sync(() => client.disconnect())
    )

    // while disconnected, the connection's own errors say why; a command failing on a live connection
    // (timed out, refused) is the news
    const failed = (error: unknown) => {
      if (client.status === "ready") wentDown(error)
    }
    // right after start, a command waits for the first connection attempt (at most its timeout) rather than failing at once
    let attempted = false
    const firstAttempt = new Promise<void>((resolve) => {
      client.once("ready", () => resolve())
      client.once("error", () => resolve())
    }).then(() => void (attempted = true))
    const connection = () =>
      attempted ? undefined : Promise.race([firstAttempt, new Promise<void>((resolve) => setTimeout(resolve, options.commandTimeout).unref())])
    const call = <A>(command: () => Promise<A>): Effect.Effect<A, unknown> =>
      Effect.tryPromise({ try: () => connection()?.then(command) ?? command(), catch: (e) => e }).pipe(
        Effect.tap(() => Effect.sync(cameBack)),
        Effect.tapError((e) => Effect.sync(() => failed(e)))
      )
    return { client, call }
  })
