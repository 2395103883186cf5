/**
 * The limits a chat is under, checked and charged in one step before a Provider is called (`begin`:
 * started at once, so that the request is prepared meanwhile), and settled when the request ends:
 * its reserved tokens become its real usage (a stream's, an abandoned stream's, a whole tool
 * loop's), its concurrency slot is freed. A refusal is a 429 that says which limit, when it frees up
 * (`retry-after`) and the caller's standing (the dialect's rate-limit headers); a request over no
 * limit costs a few map lookups.
 *
 * The counters are `LimitCounters` (memory, or Redis shared by every replica). When they cannot be
 * reached, --limits-on-store-failure decides: served without limits, or a 503; never a hang.
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { Identity } from "../auth/auth.ts"
import { GatewayConfig } from "../config.ts"
import { type GatewayError, gatewayError, type LimitStanding, type RateLimitState } from "../errors.ts"
import { decodeClientPolicies } from "../kube/client-policy.ts"
import { KubeClient, makeRejectionLog, rebuildOnChange } from "../kube/client.ts"
import { labelled, metrics } from "../metrics.ts"
import { outputCap, type ResolvedProvider } from "../providers/provider.ts"
import { CurrentRequest, type CurrentRequestShape } from "../request-note.ts"
import { type Charge, type Counter, LimitCounters, type LimitCountersShape, type Settlement, type Slot } from "../store/limit-counters.ts"
import { estimateTokens, indexPolicies, limitText, makeRuleCache, type PolicyIndex, type Rule } from "./rules.ts"

export interface LimitedChat {
  readonly identity: Identity
  readonly provider: ResolvedProvider
  /** the model id sent upstream */
  readonly model: string
  readonly body: Readonly<Record<string, unknown>>
  /** the body's length in characters, for the token estimate */
  readonly bodyChars: number
}

/** A request admitted under its limits: what it must do when it ends. */
export interface Ticket {
  /** its standing after the charge, for the rate-limit headers; none when no limit applies */
  readonly state: RateLimitState | undefined
  /**
   * The Provider failed before the answer started: its tokens are given back and its slots freed; its
   * request still counts against the Provider (it was called), and against the caller's policies
   * unless another Provider is tried next.
   */
  readonly refund: (fallingBack: boolean) => Effect.Effect<void>
  /** the Provider answered: settles with the request's usage, and its further calls, once it ends (its note complete) */
  readonly settleAtEnd: () => void
}

export interface LimiterShape {
  /**
   * Starts the check at once and gives what waits for its answer, so that the request is prepared
   * while a shared store answers: the Provider must not be called before that answer admitted it.
   */
  readonly begin: (chat: LimitedChat) => Effect.Effect<Effect.Effect<Ticket, GatewayError>>
  /** whether the ClientPolicies have been loaded (readiness); a request before then waits for them */
  readonly loaded: () => boolean
}

/**
 * How long a concurrency slot holds without its replica renewing it: a replica that died frees its
 * slots within this. A live one renews the slots of its requests in flight, all in one step, a few
 * times per lease (so a store that misses one renewal loses nothing).
 */
export const slotLeaseMs = 60_000
const slotRenewEveryMs = slotLeaseMs / 4

const unlimited: Ticket = { state: undefined, refund: () => Effect.void, settleAtEnd: () => {} }
const admitsAll = Effect.succeed(unlimited)

interface Charged {
  readonly rule: Rule
  readonly counter: Counter
}

/** The strictest (least remaining) of these limits, as headers show it. */
const strictest = (standings: ReadonlyArray<LimitStanding>): LimitStanding | undefined =>
  standings.reduce<LimitStanding | undefined>((a, b) => (a === undefined || b.remaining < a.remaining ? b : a), undefined)

const standingOf = (charged: ReadonlyArray<Charged>, used: ReadonlyArray<number>): RateLimitState => {
  const standing = (which: (rule: Rule) => boolean) =>
    strictest(charged.flatMap(({ counter, rule }, i) =>
      which(rule) ? [{ limit: counter.limit, remaining: Math.max(0, counter.limit - used[i]!), resetAt: counter.resetAt }] : []
    ))
  const requests = standing((rule) => rule.name === "requests_per_minute")
  const tokens = standing((rule) => rule.name !== "requests_per_minute")
  return { ...(requests === undefined ? {} : { requests }), ...(tokens === undefined ? {} : { tokens }) }
}

