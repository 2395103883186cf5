/**
 * Providers that keep failing are skipped for a while, per replica: after `failures` retryable
 * failures in a row a Provider is cooling down for `ms`; then the next request may try it once
 * (half-open): a success ends the cooldown, a failure starts another. Memory only, one map lookup
 * per request: nothing here needs to hold across replicas.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GatewayConfig } from "../config.ts"

export interface CooldownShape {
  /** whether a request may call it now; in a half-open period only the first caller may */
  readonly admits: (provider: string) => boolean
  readonly succeeded: (provider: string) => void
  readonly failed: (provider: string) => void
}

interface State {
  failures: number
  /** cooling down until this time (ms since the epoch) */
  until: number
  /** a request is trying it after a cooldown */
  probing: boolean
  /** until when that try holds the half-open period (one whose caller went away never reports) */
  probeUntil: number
}

export const makeCooldown = (failures: number, ms: number, now: () => number = Date.now): CooldownShape => {
  const states = new Map<string, State>()
  return {
    admits: (provider) => {
      const state = states.get(provider)
      if (state === undefined || state.until === 0) return true
      const t = now()
      if (t < state.until || (state.probing && t < state.probeUntil)) return false
      state.probing = true
      state.probeUntil = t + ms
      return true
    },
    succeeded: (provider) => void states.delete(provider),
    failed: (provider) => {
      if (failures <= 0) return
      const state = states.get(provider) ?? { failures: 0, until: 0, probing: false, probeUntil: 0 }
      state.failures++
      if (state.probing || state.failures >= failures) {
        state.until = now() + ms
        state.probing = false
      }
      states.set(provider, state)
    }
  }
}

export class Cooldown extends Context.Service<Cooldown, CooldownShape>()("orka/Cooldown") {
  static readonly layer = Layer.effect(
    Cooldown,
    Effect.map(GatewayConfig, (config) => makeCooldown(config.providerCooldownFailures, config.providerCooldown))
  )
}
