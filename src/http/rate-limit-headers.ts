/**
 * A caller's standing under its limits, as each dialect's clients read it: OpenAI's
 * `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (the reset a duration, `6m0s`) and
 * Anthropic's `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` (the reset an RFC 3339
 * time). On every answer under a limit, and on its refusals.
 */
import type { ClientDialect } from "../dialect/wire.ts"
import type { LimitStanding, RateLimitState } from "../errors.ts"

/** `1h2m3s`, `6m0s`, `12s`, `250ms`: the form OpenAI's reset headers take. */
export const resetDuration = (ms: number): string => {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`
  const total = Math.ceil(ms / 1000)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`
}

const openai = (what: "requests" | "tokens", s: LimitStanding, now: number): Record<string, string> => ({
  [`x-ratelimit-limit-${what}`]: String(s.limit),
  [`x-ratelimit-remaining-${what}`]: String(s.remaining),
  [`x-ratelimit-reset-${what}`]: resetDuration(s.resetAt - now)
})

const anthropic = (what: "requests" | "tokens", s: LimitStanding): Record<string, string> => ({
  [`anthropic-ratelimit-${what}-limit`]: String(s.limit),
  [`anthropic-ratelimit-${what}-remaining`]: String(s.remaining),
  [`anthropic-ratelimit-${what}-reset`]: new Date(Math.ceil(s.resetAt / 1000) * 1000).toISOString().replace(".000Z", "Z")
})

export const rateLimitHeaders = (dialect: ClientDialect, state: RateLimitState | undefined, now: number = Date.now()): Record<string, string> => {
  if (state === undefined) return {}
  const render = (what: "requests" | "tokens", s: LimitStanding | undefined) =>
    s === undefined ? {} : dialect === "openai" ? openai(what, s, now) : anthropic(what, s)
  return { ...render("requests", state.requests), ...render("tokens", state.tokens) }
}
