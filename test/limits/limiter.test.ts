/**
 * The limiter over memory counters and a clock the test moves: refusals that say which limit and
 * when it frees up, reservations settled with a request's real usage when it ends, refunds when a
 * Provider fails before answering, budgets across a UTC day boundary, and the store-failure policy.
 */
import { Effect, Exit, Scope } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import type { Identity } from "../../src/auth/auth.ts"
import type { GatewayError } from "../../src/errors.ts"
import type { ValidPolicy } from "../../src/kube/client-policy.ts"
import { type LimitedChat, makeLimiter, slotLeaseMs } from "../../src/limits/limiter.ts"
import { indexPolicies, type PolicyIndex } from "../../src/limits/rules.ts"
import type { ResolvedProvider } from "../../src/providers/provider.ts"
import { CurrentRequest, type CurrentRequestShape } from "../../src/request-note.ts"
import { CountersUnavailable, type LimitCountersShape } from "../../src/store/limit-counters.ts"
import { makeMemoryCounters } from "../../src/store/memory-counters.ts"
import { makeRedisCounters } from "../../src/store/redis-counters.ts"
import { type RealRedis, redisMissing, startRedis } from "../support/redis.ts"

const alice: Identity = { user: "alice", uid: "1", groups: [] }
const provider = (rateLimit: ResolvedProvider["rateLimit"] = {}) =>
  ({ name: "claude", namespace: "orka", rateLimit, maxOutputTokens: { all: undefined, byModel: {} } }) as unknown as ResolvedProvider
const policy = (limits: ValidPolicy["spec"]["limits"], scope: "caller" | "shared" = "caller"): ValidPolicy =>
  ({ name: "alice-policy", namespace: "orka", spec: { subjects: [{ user: "alice" }], limits, scope } })
/** 40 characters and `max_tokens: 10`: an estimate of 20 tokens */
const chat = (p: ResolvedProvider = provider()): LimitedChat => ({ identity: alice, provider: p, model: "m", body: { max_tokens: 10 }, bodyChars: 40 })

const scopes: Array<Scope.Closeable> = []
afterEach(() => Promise.all(scopes.splice(0).map((scope) => Effect.runPromise(Scope.close(scope, Exit.void)))))

const limiterWith = async (options: { policies?: ReadonlyArray<ValidPolicy>; index?: () => PolicyIndex; counters?: LimitCountersShape; onStoreFailure?: "allow" | "deny"; start?: number; renewEveryMs?: number }) => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  const clock = { now: options.start ?? Date.UTC(2026, 11, 2, 12, 0, 0) }
  // the counters sweep by the test's clock too: by the real one, the test's keys would have expired
  const counters = options.counters ?? await Effect.runPromise(Scope.provide(makeMemoryCounters(() => clock.now), scope))
  const index = indexPolicies(options.policies ?? [])
  const limiter = await Effect.runPromise(Scope.provide(
    makeLimiter({
      counters,
      policies: options.index ?? (() => index),
      windowMs: 60_000,
      onStoreFailure: options.onStoreFailure ?? "allow",
      now: () => clock.now,
      ...(options.renewEveryMs === undefined ? {} : { renewEveryMs: options.renewEveryMs })
    }),
    scope
  ))
  /** admitted as the request `current` (a fresh one by default), as the boundary provides it */
  const admit = async (c: LimitedChat = chat(), current: CurrentRequestShape = request()) => {
    const ticket = await Effect.runPromise(limiter.admit(c).pipe(Effect.provideService(CurrentRequest, current)))
    return { ...ticket, current }
  }
  const refusal = (c: LimitedChat = chat()) => Effect.runPromise(Effect.flip(limiter.admit(c))) as Promise<GatewayError>
  return { clock, admit, refusal, counters, scope }
}

const request = (): CurrentRequestShape => ({ started: 0, note: {}, atEnd: [], afterEnd: [] })

/** The request answered and ended with this usage (or none, or with more Provider calls): its end run as the boundary runs it. */
const ended = async (ticket: { settleAtEnd: () => void; current: CurrentRequestShape }, usage: { input?: number; output?: number; ttft?: number; calls?: number }) => {
  ticket.settleAtEnd()
  const { note } = ticket.current
  if (usage.input !== undefined) note.input_tokens = usage.input
  if (usage.output !== undefined) note.output_tokens = usage.output
  if (usage.ttft !== undefined) note.ttft_ms = usage.ttft
  note.attempts = (note.attempts ?? 0) + (usage.calls ?? 1)
  for (const hook of ticket.current.afterEnd) hook()
  // a settlement is sent as the request ends, not waited for: give it a moment
  await new Promise((r) => setTimeout(r, 40))
}

