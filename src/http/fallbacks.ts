/**
 * A chat served by its Provider or, when that one cannot serve before anything reached the client,
 * by the Provider's `spec.fallbacks` in order, each in the client's own format (a fallback of another
 * type is translated). A Provider cannot serve when it fails with a retryable error (429, 5xx, 529, a
 * timeout, no connection: the Upstream's own retries already spent), is not ready, is cooling down,
 * or is over a limit (its own `spec.rateLimit`, or a ClientPolicy of the caller's that covers it). A
 * failure after the answer started is the answer's: its stream ends with an error event.
 *
 * Each Provider tried is admitted under its limits first (`Limiter`): a Provider that then fails
 * gives its reserved tokens back; the one that answers settles them when the request ends, and its
 * answer carries the caller's standing in the dialect's rate-limit headers.
 *
 * Which one served is said in the `x-orka-provider` header, the access log (`served_by`,
 * `fallbacks`) and `orka_fallbacks_total`; a Provider failing again and again is skipped for a
 * while (`providers/cooldown.ts`) when a fallback can serve instead.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { type GatewayError, gatewayError } from "../errors.ts"
import { Limiter } from "../limits/limiter.ts"
import { labelled, metrics } from "../metrics.ts"
import { Cooldown } from "../providers/cooldown.ts"
import type { Fallback } from "../providers/provider.ts"
import { ProviderRegistry } from "../providers/registry.ts"
import { CurrentRequest } from "../request-note.ts"
import { type AdmittedCaller, type AdmittedChat, noteAsked } from "./admit.ts"
import { dialectOf } from "./boundary.ts"
import { rateLimitHeaders } from "./rate-limit-headers.ts"

type Serve = (chat: AdmittedChat) => Effect.Effect<HttpServerResponse.HttpServerResponse, GatewayError, HttpServerRequest.HttpServerRequest | Scope.Scope>
type AdmitFor = (caller: AdmittedCaller, requested: string) => Effect.Effect<AdmittedChat, GatewayError>

/** Why the next Provider was tried, as `orka_fallbacks_total` says it. */
type Reason = GatewayError["kind"] | "cooldown" | "not_ready" | "limit"

const squash = (cause: Cause.Cause<GatewayError>) => Cause.squash(cause) as GatewayError

/**
 * Whether another Provider may answer what this one could not: a retryable failure, or a timeout
 * (not retryable against the same Provider, whose whole wait is spent).
 */
const fallsBack = (error: GatewayError) => error.retryable || error.kind === "timeout"

