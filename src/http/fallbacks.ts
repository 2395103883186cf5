/**
 * A chat served by its Provider or, when that one fails with a retryable error before anything
 * reached the client (429, 5xx, 529, a timeout, no connection: the Upstream's own retries already
 * spent) or is cooling down, by the Provider's `spec.fallbacks` in order, each in the client's own
 * format (a fallback of another type is translated). A failure after the answer started is the
 * answer's: its stream ends with an error event, as without fallbacks.
 *
 * Which one served is said in the `x-orka-provider` header, the access log (`served_by`,
 * `fallbacks`) and `orka_fallbacks_total`; a Provider failing again and again is skipped for a
 * while (`providers/cooldown.ts`) when a fallback can serve instead.
 */
import { Cause, Effect, Exit, Metric, type Scope } from "effect"
import { type HttpServerRequest, HttpServerResponse } from "effect/http"
import { type GatewayError, gatewayError } from "../errors.ts"
import { labelled, metrics } from "../metrics.ts"
import { Cooldown } from "../providers/cooldown.ts"
import { CurrentRequest } from "../request-note.ts"
import type { AdmittedChat } from "./admit.ts"

type Serve = (chat: AdmittedChat) => Effect.Effect<HttpServerResponse.HttpServerResponse, GatewayError, HttpServerRequest.HttpServerRequest | Scope.Scope>

export const makeFallbacks = (admitFallback: (chat: AdmittedChat, fallback: AdmittedChat["provider"]["fallbacks"][number]) => Effect.Effect<AdmittedChat, GatewayError>) =>
  Effect.gen(function*() {
    const cooldown = yield* Cooldown
    const fellBack = labelled(metrics.fallbacks)

    return (chat: AdmittedChat, serve: Serve) =>
      Effect.gen(function*() {
        const current = yield* CurrentRequest
        const tried: Array<string> = []
        let failure: GatewayError | undefined
        let skipped: AdmittedChat | undefined
        const candidates = [undefined, ...chat.provider.fallbacks]
        for (const [i, fallback] of candidates.entries()) {
          const last = i === candidates.length - 1
          const next = fallback === undefined ? Exit.succeed(chat) : yield* Effect.exit(admitFallback(chat, fallback))
          // a fallback that is missing or not ready is passed over, as a failed one is
          if (Exit.isFailure(next)) {
            failure ??= Cause.squash(next.cause) as GatewayError
            continue
          }
          const candidate = next.value
          const from = tried.at(-1)
          const reason = failure?.kind ?? "cooldown"
          // skipped only while something else can serve: alone, a Provider is always tried
          if (!last && !cooldown.admits(candidate.provider.name)) {
            skipped ??= candidate
            tried.push(candidate.provider.name)
            continue
          }
          if (from !== undefined) yield* Metric.update(fellBack({ from, to: candidate.provider.name, reason }), 1)
          const served = yield* Effect.exit(serve(candidate))
          if (Exit.isSuccess(served)) {
            cooldown.succeeded(candidate.provider.name)
            if (current !== undefined) Object.assign(current.note, { served_by: `${candidate.provider.name}/${candidate.model}`, fallbacks: i })
            return HttpServerResponse.setHeader(served.value, "x-orka-provider", candidate.provider.name)
          }
          if (Cause.hasInterruptsOnly(served.cause)) return yield* Effect.failCause(served.cause)
          const error = Cause.squash(served.cause) as GatewayError
          // the caller's own error: the Provider answered, so it is up
          if (error.retryable !== true) {
            cooldown.succeeded(candidate.provider.name)
            return yield* Effect.failCause(served.cause)
          }
          cooldown.failed(candidate.provider.name)
          failure = error
          tried.push(candidate.provider.name)
          if (last) return yield* Effect.failCause(served.cause)
        }
        // the fallbacks could not even be tried: the one cooling down is better than none
        if (skipped !== undefined) return HttpServerResponse.setHeader(yield* serve(skipped), "x-orka-provider", skipped.provider.name)
        return yield* Effect.fail(failure ?? gatewayError("internal", "no provider could be tried"))
      })
  })
