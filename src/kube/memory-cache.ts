/** An in-memory ResourceCache, filled by whoever owns it (manifests loader, informer, test fake). */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { KubeObject, ResourceCache } from "./client.ts"

export interface MemoryCache {
  readonly cache: ResourceCache
  /** Replaces the whole content; the first call marks the cache as synced. */
  readonly replace: (objects: ReadonlyArray<KubeObject>) => Effect.Effect<void>
  /** Adds or replaces one object by namespace/name. */
  readonly upsert: (object: KubeObject) => Effect.Effect<void>
  readonly remove: (namespace: string | undefined, name: string) => Effect.Effect<void>
}

const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`

export const makeMemoryCache: Effect.Effect<MemoryCache> = Effect.gen(function*() {
  const synced = yield* Deferred.make<void>()
  const revision = yield* SubscriptionRef.make(0)
  let objects = new Map<string, KubeObject>()

  const publish = Effect.andThen(
    SubscriptionRef.update(revision, (n) => n + 1),
    Deferred.succeed(synced, undefined)
  ).pipe(Effect.asVoid)

  return {
    cache: {
      synced: Deferred.await(synced),
      items: () => [...objects.values()],
      changes: SubscriptionRef.changes(revision).pipe(Stream.map(() => undefined))
    },
    replace: (next) =>
      Effect.suspend(() => {
        objects = new Map(next.map((o) => [keyOf(o), o]))
        return publish
      }),
    upsert: (object) =>
      Effect.suspend(() => {
        objects = new Map(objects).set(keyOf(object), object)
        return publish
      }),
    remove: (namespace, name) =>
      Effect.suspend(() => {
        const next = new Map(objects)
        next.delete(`${namespace ?? ""}/${name}`)
        objects = next
        return publish
      })
  }
})
