/**
 * What the leader's status writers (Providers, Tools and ClientPolicies) share: the `Ready`
 * condition, kept with its transition time, and the guard against writing the same thing again
 * before the watch has echoed the last write back into the cache.
 */

export interface ReadyCondition {
  readonly status: "True" | "False"
  readonly reason: string
  readonly message: string
}

export type ObservedConditions = ReadonlyArray<{
  type?: string
  status?: string
  reason?: string
  message?: string
  lastTransitionTime?: string
}>

/** Whether the observed Ready condition already says `want`. */
export const readySays = (conditions: ObservedConditions | undefined, want: ReadyCondition): boolean => {
  const current = conditions?.find((c) => c.type === "Ready")
  return current?.status === want.status && current.reason === want.reason && current.message === want.message
}

/** The conditions with Ready set to `want`; its transition time stays unless the status flips. */
export const withReady = (
  conditions: ObservedConditions | undefined,
  want: ReadyCondition,
  generation: number | undefined,
  now: string
): Array<object> => {
  const current = conditions?.find((c) => c.type === "Ready")
  const transitioned = current?.status !== want.status
  return [...(conditions ?? []).filter((c) => c.type !== "Ready"), {
    type: "Ready",
    status: want.status,
    reason: want.reason,
    message: want.message,
    lastTransitionTime: transitioned || current?.lastTransitionTime === undefined ? now : current.lastTransitionTime,
    ...(generation === undefined ? {} : { observedGeneration: generation })
  }]
}

/** Remembers what was written per object for `windowMs`, the time a watch takes to echo it back. */
export const makeEchoGuard = (windowMs = 30_000) => {
  const written = new Map<string, { readonly what: string; readonly at: number }>()
  return {
    recent: (name: string, what: unknown): boolean => {
      const last = written.get(name)
      return last !== undefined && last.what === JSON.stringify(what) && Date.now() - last.at < windowMs
    },
    wrote: (name: string, what: unknown): void => {
      const now = Date.now()
      for (const [other, last] of written) if (now - last.at >= windowMs) written.delete(other)
      written.set(name, { what: JSON.stringify(what), at: now })
    }
  }
}
