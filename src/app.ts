/**
 * The gateway as layers: routes over the services, each service from config. `main.ts` serves it on
 * the configured address; tests serve the same layers on a loopback port with fakes swapped in.
 *
 * Local mode (--manifests): Providers and Secrets from files, static tokens, every caller allowed.
 * Cluster mode: informers, TokenReview + SubjectAccessReview, Provider status by the leader.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpRouter from "effect/http/HttpRouter"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { Authenticator } from "./auth/auth.ts"
import { Authorizer } from "./auth/authorizer.ts"
import * as TokenFile from "./auth/token-file.ts"
import * as TokenReview from "./auth/token-review.ts"
import { ConfigError, GatewayConfig, type GatewayConfigShape } from "./config.ts"
import { AnthropicRoutes } from "./http/anthropic-routes.ts"
import { Boundary, RequestMetrics } from "./http/boundary.ts"
import { HealthRoutes, Lifecycle } from "./http/health.ts"
import { OpenAIRoutes } from "./http/openai-routes.ts"
import { ResponsesRoutes } from "./http/responses-routes.ts"
import type { KubeClient } from "./kube/client.ts"
import * as Manifests from "./kube/manifests.ts"
import * as ProviderStatus from "./status/provider-status.ts"
import { Backends } from "./llm/backends.ts"
import { Upstream } from "./llm/upstream.ts"
import * as Log from "./log.ts"
import { Activity, IdleMemoryRelease } from "./memory.ts"
import { Limiter } from "./limits/limiter.ts"
import { LimitCounters } from "./store/limit-counters.ts"
import { Cooldown } from "./providers/cooldown.ts"
import { makeProviderHealth, ProviderHealth } from "./providers/health.ts"
import { ProviderRegistry } from "./providers/registry.ts"
import { makeRedactor, Redactor } from "./redact.ts"
import { ResponseStore } from "./store/response-store.ts"
import { ToolLoop } from "./tools/service.ts"
import { tracingLayer } from "./tracing.ts"

export const Routes = Layer.mergeAll(
  OpenAIRoutes,
  ResponsesRoutes,
  AnthropicRoutes,
  HealthRoutes,
  PrometheusMetrics.layerHttp({ path: "/metrics" }),
  Boundary
)

/** What differs between local mode, cluster mode and tests. */
export interface ModeLayers {
  readonly kube: Layer.Layer<KubeClient, unknown, GatewayConfig>
  readonly access: Layer.Layer<Authenticator | Authorizer, unknown, GatewayConfig>
  /** work that runs beside the server (Provider and Tool status), given the registry and the tool loop */
  readonly background: Layer.Layer<never, unknown, GatewayConfig | KubeClient | ProviderRegistry | ToolLoop>
}

export interface AppParts extends ModeLayers {
  readonly config: GatewayConfigShape
  readonly lifecycle: { draining: boolean }
  /** defaults to the undici-backed Upstream */
  readonly upstream?: Layer.Layer<Upstream, never, GatewayConfig | Redactor>
}

/** Everything but the socket: the result still needs an `HttpServer`. */
export const appLayer = (parts: AppParts) => {
  // one per app: the caches register the keys they read, the logger and the error envelopes mask them
  const redactor = makeRedactor()
  const base = Layer.mergeAll(
    GatewayConfig.layer(parts.config),
    Layer.effect(ProviderHealth, makeProviderHealth),
    Redactor.layer(redactor),
    Activity.layer
  )
  const kube = parts.kube.pipe(Layer.provideMerge(base))
  const registry = ProviderRegistry.layer.pipe(Layer.provideMerge(kube))
  const upstream = (parts.upstream ?? Upstream.layer).pipe(Layer.provide(base))
  // one instance: the routes run its loop, the status writer reads its snapshot
  const toolLoop = ToolLoop.layer.pipe(Layer.provide(kube))
  const services = Layer.mergeAll(
    registry,
    toolLoop,
    Backends.layer.pipe(Layer.provideMerge(upstream), Layer.provide(base)),
    parts.access.pipe(Layer.provide(base)),
    parts.background.pipe(Layer.provide(registry), Layer.provide(toolLoop)),
    IdleMemoryRelease.pipe(Layer.provide(base)),
    ResponseStore.layer.pipe(Layer.provide(base)),
    RequestMetrics.layer.pipe(Layer.provide(base)),
    Cooldown.layer.pipe(Layer.provide(base)),
    Limiter.layer.pipe(Layer.provide(LimitCounters.layer), Layer.provide(kube)),
    Layer.succeed(Lifecycle, parts.lifecycle)
  )
  return HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(services),
    Layer.provide(Log.layer(parts.config, redactor)),
    // OTEL_* from the environment: without an endpoint, no tracer and no span per request
    Layer.provide(tracingLayer(process.env))
  )
}

export const localMode = (config: GatewayConfigShape): ModeLayers => {
  const authenticator = config.tokenAuthFile !== undefined
    ? TokenFile.layer(config.tokenAuthFile)
    : config.auth === "none"
    ? Authenticator.layerNone
    : undefined
  if (authenticator === undefined) {
    throw new ConfigError({
      message: "local mode (--manifests) needs --token-auth-file FILE, or --auth none to accept requests without a token"
    })
  }
  return { kube: Manifests.layer, access: Layer.merge(authenticator, Authorizer.layerAllowAll), background: Layer.empty }
}

/** @kubernetes/client-node (some 50 MB resident) is loaded only in cluster mode. */
const loaded = <A, E, R>(load: () => Promise<{ readonly layer: Layer.Layer<A, E, R> }>): Layer.Layer<A, E, R> =>
  Layer.unwrap(Effect.map(Effect.promise(load), (module) => module.layer))

export const clusterMode = (config: GatewayConfigShape): ModeLayers => {
  const api = loaded(() => import("./kube/live-api.ts"))
  const authenticator = config.tokenAuthFile !== undefined
    ? TokenFile.layer(config.tokenAuthFile)
    : config.auth === "none"
    ? Authenticator.layerNone
    : TokenReview.layer
  return {
    kube: loaded(() => import("./kube/live.ts")),
    access: Layer.merge(authenticator, Authorizer.layerSubjectAccessReview).pipe(Layer.provide(api)),
    background: ProviderStatus.layer.pipe(Layer.provide(api))
  }
}

export const modeFor = (config: GatewayConfigShape): ModeLayers =>
  config.manifests !== undefined ? localMode(config) : clusterMode(config)