export const makeLimiter = (options: {
  readonly counters: LimitCountersShape
  readonly policies: () => PolicyIndex
  readonly windowMs: number
  readonly onStoreFailure: "allow" | "deny"
  readonly now?: () => number
  /** how often held slots are renewed (tests: shorter) */
  readonly renewEveryMs?: number
}) =>
  Effect.gen(function*() {
    const { counters, windowMs } = options
    const now = options.now ?? Date.now
    const run = Effect.runForkWith(yield* Effect.context<never>())
    /** the slots of this replica's requests in flight, by holder */
    const held = new Map<string, ReadonlyArray<Slot>>()
    const renew = Effect.suspend(() => {
      const at = now()
      const leases = [...held.values()].flatMap((slots) => slots.map((slot) => ({ ...slot, leaseUntil: at + slotLeaseMs })))
      return counters.renew(at, leases).pipe(Effect.ignore)
    })
    yield* renew.pipe(Effect.repeat(Schedule.spaced(options.renewEveryMs ?? slotRenewEveryMs)), Effect.forkScoped)
    const refused = labelled(metrics.rateLimited)
    const storeFailed = labelled(metrics.limitStoreFailures)({ decision: options.onStoreFailure })

    /** The refusal for the limit that frees up last (the one the caller must wait for). */
    const refusal = (provider: string, at: number, charged: ReadonlyArray<Charged>, slots: ReadonlyArray<{ rule: Rule; slot: Slot }>, result: Charge) => {
      const blocked = [
        ...charged.flatMap(({ counter, rule }, i) => (result.used[i]! >= counter.limit ? [{ rule, resetAt: counter.resetAt }] : [])),
        ...slots.flatMap(({ rule }, i) => (result.held[i]! >= rule.limit ? [{ rule, resetAt: at + 1000 }] : []))
      ].sort((a, b) => b.resetAt - a.resetAt)[0]!
      const { rule, resetAt } = blocked
      const waitMs = Math.max(1, resetAt - at)
      const seconds = Math.ceil(waitMs / 1000)
      const budget = rule.name === "tokens_per_day" || rule.name === "tokens_per_month"
      const whose = rule.perCaller ? " per caller" : rule.source === "policy" ? " for its callers together" : ""
      const message = budget
        ? `the token budget of ${rule.owner} (${limitText(rule.name, rule.limit, windowMs)}${whose}) is spent; it resets at ${new Date(resetAt).toISOString()}`
        : rule.name === "concurrent_requests"
        ? `${rule.owner} allows ${limitText(rule.name, rule.limit, windowMs)}${whose}; try again when one has ended`
        : `${rule.owner} allows ${limitText(rule.name, rule.limit, windowMs)}${whose}; try again in ${seconds} s`
      return Effect.as(
        Metric.update(refused({ orka_provider: provider, source: rule.source, limit: rule.name }), 1),
        gatewayError("rate_limit", message, {
          code: budget ? "budget_exceeded" : "rate_limit_exceeded",
          // a spent budget comes back in hours: the SDKs should not keep trying (x-should-retry)
          retryable: !budget,
          retryAfter: seconds,
          retryAfterMs: waitMs,
          rateLimit: standingOf(charged, result.used)
        })
      )
    }

    const { counterOf, rulesOf, slotKeyOf } = makeRuleCache(options.policies, windowMs)
    /** A settlement sent without waiting for it: one lost costs only the counts' accuracy. */
    const send = (at: number, settlement: Settlement) => void run(counters.settle(at, settlement).pipe(Effect.ignore))
    /** The holders a request's slots are to be freed of. */
    const releaseOf = (slots: ReadonlyArray<{ slot: Slot }>) => slots.map(({ slot }) => ({ key: slot.key, holder: slot.holder }))

    /** The counters and slots a request charges: per-minute windows and budgets by their period, slots under a lease. */
    const chargesOf = (rules: ReadonlyArray<Rule>, at: number, estimate: number) => {
      const holder = crypto.randomUUID()
      const charged: Array<Charged> = []
      const slots: Array<{ rule: Rule; slot: Slot }> = []
      for (const rule of rules) {
        if (rule.name === "concurrent_requests") {
          slots.push({ rule, slot: { key: slotKeyOf(rule), limit: rule.limit, holder, leaseUntil: at + slotLeaseMs } })
          continue
        }
        const { key, resetAt } = counterOf(rule, rule.name, at)
        const cost = rule.name === "requests_per_minute" ? 1 : estimate
        charged.push({ rule, counter: { key, limit: rule.limit, cost, resetAt } })
      }
      return { charged, slots }
    }

    /** What an admitted request does when it ends, or when its Provider failed before answering. */
    const ticketOf = (charged: ReadonlyArray<Charged>, slots: ReadonlyArray<{ slot: Slot }>, used: ReadonlyArray<number>, estimate: number, current: CurrentRequestShape | undefined): Ticket => {
      const keys = (which: (rule: Rule) => boolean) => charged.filter((c) => which(c.rule)).map((c) => c.counter.key)
      const tokenKeys = keys((rule) => rule.name !== "requests_per_minute")
      const providerRequestKeys = keys((rule) => rule.name === "requests_per_minute" && rule.source === "provider")
      const callerRequestKeys = keys((rule) => rule.name === "requests_per_minute" && rule.source === "policy")
      const release = releaseOf(slots)
      const holder = slots[0]?.slot.holder
      if (holder !== undefined) held.set(holder, slots.map(({ slot }) => slot))
      const settle = (adjust: ReadonlyArray<{ key: string; delta: number }>) => {
        if (holder !== undefined) held.delete(holder)
        const at = now()
        // a slot is let go before the answer's last write, so the caller's next request finds it free on
        // any replica; counts alone wait until that write is out, as their command would delay it
        if (release.length > 0) send(at, { adjust, release })
        else setImmediate(() => send(at, { adjust, release }))
      }
      // the calls made so far were to Providers tried before this one
      const callsBefore = current?.note.attempts ?? 0
      return {
        state: standingOf(charged, used),
        refund: (fallingBack) =>
          Effect.sync(() =>
            settle([
              ...tokenKeys.map((key) => ({ key, delta: -estimate })),
              ...(fallingBack ? callerRequestKeys.map((key) => ({ key, delta: -1 })) : [])
            ])
          ),
        settleAtEnd: () => {
          if (current === undefined) return settle([])
          current.afterEnd.push(() => {
            const delta = usedTokens(current, estimate) - estimate
            // a tool loop's further model calls, and retries, reached the Provider too
            const moreCalls = Math.max(0, (current.note.attempts ?? 0) - callsBefore - 1)
            settle([
              ...(delta === 0 ? [] : tokenKeys.map((key) => ({ key, delta }))),
              ...(moreCalls === 0 ? [] : providerRequestKeys.map((key) => ({ key, delta: moreCalls })))
            ])
          })
        }
      }
    }

    const admit = (chat: LimitedChat): Effect.Effect<Ticket, GatewayError> => {
      const rules = rulesOf(chat.provider, chat.identity)
      if (rules.length === 0) return admitsAll
      const at = now()
      const estimate = estimateTokens(chat.bodyChars, chat.body, outputCap(chat.provider, chat.model))
      const { charged, slots } = chargesOf(rules, at, estimate)
      return Effect.gen(function*() {
        const current = yield* CurrentRequest
        const result = yield* Effect.option(counters.charge(at, charged.map((c) => c.counter), slots.map((s) => s.slot)))
        if (Option.isNone(result)) {
          // a check that timed out may still run once Redis answers: its slots are let go after it (on the
          // same connection), or they would hold for a lease; its counts stay (the request was let through or not)
          if (slots.length > 0) send(at, { adjust: [], release: releaseOf(slots) })
          yield* Metric.update(storeFailed, 1)
          if (options.onStoreFailure === "allow") return unlimited
          return yield* gatewayError("overloaded", "the limits that apply to this request cannot be checked now; try again", { retryAfter: 1 })
        }
        if (!result.value.admitted) return yield* Effect.flatMap(refusal(chat.provider.name, at, charged, slots, result.value), Effect.fail)
        return ticketOf(charged, slots, result.value.used, estimate, current)
      })
    }
    const begin = (chat: LimitedChat) => {
      const check = admit(chat)
      if (check === admitsAll) return Effect.succeed(check)
      // in memory the check answers at once; against Redis it runs on while the request is prepared,
      // to its end even if the request is interrupted (its ticket must be given back then)
      if (counters.where === "memory") return Effect.exit(check)
      return Effect.map(Effect.forkChild(check, { startImmediately: true, uninterruptible: true }), Fiber.join)
    }
    return { admit, begin }
  })

