/**
 * Leader election on a coordination.k8s.io Lease, so that one replica writes Provider and Tool status.
 * A replica takes the Lease when it is free or expired, renews it while it holds it, and gives it up
 * on shutdown; losing a write race (409) simply means someone else leads.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { KubeApiShape } from "../kube/api.ts"

export interface LeaderOptions {
  readonly namespace: string
  readonly leaseName: string
  readonly identity: string
  readonly durationSeconds: number
  readonly renewEvery: number
}

export interface Leadership {
  readonly isLeader: Effect.Effect<boolean>
  /** the current state, then every change */
  readonly changes: Stream.Stream<boolean>
}

export const electLeader = (
  api: KubeApiShape,
  options: LeaderOptions
): Effect.Effect<Leadership, never, Scope.Scope> =>
  Effect.gen(function*() {
    const leading = yield* SubscriptionRef.make(false)

    const attempt = Effect.gen(function*() {
      const lease = yield* api.getLease(options.namespace, options.leaseName)
      const expired = lease === undefined || lease.holder === undefined || lease.holder === "" ||
        lease.renewedAt + lease.durationSeconds * 1000 < Date.now()
      if (lease !== undefined && lease.holder !== options.identity && !expired) return false
      yield* api.writeLease(options.namespace, options.leaseName, options.identity, options.durationSeconds, lease)
      return true
    }).pipe(Effect.catch(() => Effect.succeed(false)))

    yield* attempt.pipe(
      Effect.flatMap((won) => SubscriptionRef.set(leading, won)),
      Effect.repeat(Schedule.spaced(options.renewEvery)),
      Effect.forkScoped
    )
    // Hand the Lease over at once on shutdown instead of letting it expire.
    yield* Effect.addFinalizer(() =>
      SubscriptionRef.get(leading).pipe(Effect.flatMap((leader) =>
        leader
          ? api.getLease(options.namespace, options.leaseName).pipe(
            Effect.flatMap((lease) => lease?.holder === options.identity
              ? api.writeLease(options.namespace, options.leaseName, "", options.durationSeconds, lease)
              : Effect.void),
            Effect.ignore
          )
          : Effect.void
      ))
    )
    return { isLeader: SubscriptionRef.get(leading), changes: SubscriptionRef.changes(leading).pipe(Stream.changes) }
  })
