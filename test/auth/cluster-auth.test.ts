import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Authenticator } from "../../src/auth/auth.ts"
import { Authorizer, chatAccess, providerAccess } from "../../src/auth/authorizer.ts"
import * as TokenReview from "../../src/auth/token-review.ts"
import { tokenExpiry } from "../../src/auth/token-review.ts"
import { makeTtlCache } from "../../src/auth/ttl-cache.ts"
import { GatewayConfig } from "../../src/config.ts"
import { testConfig } from "../support/config.ts"
import { KubeApi, KubeApiError, type AccessReview } from "../../src/kube/api.ts"

/** A KubeApi that counts reviews; tokens and grants are plain tables. */
const countingApi = (options: { tokens: Record<string, string>; grants: Array<string>; down?: boolean }) => {
  const calls = { tokenReviews: 0, accessReviews: 0 }
  const layer = Layer.succeed(KubeApi, {
    reviewToken: (token, audiences) =>
      Effect.gen(function*() {
        calls.tokenReviews++
        yield* Effect.sleep(5) // concurrent misses must share this one call
        if (options.down) return yield* new KubeApiError({ message: "connection refused" })
        const user = options.tokens[token]
        return user === undefined
          ? { authenticated: false, error: "token not found" }
          : { authenticated: true, user: { username: user, uid: `uid-${user}`, groups: ["g"] }, audiences: audiences.length ? audiences : ["api"] }
      }),
    reviewAccess: (r: AccessReview) =>
      Effect.sync(() => {
        calls.accessReviews++
        return { allowed: options.grants.includes(`${r.user}:${r.verb}:${r.resource}${r.name ? `/${r.name}` : ""}`) }
      }),
    patchProviderStatus: () => Effect.void,
    patchToolStatus: () => Effect.void,
    patchClientPolicyStatus: () => Effect.void,
    getLease: () => Effect.succeed(undefined),
    writeLease: () => Effect.die("unused")
  })
  return { calls, layer }
}

const jwt = (exp: number) => `h.${Buffer.from(JSON.stringify({ exp })).toString("base64url")}.s`

describe("TTL cache", () => {
  it.effect("keeps results for their TTL, evicts the least recently used beyond capacity", () =>
    Effect.gen(function*() {
      let t = 0
      const cache = makeTtlCache<number, never>(2, "test", () => t)
      let lookups = 0
      const get = (k: string) => cache.get(k, Effect.sync(() => ++lookups), () => 100)
      yield* get("a")
      yield* get("a")
      expect(lookups).toBe(1)
      t = 101
      yield* get("a")
      expect(lookups).toBe(2)
      yield* get("b")
      yield* get("c")
      expect(cache.size()).toBe(2)
    }))
})

describe("TokenReview authenticator", () => {
  it.live("10,000 requests with one token make one TokenReview, concurrent ones included", () => {
    const api = countingApi({ tokens: { good: "alice" }, grants: [] })
    return Effect.gen(function*() {
      const auth = yield* Authenticator
      const ids = yield* Effect.forEach(Array.from({ length: 10_000 }), () => auth.authenticate("good"), { concurrency: 500 })
      expect(ids[9_999]).toEqual({ user: "alice", uid: "uid-alice", groups: ["g"] })
      expect(api.calls.tokenReviews).toBe(1)
      const bad = yield* Effect.forEach(Array.from({ length: 100 }), () => Effect.flip(auth.authenticate("bad")), { concurrency: 10 })
      expect(bad[0]).toMatchObject({ kind: "authentication", message: "invalid or expired token" })
      expect(api.calls.tokenReviews).toBe(2)
    }).pipe(Effect.provide(TokenReview.layer.pipe(Layer.provide(api.layer), Layer.provide(GatewayConfig.layer(testConfig())))))
  })

  it.live("an expired JWT is refused without a review; an unreachable API server is a 503 that is not cached", () => {
    const api = countingApi({ tokens: {}, grants: [], down: true })
    return Effect.gen(function*() {
      const auth = yield* Authenticator
      expect(tokenExpiry(jwt(123))).toBe(123_000)
      const expired = yield* Effect.flip(auth.authenticate(jwt(Math.floor(Date.now() / 1000) - 10)))
      expect(expired.kind).toBe("authentication")
      expect(api.calls.tokenReviews).toBe(0)
      const down1 = yield* Effect.flip(auth.authenticate("t"))
      yield* Effect.flip(auth.authenticate("t"))
      expect(down1).toMatchObject({ kind: "overloaded" })
      expect(down1.message).not.toContain("t\"")
      expect(api.calls.tokenReviews).toBe(2)
    }).pipe(Effect.provide(TokenReview.layer.pipe(Layer.provide(api.layer), Layer.provide(GatewayConfig.layer(testConfig())))))
  })
})

describe("token audiences", () => {
  it.live("asks for --token-audience and refuses tokens issued for another", () => {
    const api = countingApi({ tokens: { good: "alice" }, grants: [] })
    let asked: ReadonlyArray<string> = []
    const recording = Layer.effect(KubeApi, Effect.gen(function*() {
      const inner = yield* KubeApi
      return { ...inner, reviewToken: (token: string, audiences: ReadonlyArray<string>) => {
        asked = audiences
        return inner.reviewToken(token, audiences).pipe(Effect.map((r) => ({ ...r, audiences: ["someone-else"] })))
      } }
    })).pipe(Layer.provide(api.layer))
    return Effect.gen(function*() {
      const auth = yield* Authenticator
      const e = yield* Effect.flip(auth.authenticate("good"))
      expect(asked).toEqual(["orka-gateway"])
      expect(e).toMatchObject({ kind: "authentication" })
      expect(e.message).toContain("audience orka-gateway")
    }).pipe(Effect.provide(TokenReview.layer.pipe(Layer.provide(recording), Layer.provide(GatewayConfig.layer(testConfig({ tokenAudience: "orka-gateway" }))))))
  })
})

describe("SubjectAccessReview authorizer", () => {
  it.live("allows granted checks, 403s the rest naming the permission, one review per distinct check", () => {
    const api = countingApi({ tokens: {}, grants: ["alice:create:chats", "alice:use:providers/openai"] })
    return Effect.gen(function*() {
      const authz = yield* Authorizer
      const alice = { user: "alice", uid: "u", groups: ["g"] }
      yield* Effect.forEach(Array.from({ length: 1000 }), () => authz.authorize(alice, chatAccess("ns")), { concurrency: 50 })
      expect(api.calls.accessReviews).toBe(1)
      yield* authz.authorize(alice, providerAccess("ns", "openai"))
      const denied = yield* Effect.flip(authz.authorize(alice, providerAccess("ns", "anthropic")))
      expect(denied.kind).toBe("permission")
      expect(denied.message).toContain(`verb "use" on resource "providers/anthropic" in API group "core.orka.ai" in namespace "ns"`)
      expect(api.calls.accessReviews).toBe(3)
    }).pipe(Effect.provide(Authorizer.layerSubjectAccessReview.pipe(Layer.provide(api.layer))))
  })
})