/**
 * What a request used: its usage when the provider said it; else the estimate once output began
 * (an abandoned stream whose usage never came), nothing when it never got an answer.
 */
const usedTokens = (current: CurrentRequestShape, estimate: number): number => {
  const { input_tokens, output_tokens, ttft_ms } = current.note
  if (input_tokens !== undefined || output_tokens !== undefined) return (input_tokens ?? 0) + (output_tokens ?? 0)
  return ttft_ms === undefined ? 0 : estimate
}

export class Limiter extends Context.Service<Limiter, LimiterShape>()("orka/Limiter") {
  /** ClientPolicies from the KubeClient, counters from `LimitCounters`; serves once the policies are loaded */
  static readonly layer = Layer.effect(
    Limiter,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const kube = yield* KubeClient
      let policies = indexPolicies([])
      const logRejected = makeRejectionLog("client policy rejected", "policy")
      const loaded = yield* rebuildOnChange([kube.clientPolicies], Effect.suspend(() => {
        const { invalid, valid } = decodeClientPolicies(kube.clientPolicies.items(), config.namespace)
        policies = indexPolicies(valid)
        return logRejected(invalid)
      }))
      const limiter = yield* makeLimiter({
        counters: yield* LimitCounters,
        policies: () => policies,
        windowMs: config.limitsWindow,
        onStoreFailure: config.limitsOnStoreFailure
      })
      const onceLoaded = <A, E>(f: () => Effect.Effect<A, E>) => Deferred.isDoneUnsafe(loaded) ? f() : Effect.andThen(Deferred.await(loaded), f)
      return {
        begin: (chat) => onceLoaded(() => limiter.begin(chat)),
        loaded: () => Deferred.isDoneUnsafe(loaded)
      }
    })
  )
}
