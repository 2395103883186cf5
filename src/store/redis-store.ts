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
import { type Command, type Reply, ReplyError } from "./resp.ts"
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

/** MULTI … EXEC: the commands applied together, or failed together. */
const inTransaction = (commands: ReadonlyArray<Command>): ReadonlyArray<Command> => [["MULTI"], ...commands, ["EXEC"]]

/** A transaction's replies: its EXEC's, or why it did not apply. */
const applied = (replies: ReadonlyArray<Reply>): Effect.Effect<void, ReplyError> => {
  const results = replies.at(-1)
  if (!Array.isArray(results)) return Effect.fail(results instanceof ReplyError ? results : new ReplyError("the transaction was discarded"))
  const failed = results.find((r) => r instanceof ReplyError)
  return failed === undefined ? Effect.void : Effect.fail(failed)
}

const text = (reply: Reply): string | null => (typeof reply === "string" ? reply : null)

export const makeRedisStore = (options: RedisStoreOptions): Effect.Effect<ResponseStoreShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const redis = yield* connectRedis({
      url: options.url,
      commandTimeout: options.commandTimeout ?? 1500,
      down: "the response store (Redis) is unavailable: requests that need it get 503 until it is back",
      back: "the response store (Redis) is available again"
    })
    const get = (key: string) => Effect.map(redis.command(["GET", key]), text).pipe(Effect.mapError(storeUnavailable))
    const transaction = (commands: ReadonlyArray<Command>) =>
      Effect.flatMap(redis.send(inTransaction(commands)), applied).pipe(Effect.mapError(storeUnavailable))
    const dropItems = redis.script(dropItemsScript)

    return {
      put: (owner, stored) => Effect.suspend(() => {
        const id = stored.response.id
        const json = JSON.stringify(stored)
        const bytes = jsonBytes(json)
        if (bytes > options.maxBytes) return logTooLarge(id, bytes, options.maxBytes)
        const ttl = Math.round(options.ttl)
        if (ttl <= 0) return Effect.void
        const digest = ownerDigest(owner)
        return transaction([
          ["SET", responseKey(digest, id), json, "PX", ttl],
          ...itemsOf(stored).map(([itemId]): Command => ["SET", itemKey(digest, itemId), id, "PX", ttl])
        ])
      }),
      get: (owner, id) => get(responseKey(ownerDigest(owner), id)).pipe(Effect.map(parse)),
      remove: (owner, id) => {
        const digest = ownerDigest(owner)
        return redis.command(["GETDEL", responseKey(digest, id)]).pipe(
          Effect.mapError(storeUnavailable),
          Effect.flatMap((json) => {
            if (typeof json !== "string") return Effect.succeed(false)
            const stored = parse(json)
            const keys = stored === undefined ? [] : itemsOf(stored).map(([itemId]) => itemKey(digest, itemId))
            if (keys.length === 0) return Effect.succeed(true)
            // the response is gone already; item keys left behind by a failure here expire with it
            return dropItems(keys, [id]).pipe(Effect.ignore, Effect.as(true))
          })
        )
      },
      item: (owner, itemId) => {
        const digest = ownerDigest(owner)
        return get(itemKey(digest, itemId)).pipe(
          Effect.flatMap((id) => id === null ? Effect.succeed(null) : get(responseKey(digest, id))),
          Effect.map((json) => {
            const stored = parse(json)
            return stored === undefined ? undefined : findItem(stored, itemId)
          })
        )
      },
      keepTurn: (owner, clientCallIds, turn) => {
        const ttl = Math.round(options.ttl)
        if (ttl <= 0 || clientCallIds.length === 0) return Effect.void
        const digest = ownerDigest(owner)
        const json = JSON.stringify(turn)
        return transaction(clientCallIds.map((id): Command => ["SET", turnKey(digest, id), json, "PX", ttl]))
      },
      keptTurns: (owner, clientCallIds) => {
        if (clientCallIds.length === 0) return Effect.succeed(new Map())
        const digest = ownerDigest(owner)
        return redis.command(["MGET", ...clientCallIds.map((id) => turnKey(digest, id))]).pipe(
          Effect.mapError(storeUnavailable),
          Effect.map((found) =>
            new Map((Array.isArray(found) ? found : []).flatMap((json, i) => {
              const turn = parse<Item>(text(json))
              return turn === undefined ? [] : [[clientCallIds[i]!, turn] as const]
            }))
          )
        )
      }
    } satisfies ResponseStoreShape
  })
