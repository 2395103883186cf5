/**
 * What the gateway learns about Providers from calling them: currently, that a provider rejected the
 * gateway's key (401/403). Upstream reports here; the status writer turns it into a Ready=False
 * condition. A Reference with a no-op default, so code and tests that do not care need not provide it.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"

export interface AuthFailure {
  readonly status: number
  readonly at: string
}

export interface ProviderHealthShape {
  readonly authFailed: (provider: string, status: number) => void
  readonly succeeded: (provider: string) => void
  readonly authFailures: () => ReadonlyMap<string, AuthFailure>
  readonly changes: Stream.Stream<void>
}

const ignore: ProviderHealthShape = {
  authFailed: () => {},
  succeeded: () => {},
  authFailures: () => new Map(),
  changes: Stream.empty
}

export const ProviderHealth = Context.Reference<ProviderHealthShape>("orka/ProviderHealth", { defaultValue: () => ignore })

export const makeProviderHealth: Effect.Effect<ProviderHealthShape> = Effect.gen(function*() {
  const ref = yield* SubscriptionRef.make<ReadonlyMap<string, AuthFailure>>(new Map())
  let current: ReadonlyMap<string, AuthFailure> = new Map()
  const set = (next: ReadonlyMap<string, AuthFailure>) => {
    current = next
    Effect.runSync(SubscriptionRef.set(ref, next))
  }
  return {
    authFailed: (provider, status) => set(new Map(current).set(provider, { status, at: new Date().toISOString() })),
    // The hot path pays one map lookup; the map changes only when a provider recovers.
    succeeded: (provider) => {
      if (!current.has(provider)) return
      const next = new Map(current)
      next.delete(provider)
      set(next)
    },
    authFailures: () => current,
    changes: SubscriptionRef.changes(ref).pipe(Stream.map(() => undefined))
  }
})
