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

type Kind = "requests" | "tokens"

// the names written out, not built per answer: an object of constant keys is made quickly
const openaiNames = {
  requests: ["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"],
  tokens: ["x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"]
} as const
const anthropicNames = {
  requests: ["anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"],
  tokens: ["anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"]
} as const

const anthropicReset = (resetAt: number) => new Date(Math.ceil(resetAt / 1000) * 1000).toISOString().replace(".000Z", "Z")

export const rateLimitHeaders = (dialect: ClientDialect, state: RateLimitState | undefined, now: number = Date.now()): Record<string, string> => {
  const headers: Record<string, string> = {}
  if (state === undefined) return headers
  const render = (what: Kind, s: LimitStanding | undefined) => {
    if (s === undefined) return
    const [limit, remaining, reset] = dialect === "openai" ? openaiNames[what] : anthropicNames[what]
    headers[limit] = String(s.limit)
    headers[remaining] = String(s.remaining)
    headers[reset] = dialect === "openai" ? resetDuration(s.resetAt - now) : anthropicReset(s.resetAt)
  }
  render("requests", state.requests)
  render("tokens", state.tokens)
  return headers
}
