/**
 * Limit counters in this process's memory: exact for one replica, and each replica counts alone
 * (two replicas let a limit through twice). Expiry is checked on use; what has expired is swept now
 * and then by one fiber, so keys of past periods do not pile up.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Charge, Counter, LimitCountersShape, Settlement, Slot } from "./limit-counters.ts"

interface Count {
  value: number
  readonly resetAt: number
}

/** `now`: the clock the sweep reads, the same as the one the charges are made with (a test's own) */
export const makeMemoryCounters = (now: () => number = Date.now): Effect.Effect<LimitCountersShape, never, Scope.Scope> => Effect.gen(function*() {
  const counts = new Map<string, Count>()
  /** holder → lease end, by slot set */
  const slots = new Map<string, Map<string, number>>()

  const countOf = (key: string, now: number): Count | undefined => {
    const count = counts.get(key)
    if (count !== undefined && count.resetAt <= now) {
      counts.delete(key)
      return undefined
    }
    return count
  }
  const holdersOf = (key: string, now: number): Map<string, number> => {
    const holders = slots.get(key) ?? new Map<string, number>()
    for (const [holder, until] of holders) if (until <= now) holders.delete(holder)
    return holders
  }

  const sweep = Effect.sync(() => {
    const at = now()
    for (const key of counts.keys()) countOf(key, at)
    for (const key of slots.keys()) if (holdersOf(key, at).size === 0) slots.delete(key)
  })
  yield* sweep.pipe(Effect.repeat(Schedule.spaced("1 minute")), Effect.forkScoped)

  const charge = (now: number, counters: ReadonlyArray<Counter>, sets: ReadonlyArray<Slot>): Charge => {
    const used = counters.map((c) => countOf(c.key, now)?.value ?? 0)
    const held = sets.map((s) => holdersOf(s.key, now).size)
    const admitted = counters.every((c, i) => used[i]! < c.limit) && sets.every((s, i) => held[i]! < s.limit)
    if (!admitted) return { admitted, used, held }
    return {
      admitted,
      used: counters.map((c) => {
        const count = countOf(c.key, now) ?? { value: 0, resetAt: c.resetAt }
        count.value += c.cost
        counts.set(c.key, count)
        return count.value
      }),
      held: sets.map((s) => {
        const holders = holdersOf(s.key, now)
        holders.set(s.holder, s.leaseUntil)
        slots.set(s.key, holders)
        return holders.size
      })
    }
  }

  const settle = (now: number, settlement: Settlement) => {
    for (const { delta, key } of settlement.adjust) {
      const count = countOf(key, now)
      if (count !== undefined) count.value = Math.max(0, count.value + delta)
    }
    for (const { holder, key } of settlement.release) slots.get(key)?.delete(holder)
  }

  const renew = (now: number, sets: ReadonlyArray<Slot>) => {
    for (const { holder, key, leaseUntil } of sets) {
      const holders = slots.get(key)
      const until = holders?.get(holder)
      if (until !== undefined && until > now) holders!.set(holder, Math.max(until, leaseUntil))
    }
  }

  return {
    charge: (now, counters, sets) => Effect.sync(() => charge(now, counters, sets)),
    settle: (now, settlement) => Effect.sync(() => settle(now, settlement)),
    renew: (now, sets) => Effect.sync(() => renew(now, sets)),
    where: "memory"
  } satisfies LimitCountersShape
})
