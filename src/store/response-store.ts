/**
 * The store behind the Responses API's `store: true` and `previous_response_id`: each response kept
 * under its owner (the caller's identity), for --response-store-ttl. Keys hold a digest of the
 * owner, and another owner is answered as for an unknown id: no caller can read, list or delete
 * another's responses, or learn that they exist. In memory by default (one replica); in Redis with
 * --redis-url, shared by every replica.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GatewayConfig } from "../config.ts"
import { makeMemoryStore } from "./memory-store.ts"
import { makeRedisStore, type RedisStoreOptions } from "./redis-store.ts"
import type { ResponseStoreShape, StoreLimits } from "./stored.ts"

export type { Item, ResponseStoreShape, StoredResponse, StoreLimits } from "./stored.ts"
export type { RedisStoreOptions } from "./redis-store.ts"

export class ResponseStore extends Context.Service<ResponseStore, ResponseStoreShape>()("orka/ResponseStore") {
  static readonly layerMemory = (limits: StoreLimits) => Layer.effect(ResponseStore, makeMemoryStore(limits))
  /** connects in the background: building it neither waits for Redis nor fails without it */
  static readonly layerRedis = (options: RedisStoreOptions) => Layer.effect(ResponseStore, makeRedisStore(options))
  /** Redis with --redis-url, else memory */
  static readonly layer = Layer.unwrap(Effect.gen(function*() {
    const config = yield* GatewayConfig
    const limits = { ttl: config.responseStoreTtl, maxBytes: config.responseStoreMaxBytes }
    return config.redisUrl === undefined ? ResponseStore.layerMemory(limits) : ResponseStore.layerRedis({ ...limits, url: config.redisUrl })
  }))
}
