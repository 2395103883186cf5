/**
 * A bounded cache of lookups with a TTL chosen per result, where concurrent misses for one key share
 * a single lookup. Used for TokenReview and SubjectAccessReview results, keyed by hashes.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import { labelled, metrics } from "../metrics.ts"

interface Entry<V, E> {
  expiresAt: number
  readonly result: Deferred.Deferred<V, E>
}

export interface TtlCache<V, E> {
  /** The cached result for `key`, else runs `lookup` once and keeps its result for `ttl(exit)` ms (≤ 0: not kept). */
  readonly get: (key: string, lookup: Effect.Effect<V, E>, ttl: (exit: Exit.Exit<V, E>) => number) => Effect.Effect<V, E>
  readonly size: () => number
}

const authCache = labelled(metrics.authCache)

/** `name` labels the cache's hits and misses (`orka_auth_cache_total`). */
export const makeTtlCache = <V, E>(capacity: number, name: string, now: () => number = Date.now): TtlCache<V, E> => {
  const hits = authCache({ cache: name, result: "hit" })
  const misses = authCache({ cache: name, result: "miss" })
  // A Map iterates in insertion order: re-inserting on use makes the first key the least recently used.
  const entries = new Map<string, Entry<V, E>>()

  const evict = () => {
    const t = now()
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key)
    while (entries.size > capacity) entries.delete(entries.keys().next().value!)
  }

  return {
    size: () => entries.size,
    get: (key, lookup, ttl) =>
      Effect.suspend(() => {
        const hit = entries.get(key)
        if (hit !== undefined && hit.expiresAt > now()) {
          entries.delete(key)
          entries.set(key, hit)
          return Effect.andThen(Metric.update(hits, 1), Deferred.await(hit.result))
        }
        const result = Deferred.makeUnsafe<V, E>()
        const entry: Entry<V, E> = { expiresAt: Number.POSITIVE_INFINITY, result }
        entries.delete(key)
        entries.set(key, entry)
        evict()
        // The lookup runs detached: a caller that goes away must not fail the others waiting on it.
        const run = lookup.pipe(
          Effect.exit,
          Effect.flatMap((exit) =>
            Effect.sync(() => {
              const keepFor = ttl(exit)
              if (keepFor > 0) entry.expiresAt = now() + keepFor
              else if (entries.get(key) === entry) entries.delete(key)
            }).pipe(Effect.andThen(Deferred.done(result, exit)))
          )
        )
        return Metric.update(misses, 1).pipe(Effect.andThen(Effect.forkDetach(run)), Effect.andThen(Deferred.await(result)))
      })
  }
}
