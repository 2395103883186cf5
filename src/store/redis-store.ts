/**
 * The response store in Redis (--redis-url), shared by every replica. ioredis is loaded only here,
 * when this layer is built. Startup neither waits for Redis nor fails without it: the client connects
 * in the background and reconnects by itself. A request never waits on a Redis that is away: commands
 * are not queued while disconnected and time out after `commandTimeout`, and every failure is the
 * retryable 503 of `storeUnavailable`. The log says so once per outage, and once when it is back,
 * naming the server without its credentials.
 *
 * Keys: `orka:response:<owner digest>:<id>` holds the stored JSON; `orka:item:<owner digest>:<item
 * id>` the id of the newest response holding that item. Both expire together (PX). A turn kept
 * beside a client's tool call is `orka:turn:<owner digest>:<call id>`.
 */
import { Effect, Option, type Scope } from "effect"
import type { GatewayError } from "../errors.ts"
import { Redactor } from "../redact.ts"
import { findItem, type Item, itemsOf, jsonBytes, logTooLarge, ownerDigest, type ResponseStoreShape, type StoreLimits, type StoredResponse, storeUnavailable } from "./stored.ts"

export interface RedisStoreOptions extends StoreLimits {
  /** `redis://[:password@]host:port[/db]`, `rediss://` for TLS */
  readonly url: string
  /** milliseconds a command may take before it fails; default 1500 */
  readonly commandTimeout?: number
}

const responseKey = (digest: string, id: string) => `orka:response:${digest}:${id}`
const itemKey = (digest: string, itemId: string) => `orka:item:${digest}:${itemId}`
const turnKey = (digest: string, callId: string) => `orka:turn:${digest}:${callId}`

/** Drops the item keys (KEYS) that still point to the removed response (ARGV[1]), not those a newer one took over. */
const dropItemsScript = "for _, key in ipairs(KEYS) do if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end end return 0"

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

const parse = <A = StoredResponse>(json: string | null): A | undefined => {
  if (json === null) return undefined
  try {
    return JSON.parse(json) as A
  } catch {
    return undefined
  }
}

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!

export const makeRedisStore = (options: RedisStoreOptions): Effect.Effect<ResponseStoreShape, never, Scope.Scope> =>
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
      run(Effect.logWarning("the response store (Redis) is unavailable: requests that need it get 503 until it is back").pipe(
        Effect.annotateLogs({ redis, error: describe(error) })
      ))
    }
    const cameBack = () => {
      if (!down) return
      down = false
      run(Effect.logInfo("the response store (Redis) is available again").pipe(Effect.annotateLogs({ redis })))
    }

    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(options.url, {
          enableOfflineQueue: false,
          commandTimeout: options.commandTimeout ?? 1500,
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
    const call = <A>(command: () => Promise<A>): Effect.Effect<A, GatewayError> =>
      Effect.tryPromise({ try: command, catch: (e) => e }).pipe(
        Effect.tap(() => Effect.sync(cameBack)),
        Effect.catch((e) => Effect.sync(() => failed(e)).pipe(Effect.andThen(Effect.fail(storeUnavailable()))))
      )

    return {
      put: (owner, stored) => Effect.suspend(() => {
        const id = stored.response.id
        const json = JSON.stringify(stored)
        const bytes = jsonBytes(json)
        if (bytes > options.maxBytes) return logTooLarge(id, bytes, options.maxBytes)
        const ttl = Math.round(options.ttl)
        if (ttl <= 0) return Effect.void
        const digest = ownerDigest(owner)
        return call(() => {
          const transaction = client.multi().set(responseKey(digest, id), json, "PX", ttl)
          for (const [itemId] of itemsOf(stored)) transaction.set(itemKey(digest, itemId), id, "PX", ttl)
          return transaction.exec()
        }).pipe(
          Effect.flatMap((results) => {
            const error = results === null ? new Error("transaction discarded") : results.find(([e]) => e !== null)?.[0]
            return error === undefined ? Effect.void : Effect.sync(() => failed(error)).pipe(Effect.andThen(Effect.fail(storeUnavailable())))
          })
        )
      }),
      get: (owner, id) => call(() => client.get(responseKey(ownerDigest(owner), id))).pipe(Effect.map(parse)),
      remove: (owner, id) => {
        const digest = ownerDigest(owner)
        return call(() => client.getdel(responseKey(digest, id))).pipe(
          Effect.flatMap((json) => {
            if (json === null) return Effect.succeed(false)
            const stored = parse(json)
            const keys = stored === undefined ? [] : itemsOf(stored).map(([itemId]) => itemKey(digest, itemId))
            if (keys.length === 0) return Effect.succeed(true)
            // the response is gone already; item keys left behind by a failure here expire with it
            return call(() => client.eval(dropItemsScript, keys.length, ...keys, id)).pipe(Effect.ignore, Effect.as(true))
          })
        )
      },
      item: (owner, itemId) => {
        const digest = ownerDigest(owner)
        return call(() => client.get(itemKey(digest, itemId))).pipe(
          Effect.flatMap((id) => id === null ? Effect.succeed(undefined) : call(() => client.get(responseKey(digest, id)))),
          Effect.map((json) => {
            const stored = json === undefined ? undefined : parse(json)
            return stored === undefined ? undefined : findItem(stored, itemId)
          })
        )
      },
      keepTurn: (owner, clientCallIds, turn) => {
        const ttl = Math.round(options.ttl)
        if (ttl <= 0 || clientCallIds.length === 0) return Effect.void
        const digest = ownerDigest(owner)
        const json = JSON.stringify(turn)
        return call(() => {
          const pipeline = client.multi()
          for (const id of clientCallIds) pipeline.set(turnKey(digest, id), json, "PX", ttl)
          return pipeline.exec()
        }).pipe(Effect.asVoid)
      },
      keptTurns: (owner, clientCallIds) => {
        if (clientCallIds.length === 0) return Effect.succeed(new Map())
        const digest = ownerDigest(owner)
        return call(() => client.mget(...clientCallIds.map((id) => turnKey(digest, id)))).pipe(
          Effect.map((found) =>
            new Map(found.flatMap((json, i) => {
              const turn = parse<Item>(json)
              return turn === undefined ? [] : [[clientCallIds[i]!, turn] as const]
            }))
          )
        )
      }
    } satisfies ResponseStoreShape
  })
