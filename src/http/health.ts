/**
 * Liveness and readiness, for kubelet probes and load balancers, and the clients' own connectivity
 * probes: Claude Code sends `HEAD` to its base URL (`/anthropic`) and to `/anthropic/api/hello` before
 * the first request.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Limiter } from "../limits/limiter.ts"
import { ProviderRegistry } from "../providers/registry.ts"

/** Flipped when the process starts to shut down, so readiness fails before connections close. */
export class Lifecycle extends Context.Service<Lifecycle, { draining: boolean }>()("orka/Lifecycle") {}

export const HealthRoutes = HttpRouter.use(Effect.fn(function*(router) {
  const registry = yield* ProviderRegistry
  const limiter = yield* Limiter
  const lifecycle = yield* Lifecycle
  yield* router.add("GET", "/healthz", HttpServerResponse.jsonUnsafe({ status: "ok" }))
  // the router answers HEAD with the GET route, with or without a trailing slash
  for (const path of ["/anthropic", "/anthropic/api/hello", "/openai/v1"] as const) {
    yield* router.add("GET", path, HttpServerResponse.jsonUnsafe({ status: "ok" }))
  }
  yield* router.add("GET", "/readyz", Effect.gen(function*() {
    if (lifecycle.draining) return HttpServerResponse.jsonUnsafe({ status: "shutting down" }, { status: 503 })
    if (!(yield* registry.isSynced)) return HttpServerResponse.jsonUnsafe({ status: "loading providers" }, { status: 503 })
    return limiter.loaded()
      ? HttpServerResponse.jsonUnsafe({ status: "ready" })
      : HttpServerResponse.jsonUnsafe({ status: "loading client policies" }, { status: 503 })
  }))
}))
