/**
 * The counters behind rate limits, budgets and concurrency limits, as one atomic step per request:
 * every counter and slot of a request is checked and, when all have room, charged together, so two
 * replicas never both take the last unit. In memory by default (one replica: each replica counts
 * alone); in Redis with --redis-url (one Lua script per step), shared by every replica.
 *
 * A counter counts within one period (a minute's window, a UTC day or month): its key names the
 * period and expires when it ends. A slot set holds the requests in flight under a short lease that
 * their replica renews while they last, so a replica that dies mid-request frees its slots soon.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GatewayConfig } from "../config.ts"
import { makeMemoryCounters } from "./memory-counters.ts"
import { makeRedisCounters } from "./redis-counters.ts"

export interface Counter {
  /** unique to the limit and its period */
  readonly key: string
  readonly limit: number
  /** what the request adds (1 request, or its estimated tokens) */
  readonly cost: number
  /** when the period ends (ms since the epoch): the count is forgotten then */
  readonly resetAt: number
}

export interface Slot {
  readonly key: string
  readonly limit: number
  /** this request's own id in the set */
  readonly holder: string
  /** when the slot frees itself if the request never says it ended (ms since the epoch) */
  readonly leaseUntil: number
}

export interface Charge {
  /** every counter was under its limit and every slot set had room: all were charged */
  readonly admitted: boolean
  /** each counter's count after the charge (before it, when not admitted), in order */
  readonly used: ReadonlyArray<number>
  /** each slot set's requests in flight, this one included when admitted */
  readonly held: ReadonlyArray<number>
}

export interface Settlement {
  /** added to counters still in their period (negative: given back); a count never goes below 0 */
  readonly adjust: ReadonlyArray<{ readonly key: string; readonly delta: number }>
  readonly release: ReadonlyArray<{ readonly key: string; readonly holder: string }>
}

/** The counters could not be read or written (Redis away, or too slow). */
export class CountersUnavailable extends Data.TaggedError("CountersUnavailable")<{ readonly reason: string }> {}

export interface LimitCountersShape {
  /** a counter admits while its count is under its limit; a request's cost may take it past */
  readonly charge: (now: number, counters: ReadonlyArray<Counter>, slots: ReadonlyArray<Slot>) => Effect.Effect<Charge, CountersUnavailable>
  readonly settle: (now: number, settlement: Settlement) => Effect.Effect<void, CountersUnavailable>
  /** extends the leases of slots still held (to each one's `leaseUntil`); a slot freed or lapsed stays so */
  readonly renew: (now: number, slots: ReadonlyArray<Slot>) => Effect.Effect<void, CountersUnavailable>
  /** where they live, for the log */
  readonly where: "memory" | "redis"
}

/** The longest a check may wait on Redis before the --limits-on-store-failure policy decides. */
export const checkTimeoutMs = 250

export class LimitCounters extends Context.Service<LimitCounters, LimitCountersShape>()("orka/LimitCounters") {
  static readonly layerMemory = Layer.effect(LimitCounters, makeMemoryCounters())
  static readonly layerRedis = (url: string) => Layer.effect(LimitCounters, makeRedisCounters(url, checkTimeoutMs))
  /** Redis with --redis-url, else memory */
  static readonly layer = Layer.unwrap(Effect.gen(function*() {
    const { redisUrl } = yield* GatewayConfig
    return redisUrl === undefined ? LimitCounters.layerMemory : LimitCounters.layerRedis(redisUrl)
  }))
}
