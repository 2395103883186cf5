/**
 * The few Kubernetes reads the gateway needs, as caches. Implementations: the manifests loader
 * (local mode), an in-memory fake (tests) and, for clusters, informers on @kubernetes/client-node.
 * Nothing here is called per request: the registry reads `items()` synchronously from memory.
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

export interface KubeObject {
  readonly apiVersion?: string
  readonly kind?: string
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string }
}

export interface ResourceCache {
  /** Completes once the first full list has been loaded. */
  readonly synced: Effect.Effect<void>
  /** The current objects, unvalidated (the registry validates and reports bad ones). */
  readonly items: () => ReadonlyArray<KubeObject>
  /** Emits after every change to the cached objects. */
  readonly changes: Stream.Stream<void>
}

export interface KubeClientShape {
  readonly providers: ResourceCache
  readonly secrets: ResourceCache
  /** custom HTTP tools (`core.orka.ai/v1alpha1` Tool), for the server-side tools */
  readonly tools: ResourceCache
  /**
   * the callers' limits (`gateway.orka.ai/v1alpha1` ClientPolicy); synced and empty while its CRD is
   * not installed, so waiting on it never hangs
   */
  readonly clientPolicies: ResourceCache
}

export class KubeClient extends Context.Service<KubeClient, KubeClientShape>()("orka/KubeClient") {}

/**
 * Runs `rebuild` once every cache has loaded, then after every change to any of them, for the life
 * of the scope. The returned Deferred completes after the first rebuild.
 */
export const rebuildOnChange = (
  caches: ReadonlyArray<ResourceCache>,
  rebuild: Effect.Effect<void>
): Effect.Effect<Deferred.Deferred<void>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const loaded = yield* Deferred.make<void>()
    yield* Effect.forEach(caches, (cache) => cache.synced, { discard: true }).pipe(
      Effect.andThen(Stream.mergeAll(caches.map((cache) => cache.changes), { concurrency: "unbounded" }).pipe(
        Stream.runForEach(() => Effect.andThen(rebuild, Deferred.succeed(loaded, undefined)))
      )),
      Effect.forkScoped
    )
    return loaded
  })

/**
 * A log of the objects a rebuild rejects, by name with why: each is reported when it is first
 * rejected or rejected for a new reason, not again on every change of the caches.
 */
export const makeRejectionLog = (message: string, field: string) => {
  let reported: ReadonlyMap<string, string> = new Map()
  return (rejected: ReadonlyMap<string, string>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const fresh = [...rejected].filter(([name, why]) => reported.get(name) !== why)
      reported = rejected
      return Effect.forEach(fresh, ([name, reason]) => Effect.logWarning(message).pipe(Effect.annotateLogs({ [field]: name, reason })), { discard: true })
    })
}