describe("limiter", () => {
  it("admits a request no limit applies to without counting anything", async () => {
    const { admit } = await limiterWith({ policies: [{ ...policy({ requestsPerMinute: 1 }), spec: { ...policy({ requestsPerMinute: 1 }).spec, subjects: [{ user: "bob" }] } }] })
    for (let i = 0; i < 3; i++) expect((await admit()).state).toBeUndefined()
  })

  it("a ClientPolicy changed applies from the next request, to a caller and Provider already seen", async () => {
    let index = indexPolicies([])
    const { admit } = await limiterWith({ index: () => index })
    const seen = chat()
    expect((await admit(seen)).state).toBeUndefined()
    index = indexPolicies([policy({ requestsPerMinute: 5 })])
    expect((await admit(seen)).state?.requests).toMatchObject({ limit: 5, remaining: 4 })
    index = indexPolicies([])
    expect((await admit(seen)).state).toBeUndefined()
  })

  it("refuses the request past a Provider's requests per minute, saying when the window frees up", async () => {
    const { admit, clock, refusal } = await limiterWith({ start: Date.UTC(2026, 11, 2, 12, 0, 15) })
    const limited = chat(provider({ requestsPerMinute: 2 }))
    expect((await admit(limited)).state).toEqual({ requests: { limit: 2, remaining: 1, resetAt: Date.UTC(2026, 11, 2, 12, 1) } })
    await admit(limited)
    const refused = await refusal(limited)
    expect(refused).toMatchObject({ kind: "rate_limit", code: "rate_limit_exceeded", retryable: true, retryAfter: 45 })
    expect(refused.message).toBe("Provider claude allows 2 requests per minute; try again in 45 s")
    expect(refused.rateLimit).toEqual({ requests: { limit: 2, remaining: 0, resetAt: Date.UTC(2026, 11, 2, 12, 1) } })
    clock.now = Date.UTC(2026, 11, 2, 12, 1, 0)
    expect((await admit(limited)).state?.requests?.remaining).toBe(1)
  })

  it("reserves the estimate, then settles with the usage the request reported", async () => {
    const { admit } = await limiterWith({ policies: [policy({ tokensPerMinute: 100 })] })
    const first = await admit()
    expect(first.state?.tokens).toMatchObject({ limit: 100, remaining: 80 })
    await ended(first, { input: 3, output: 4 })
    // 7 used, not 20: 20 more reserved now
    expect((await admit()).state?.tokens?.remaining).toBe(100 - 7 - 20)
  })

  it("keeps the estimate of a stream abandoned before its usage came, and gives back that of one that never answered", async () => {
    const { admit } = await limiterWith({ policies: [policy({ tokensPerMinute: 100 })] })
    await ended(await admit(), { ttft: 12 })
    await ended(await admit(), {})
    expect((await admit()).state?.tokens?.remaining).toBe(100 - 20 - 20)
  })

  it("gives back a failed Provider's tokens; its request counts against the caller only when no other Provider is tried", async () => {
    const { admit } = await limiterWith({ policies: [policy({ requestsPerMinute: 10, tokensPerMinute: 100 })] })
    await Effect.runPromise((await admit()).refund(true))
    await new Promise((r) => setTimeout(r, 5))
    expect((await admit()).state).toEqual({ requests: expect.objectContaining({ remaining: 9 }), tokens: expect.objectContaining({ remaining: 80 }) })
    const { admit: admit2 } = await limiterWith({ policies: [policy({ requestsPerMinute: 10, tokensPerMinute: 100 })] })
    await Effect.runPromise((await admit2()).refund(false))
    await new Promise((r) => setTimeout(r, 5))
    expect((await admit2()).state?.requests?.remaining).toBe(8)
  })

  it("counts a tool loop's further model calls against the Provider's requests, and not those made to a Provider tried before", async () => {
    const { admit } = await limiterWith({ policies: [policy({ requestsPerMinute: 100 })] })
    const limited = chat(provider({ requestsPerMinute: 100 }))
    const current = request()
    // one call to a Provider that failed before this one was tried
    current.note.attempts = 1
    await ended(await admit(limited, current), { input: 1, output: 1, calls: 3 })
    // 3 calls to it: 3 counted; the caller's request counted once
    expect((await admit(limited)).state?.requests).toMatchObject({ remaining: 100 - 3 - 1 })
    const { admit: admitPolicy } = await limiterWith({ policies: [policy({ requestsPerMinute: 100 })] })
    await ended(await admitPolicy(), { input: 1, output: 1, calls: 3 })
    expect((await admitPolicy()).state?.requests).toMatchObject({ remaining: 100 - 1 - 1 })
  })

  it("holds a concurrency slot until the request ends", async () => {
    const { admit, refusal } = await limiterWith({ policies: [policy({ concurrentRequests: 1 })] })
    const first = await admit()
    const refused = await refusal()
    expect(refused).toMatchObject({ kind: "rate_limit", retryAfter: 1 })
    expect(refused.message).toBe("ClientPolicy alice-policy allows 1 concurrent request per caller; try again when one has ended")
    await ended(first, { input: 1, output: 1 })
    await admit()
  })

  it("renews the slot of a request in flight past its lease; a replica gone frees its slots when their leases end", async () => {
    const live = await limiterWith({ policies: [policy({ concurrentRequests: 1 })], renewEveryMs: 10 })
    const long = await live.admit()
    for (let minute = 1; minute <= 5; minute++) {
      live.clock.now += slotLeaseMs / 2
      await new Promise((r) => setTimeout(r, 40))
      expect((await live.refusal()).kind).toBe("rate_limit")
    }
    await ended(long, { input: 1, output: 1 })
    await live.admit()

    // two replicas counting together: the first dies with a request in flight, its renewals stop
    const first = await limiterWith({ policies: [policy({ concurrentRequests: 1 })], renewEveryMs: 10 })
    const second = await limiterWith({ policies: [policy({ concurrentRequests: 1 })], counters: first.counters })
    await first.admit()
    await Effect.runPromise(Scope.close(first.scope, Exit.void))
    second.clock.now = first.clock.now + slotLeaseMs - 1
    expect((await second.refusal()).kind).toBe("rate_limit")
    second.clock.now = first.clock.now + slotLeaseMs + 1
    await second.admit()
  })

  it("a daily budget, spent, is refused until the next UTC day, and says when that is", async () => {
    const { admit, clock, refusal } = await limiterWith({ policies: [policy({ tokensPerDay: 1000 })], start: Date.UTC(2026, 11, 2, 23, 58, 0) })
    await ended(await admit(), { input: 900, output: 150 })
    const refused = await refusal()
    expect(refused).toMatchObject({ kind: "rate_limit", code: "budget_exceeded", retryable: false, retryAfter: 120 })
    expect(refused.message).toBe("the token budget of ClientPolicy alice-policy (1000 tokens a UTC day per caller) is spent; it resets at 2026-12-03T00:00:00.000Z")
    expect(refused.rateLimit?.tokens).toEqual({ limit: 1000, remaining: 0, resetAt: Date.UTC(2026, 11, 3) })
    clock.now = Date.UTC(2026, 11, 3, 0, 0, 1)
    expect((await admit()).state?.tokens?.remaining).toBe(980)
  })

  describe.skipIf(redisMissing !== undefined)("counted in a real Redis", () => {
    let redis: RealRedis
    beforeAll(async () => {
      redis = await startRedis()
    })
    afterAll(() => redis?.close())

    it("a daily budget is refused until the next UTC day there too", async () => {
      const scope = Effect.runSync(Scope.make())
      scopes.push(scope)
      const counters = await Effect.runPromise(Scope.provide(makeRedisCounters(redis.url, 1000), scope))
      // Redis expires keys by its own clock: the day simulated is the one ending at the next real midnight
      const today = new Date()
      const midnight = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1)
      const { admit, clock, refusal } = await limiterWith({ policies: [policy({ tokensPerDay: 1000 })], counters, start: midnight - 60_000 })
      await ended(await admit(), { input: 990, output: 20 })
      expect(await refusal()).toMatchObject({ code: "budget_exceeded", retryAfter: 60 })
      clock.now = midnight
      expect((await admit()).state?.tokens).toEqual({ limit: 1000, remaining: 980, resetAt: midnight + 86_400_000 })
    })
  })

  it("a shared policy counts all its callers together", async () => {
    const bob: Identity = { user: "bob", uid: "2", groups: [] }
    const team: ValidPolicy = { name: "team", namespace: "orka", spec: { subjects: [{ user: "alice" }, { user: "bob" }], limits: { requestsPerMinute: 2 }, scope: "shared" } }
    const { admit, refusal } = await limiterWith({ policies: [team] })
    await admit()
    await admit({ ...chat(), identity: bob })
    expect((await refusal({ ...chat(), identity: bob })).message).toBe("ClientPolicy team allows 2 requests per minute for its callers together; try again in 60 s")
  })

  it("the strictest limit decides and shows: the one that frees up last refuses", async () => {
    const { admit, refusal } = await limiterWith({ policies: [policy({ requestsPerMinute: 1, tokensPerDay: 10 })] })
    await admit()
    expect((await refusal()).code).toBe("budget_exceeded")
  })

  it("counters out of reach: served unlimited by default, a 503 when the policy says deny", async () => {
    const broken: LimitCountersShape = {
      charge: () => Effect.fail(new CountersUnavailable({ reason: "connection refused" })),
      settle: () => Effect.fail(new CountersUnavailable({ reason: "connection refused" })),
      renew: () => Effect.fail(new CountersUnavailable({ reason: "connection refused" })),
      where: "redis"
    }
    const allowing = await limiterWith({ policies: [policy({ requestsPerMinute: 1 })], counters: broken })
    expect((await allowing.admit()).state).toBeUndefined()
    const denying = await limiterWith({ policies: [policy({ requestsPerMinute: 1 })], counters: broken, onStoreFailure: "deny" })
    expect(await denying.refusal()).toMatchObject({ kind: "overloaded", retryable: true, retryAfter: 1 })
  })
})
