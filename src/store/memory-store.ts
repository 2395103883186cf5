/**
 * The response store in this process's memory (one replica, no --redis-url). Every entry lives for
 * the same TTL, so the order of insertion is also the order of expiry: the oldest entries are the
 * first to expire and the first evicted when the total passes --response-store-max-bytes. No timer
 * per entry: expiry is checked on read, and expired entries are swept from the front on each write
 * and now and then by one fiber, so their memory comes back even when no one writes.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { type Item, itemsOf, jsonBytes, logTooLarge, ownerDigest, type ResponseStoreShape, type StoreLimits, type StoredResponse } from "./stored.ts"

interface Entry {
  readonly key: string
  /** a response, or a kept turn */
  readonly stored: StoredResponse | Item
  readonly bytes: number
  readonly expiresAt: number
  readonly itemKeys: ReadonlyArray<string>
}

/** The owner's digest is fixed-length: `digest:id` keys of two owners never meet. */
const keyOf = (digest: string, id: string) => `${digest}:${id}`
const turnKey = (digest: string, callId: string) => `${digest}:turn:${callId}`

export const makeMemoryStore = (limits: StoreLimits): Effect.Effect<ResponseStoreShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    /** oldest first */
    const entries = new Map<string, Entry>()
    /** an item shared by several responses (the history a response continued) points to the newest */
    const items = new Map<string, { readonly entry: Entry; readonly item: Item }>()
    let total = 0

    const drop = (entry: Entry) => {
      entries.delete(entry.key)
      total -= entry.bytes
      for (const key of entry.itemKeys) if (items.get(key)?.entry === entry) items.delete(key)
    }
    const sweep = (now: number) => {
      for (const entry of entries.values()) {
        if (entry.expiresAt > now) return
        drop(entry)
      }
    }
    /** a new entry, after the expired ones are gone and before the oldest make room for it */
    const add = (key: string, stored: Entry["stored"], bytes: number, itemKeys: ReadonlyArray<string>, now: number): Entry => {
      const previous = entries.get(key)
      if (previous !== undefined) drop(previous)
      const entry: Entry = { key, stored, bytes, expiresAt: now + limits.ttl, itemKeys }
      entries.set(key, entry)
      total += entry.bytes
      return entry
    }
    const fit = () => {
      for (const oldest of entries.values()) {
        if (total <= limits.maxBytes) break
        drop(oldest)
      }
    }
    const live = (entry: Entry | undefined): Entry | undefined => {
      if (entry === undefined || entry.expiresAt > Date.now()) return entry
      drop(entry)
      return undefined
    }

    yield* Effect.sync(() => sweep(Date.now())).pipe(
      Effect.repeat(Schedule.spaced(Math.min(Math.max(limits.ttl, 1000), 60_000))),
      Effect.forkScoped
    )

    return {
      put: (owner, stored) =>
        Effect.suspend(() => {
          const now = Date.now()
          sweep(now)
          const digest = ownerDigest(owner)
          const key = keyOf(digest, stored.response.id)
          const previous = entries.get(key)
          if (previous !== undefined) drop(previous)
          const bytes = jsonBytes(JSON.stringify(stored))
          if (bytes > limits.maxBytes) return logTooLarge(stored.response.id, bytes, limits.maxBytes)
          const own = itemsOf(stored).map(([id, item]) => [keyOf(digest, id), item] as const)
          const entry = add(key, stored, bytes, own.map(([k]) => k), now)
          for (const [itemKey, item] of own) items.set(itemKey, { entry, item })
          fit()
          return Effect.void
        }),
      get: (owner, id) => Effect.sync(() => live(entries.get(keyOf(ownerDigest(owner), id)))?.stored as StoredResponse | undefined),
      remove: (owner, id) =>
        Effect.sync(() => {
          const entry = live(entries.get(keyOf(ownerDigest(owner), id)))
          if (entry !== undefined) drop(entry)
          return entry !== undefined
        }),
      item: (owner, itemId) =>
        Effect.sync(() => {
          const found = items.get(keyOf(ownerDigest(owner), itemId))
          return found !== undefined && live(found.entry) !== undefined ? found.item : undefined
        }),
      keepTurn: (owner, clientCallIds, turn) =>
        Effect.sync(() => {
          const now = Date.now()
          sweep(now)
          const digest = ownerDigest(owner)
          const bytes = jsonBytes(JSON.stringify(turn))
          for (const id of clientCallIds) add(turnKey(digest, id), turn, bytes, [], now)
          fit()
        }),
      keptTurns: (owner, clientCallIds) =>
        Effect.sync(() => {
          const digest = ownerDigest(owner)
          return new Map(clientCallIds.flatMap((id) => {
            const entry = live(entries.get(turnKey(digest, id)))
            return entry === undefined ? [] : [[id, entry.stored as Item] as const]
          }))
        })
    } satisfies ResponseStoreShape
  })
