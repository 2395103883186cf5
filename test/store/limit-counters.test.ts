/**
 * The limit counters, in memory and in a real Redis (the same cases for both): one atomic
 * check-and-charge per request, periods that expire, settlements that only touch live periods, and
 * concurrency slots with leases. Redis is also charged by many callers at once: never past a limit.
 */
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeMemoryCounters } from "../../src/store/memory-counters.ts"
import { makeRedisCounters } from "../../src/store/redis-counters.ts"
import type { LimitCountersShape } from "../../src/store/limit-counters.ts"
import { type RealRedis, redisMissing, startRedis } from "../support/redis.ts"

if (redisMissing !== undefined) {
  console.warn(`\n*** SKIPPING the Redis limit counters: ${redisMissing}. Limits shared by replicas are not checked in this run. ***\n`)
}

/** Builds the counters in a scope that stays open until `close`. */
const open = async (make: Effect.Effect<LimitCountersShape, never, Scope.Scope>) => {
  const scope = Effect.runSync(Scope.make())
  const counters = await Effect.runPromise(Scope.provide(make, scope))
  return { counters, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

let sequence = 0
/** A fresh key, so the Redis cases do not see each other's counts. */
const fresh = (what: string) => `orka:limit:test:${what}:${process.pid}:${++sequence}`

const cases = (name: string, make: () => Promise<{ counters: LimitCountersShape; close: () => Promise<void> }>, skip: boolean) =>
  describe.skipIf(skip)(`limit counters in ${name}`, () => {
    let counters: LimitCountersShape
    let close: () => Promise<void>
    beforeAll(async () => ({ counters, close } = await make()))
    afterAll(() => close?.())

    it("admits while a count is under its limit, charges every counter together, and refuses at the limit", async () => {
      const now = Date.now()
      const requests = { key: fresh("rpm"), limit: 2, cost: 1, resetAt: now + 60_000 }
      const tokens = { key: fresh("tpm"), limit: 100, cost: 70, resetAt: now + 60_000 }
      expect(await run(counters.charge(now, [requests, tokens], []))).toEqual({ admitted: true, used: [1, 70], held: [] })
      // under its limit, a counter admits a cost that takes it past
      expect(await run(counters.charge(now, [requests, tokens], []))).toEqual({ admitted: true, used: [2, 140], held: [] })
      // refused: the counts are as they were, nothing charged
      expect(await run(counters.charge(now, [requests, tokens], []))).toEqual({ admitted: false, used: [2, 140], held: [] })
    })

    it("charges nothing when one counter refuses", async () => {
      const now = Date.now()
      const full = { key: fresh("full"), limit: 1, cost: 1, resetAt: now + 60_000 }
      const other = { key: fresh("other"), limit: 10, cost: 1, resetAt: now + 60_000 }
      await run(counters.charge(now, [full], []))
      expect((await run(counters.charge(now, [other, full], []))).admitted).toBe(false)
      expect(await run(counters.charge(now, [other], []))).toEqual({ admitted: true, used: [1], held: [] })
    })

    it("forgets a count when its period ends", async () => {
      const now = Date.now()
      const counter = { key: fresh("period"), limit: 1, cost: 1, resetAt: now + 300 }
      await run(counters.charge(now, [counter], []))
      expect((await run(counters.charge(now, [counter], []))).admitted).toBe(false)
      await new Promise((r) => setTimeout(r, 400))
      expect(await run(counters.charge(Date.now(), [counter], []))).toEqual({ admitted: true, used: [1], held: [] })
    })

    it("settles live counts (never below zero) and leaves ended periods alone", async () => {
      const now = Date.now()
      const live = { key: fresh("live"), limit: 100, cost: 50, resetAt: now + 60_000 }
      await run(counters.charge(now, [live], []))
      await run(counters.settle(now, { adjust: [{ key: live.key, delta: -30 }], release: [] }))
      expect((await run(counters.charge(now, [{ ...live, cost: 0 }], []))).used).toEqual([20])
      await run(counters.settle(now, { adjust: [{ key: live.key, delta: -500 }], release: [] }))
      expect((await run(counters.charge(now, [{ ...live, cost: 0 }], []))).used).toEqual([0])
      // a period that never was (or has ended) is not brought back by a settlement
      const gone = fresh("gone")
      await run(counters.settle(now, { adjust: [{ key: gone, delta: 40 }], release: [] }))
      expect((await run(counters.charge(now, [{ key: gone, limit: 10, cost: 0, resetAt: now + 60_000 }], []))).used).toEqual([0])
    })

    it("holds concurrency slots until released or their lease ends", async () => {
      const now = Date.now()
      const key = fresh("inflight")
      const slot = (holder: string, leaseUntil = now + 60_000) => ({ key, limit: 2, holder, leaseUntil })
      expect((await run(counters.charge(now, [], [slot("a")]))).held).toEqual([1])
      expect((await run(counters.charge(now, [], [slot("b", now + 300)]))).held).toEqual([2])
      expect(await run(counters.charge(now, [], [slot("c")]))).toEqual({ admitted: false, used: [], held: [2] })
      await run(counters.settle(now, { adjust: [], release: [{ key, holder: "a" }] }))
      expect((await run(counters.charge(now, [], [slot("c")]))).admitted).toBe(true)
      // b's lease ends: its slot frees itself
      await new Promise((r) => setTimeout(r, 400))
      expect((await run(counters.charge(Date.now(), [], [slot("d")]))).held).toEqual([2])
    })

    it("renews the leases of slots still held, and only theirs", async () => {
      const now = Date.now()
      const key = fresh("renewed")
      const slot = (holder: string, leaseUntil: number) => ({ key, limit: 2, holder, leaseUntil })
      await run(counters.charge(now, [], [slot("a", now + 300)]))
      await run(counters.charge(now, [], [slot("b", now + 300)]))
      await run(counters.settle(now, { adjust: [], release: [{ key, holder: "b" }] }))
      // a's lease is renewed; b, released, and c, never held, are not taken back
      await run(counters.renew(now, [slot("a", now + 60_000), slot("b", now + 60_000), slot("c", now + 60_000)]))
      await new Promise((r) => setTimeout(r, 400))
      const later = Date.now()
      expect(await run(counters.charge(later, [], [slot("d", later + 60_000)]))).toEqual({ admitted: true, used: [], held: [2] })
      expect((await run(counters.charge(later, [], [slot("e", later + 60_000)]))).admitted).toBe(false)
      // a lease that has lapsed is not renewed
      const lapsed = fresh("lapsed")
      await run(counters.charge(later, [], [{ key: lapsed, limit: 1, holder: "f", leaseUntil: later + 100 }]))
      await new Promise((r) => setTimeout(r, 300))
      const after = Date.now()
      await run(counters.renew(after, [{ key: lapsed, limit: 1, holder: "f", leaseUntil: after + 60_000 }]))
      expect((await run(counters.charge(after, [], [{ key: lapsed, limit: 1, holder: "g", leaseUntil: after + 60_000 }]))).admitted).toBe(true)
    })
  })

cases("memory", () => open(makeMemoryCounters()), false)

describe.skipIf(redisMissing !== undefined)("limit counters in Redis", () => {
  let redis: RealRedis
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(() => redis?.close())

  cases("Redis", () => open(makeRedisCounters(redis.url, 1000)), false)

  it("never lets callers charging at once past a limit", async () => {
    const replicas = await Promise.all([open(makeRedisCounters(redis.url, 1000)), open(makeRedisCounters(redis.url, 1000))])
    try {
      const now = Date.now()
      const counter = { key: fresh("race"), limit: 10, cost: 1, resetAt: now + 60_000 }
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => run(replicas[i % 2]!.counters.charge(now, [counter], []))))
      expect(results.filter((r) => r.admitted)).toHaveLength(10)
    } finally {
      await Promise.all(replicas.map((r) => r.close()))
    }
  })

  it("fails fast, as CountersUnavailable, while Redis is away", async () => {
    const { close, counters } = await open(makeRedisCounters(redis.url, 250))
    try {
      await run(counters.charge(Date.now(), [{ key: fresh("up"), limit: 1, cost: 1, resetAt: Date.now() + 60_000 }], []))
      await redis.stop()
      const started = Date.now()
      const failed = await Effect.runPromise(Effect.flip(counters.charge(Date.now(), [{ key: fresh("down"), limit: 1, cost: 1, resetAt: Date.now() + 60_000 }], [])))
      expect(failed._tag).toBe("CountersUnavailable")
      expect(Date.now() - started).toBeLessThan(2000)
    } finally {
      await redis.start()
      await close()
    }
  })
})