export const makeFallbacks = (admitFor: AdmitFor) =>
  Effect.gen(function*() {
    const cooldown = yield* Cooldown
    const limiter = yield* Limiter
    const registry = yield* ProviderRegistry
    const fellBack = labelled(metrics.fallbacks)

    return (caller: AdmittedCaller, serve: Serve) =>
      Effect.gen(function*() {
        const current = yield* CurrentRequest
        const dialect = dialectOf(caller.request.url)
        const tried: Array<string> = []
        let failure: GatewayError | undefined
        let reason: Reason = "cooldown"
        let skipped: AdmittedChat | undefined

        /**
         * One Provider, under its limits: its answer, or why it gave none (`refused`: a limit, nothing
         * was called). The limits are checked while the request is prepared; the Provider's call waits
         * for their answer (`admission`, which `Upstream` awaits), and a refusal outranks whatever
         * serving said meanwhile, as if the check had come first.
         */
        const attempt = (chat: AdmittedChat, last: boolean) =>
          Effect.gen(function*() {
            const admission = yield* limiter.begin(chat)
            // outside a request (a layer on its own) nothing carries it to the Provider's call: waited for here
            const before = current === undefined ? yield* Effect.exit(admission) : undefined
            if (before !== undefined && Exit.isFailure(before)) return { refused: squash(before.cause) } as const
            if (current !== undefined) current.admission = admission
            const refundOnInterrupt = Effect.flatMap(Effect.exit(admission), (admitted) => Exit.isSuccess(admitted) ? admitted.value.refund(false) : Effect.void)
            const served = yield* Effect.exit(Effect.onInterrupt(serve(chat), () => refundOnInterrupt))
            const admitted = yield* Effect.exit(admission)
            if (Exit.isFailure(admitted)) return { refused: squash(admitted.cause) } as const
            const ticket = admitted.value
            if (Exit.isSuccess(served)) {
              ticket.settleAtEnd()
              const headers = { "x-orka-provider": chat.provider.name, ...rateLimitHeaders(dialect, ticket.state) }
              return { response: HttpServerResponse.setHeaders(served.value, headers) } as const
            }
            if (Cause.hasInterruptsOnly(served.cause)) return { failed: served.cause, error: undefined } as const
            const error = squash(served.cause)
            yield* ticket.refund(fallsBack(error) && !last)
            return { failed: served.cause, error } as const
          })

        const primary = yield* Effect.exit(admitFor(caller, caller.requested))
        let fallbacks: ReadonlyArray<Fallback>
        if (Exit.isSuccess(primary)) {
          noteAsked(primary.value)
          fallbacks = primary.value.provider.fallbacks
        } else {
          // a Provider that exists but is not ready is served by its fallbacks, if it has any
          const error = squash(primary.cause)
          const broken = error.code === "provider_not_ready" ? registry.notReady(caller.requested) : undefined
          if (broken === undefined || broken.fallbacks.length === 0) return yield* Effect.failCause(primary.cause)
          fallbacks = broken.fallbacks
          failure = error
          reason = "not_ready"
          tried.push(broken.provider)
        }

        const candidates = [undefined, ...fallbacks]
        for (const [i, fallback] of candidates.entries()) {
          const last = i === candidates.length - 1
          const next = fallback === undefined ? primary : yield* Effect.exit(admitFor(caller, `${fallback.provider}/${fallback.model ?? ""}`))
          // a fallback that is missing or not ready is passed over, as a failed one is
          if (Exit.isFailure(next)) {
            failure ??= squash(next.cause)
            continue
          }
          const candidate = next.value
          // skipped only while something else can serve: alone, a Provider is always tried
          if (!last && !cooldown.admits(candidate.provider.name)) {
            skipped ??= candidate
            tried.push(candidate.provider.name)
            reason = failure === undefined ? "cooldown" : reason
            continue
          }
          const from = tried.at(-1)
          if (from !== undefined) yield* Metric.update(fellBack({ from, to: candidate.provider.name, reason }), 1)
          const outcome = yield* attempt(candidate, last)
          if ("response" in outcome) {
            cooldown.succeeded(candidate.provider.name)
            if (current !== undefined) Object.assign(current.note, { served_by: `${candidate.provider.name}/${candidate.model}`, fallbacks: i })
            return outcome.response
          }
          tried.push(candidate.provider.name)
          if ("refused" in outcome) {
            // over a limit: the Provider was not called, and says nothing of its health
            failure = outcome.refused
            reason = "limit"
            // last: the one cooling down, if any, is tried below rather than refusing
            if (last && skipped === undefined) return yield* Effect.fail(outcome.refused)
            continue
          }
          const { error } = outcome
          // the caller's own error (the Provider answered, so it is up), or the caller went away
          if (error === undefined || !fallsBack(error)) {
            if (error !== undefined) cooldown.succeeded(candidate.provider.name)
            return yield* Effect.failCause(outcome.failed)
          }
          cooldown.failed(candidate.provider.name)
          failure = error
          reason = error.kind
          if (last) return yield* Effect.failCause(outcome.failed)
        }
        // the fallbacks could not even be tried, or were over a limit: the one cooling down is better than none
        if (skipped !== undefined) {
          const outcome = yield* attempt(skipped, true)
          if ("response" in outcome) {
            if (current !== undefined) Object.assign(current.note, { served_by: `${skipped.provider.name}/${skipped.model}` })
            return outcome.response
          }
          return yield* ("refused" in outcome ? Effect.fail(outcome.refused) : Effect.failCause(outcome.failed))
        }
        return yield* Effect.fail(failure ?? gatewayError("internal", "no provider could be tried"))
      })
  })
