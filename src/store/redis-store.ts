/**
 * The response store in Redis (--redis-url), shared by every replica, over its own connection
 * (./redis-client.ts: never waited on while Redis is away). Every failure is the retryable 503 of
 * `storeUnavailable`.
 *
 * Keys: `orka:response:<owner digest>:<id>` holds the stored JSON; `orka:item:<owner digest>:<item
 * id>` the id of the newest response holding that item. Both expire together (PX). A turn kept
 * beside a client's tool call is `orka:turn:<owner digest>:<call id>`.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { GatewayError } from "../errors.ts"
import { connectRedis } from "./redis-client.ts"
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

const parse = <A = StoredResponse>(json: string | null): A | undefined => {
  if (json === null) return undefined
  try {
    return JSON.parse(json) as A
  } catch {
    return undefined
  }
}

export const makeRedisStore = (options: RedisStoreOptions): Effect.Effect<ResponseStoreShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { call: command, client } = yield* connectRedis({
      url: options.url,
      commandTimeout: options.commandTimeout ?? 1500,
      down: "the response store (Redis) is unavailable: requests that need it get 503 until it is back",
      back: "the response store (Redis) is available again"
    })
    const call = <A>(run: () => Promise<A>): Effect.Effect<A, GatewayError> => Effect.mapError(command(run), storeUnavailable)

    return {
      put: (owner, stored) => Effect.suspend(() => {
        const id = stored.response.id
        const json = JSON.stringify(stored)
        const bytes = jsonBytes(json)
        if (bytes > options.maxBytes) return logTooLarge(id, bytes, options.maxBytes)
        const ttl = Math.round(options.ttl)
        if (ttl <= 0) return Effect.void
        const digest = ownerDigest(owner)
        return call(async () => {
          const transaction = client.multi().set(responseKey(digest, id), json, "PX", ttl)
          for (const [itemId] of itemsOf(stored)) transaction.set(itemKey(digest, itemId), id, "PX", ttl)
          const results = await transaction.exec()
          const error = results === null ? new Error("transaction discarded") : results.find(([e]) => e !== null)?.[0]
          if (error !== undefined) throw error
        })
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
