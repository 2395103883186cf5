/**
 * Authentication by TokenReview, as kube-rbac-proxy does it: the API server says whose token it is.
 * Results are cached by a SHA-256 of the token (valid ~60 s, invalid ~10 s, never past the token's own
 * expiry), and concurrent requests with one token share one review.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { hash } from "node:crypto"
import { GatewayConfig } from "../config.ts"
import { type GatewayError, gatewayError } from "../errors.ts"
import { KubeApi } from "../kube/api.ts"
import { Authenticator, type Identity, unauthenticated } from "./auth.ts"
import { makeTtlCache } from "./ttl-cache.ts"

export const validTtlMs = 60_000
export const invalidTtlMs = 10_000
export const cacheCapacity = 10_000

/** A JWT's `exp` claim in ms, read without verifying (only to never cache past it). */
export const tokenExpiry = (token: string): number | undefined => {
  const payload = token.split(".")[1]
  if (payload === undefined) return undefined
  try {
    const exp = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown }).exp
    return typeof exp === "number" ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}

export const layer = Layer.effect(
  Authenticator,
  Effect.gen(function*() {
    const api = yield* KubeApi
    const config = yield* GatewayConfig
    const cache = makeTtlCache<Identity, GatewayError>(cacheCapacity, "authentication")
    const audiences = config.tokenAudience === undefined ? [] : [config.tokenAudience]

    const review = (token: string): Effect.Effect<Identity, GatewayError> =>
      api.reviewToken(token, audiences).pipe(
        Effect.mapError((e) => gatewayError("overloaded", `authentication is unavailable: ${e.message}`)),
        Effect.flatMap((result) => {
          if (!result.authenticated || result.user === undefined) return Effect.fail(unauthenticated("invalid or expired token"))
          if (audiences.length > 0 && !audiences.some((a) => result.audiences?.includes(a))) {
            return Effect.fail(unauthenticated(`the token is not meant for audience ${audiences.join(", ")}`))
          }
          return Effect.succeed({ user: result.user.username, uid: result.user.uid, groups: result.user.groups })
        })
      )

    return Authenticator.of({
      authenticate: (token) => {
        if (token === undefined) return Effect.fail(unauthenticated("missing credentials: send Authorization: Bearer <token>"))
        const expiry = tokenExpiry(token)
        if (expiry !== undefined && expiry <= Date.now()) return Effect.fail(unauthenticated("invalid or expired token"))
        const ttl = (exit: Exit.Exit<Identity, GatewayError>) => {
          const base = Exit.isSuccess(exit) ? validTtlMs : exit.cause.reasons.some((r) => r._tag === "Fail" && r.error.kind === "authentication") ? invalidTtlMs : 0
          return expiry === undefined ? base : Math.min(base, expiry - Date.now())
        }
        return cache.get(hash("sha256", token), review(token), ttl)
      }
    })
  })
)
