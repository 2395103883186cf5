/**
 * The gateway as layers: routes over the services, each service from config. `main.ts` serves it on
 * the configured address; tests serve the same layers on a loopback port with fakes swapped in.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Layer } from "effect"
import { HttpRouter } from "effect/http"
import { createServer } from "node:http"
import { Authenticator } from "./auth/auth.ts"
import * as TokenFile from "./auth/token-file.ts"
import { ConfigError, GatewayConfig, type GatewayConfigShape } from "./config.ts"
import { AccessLog } from "./http/access-log.ts"
import { FallbackRoutes } from "./http/fallback.ts"
import { HealthRoutes, Lifecycle } from "./http/health.ts"
import { OpenAIRoutes } from "./http/openai-routes.ts"
import type { KubeClient } from "./kube/client.ts"
import * as Manifests from "./kube/manifests.ts"
import { Backends } from "./llm/backends.ts"
import { Upstream } from "./llm/upstream.ts"
import * as Log from "./log.ts"
import { ProviderRegistry } from "./providers/registry.ts"

export const Routes = Layer.mergeAll(OpenAIRoutes, HealthRoutes, FallbackRoutes, AccessLog)

export interface AppParts {
  readonly config: GatewayConfigShape
  readonly kube: Layer.Layer<KubeClient, unknown, GatewayConfig>
  readonly auth: Layer.Layer<Authenticator, unknown>
  readonly lifecycle: { draining: boolean }
  /** defaults to the undici-backed Upstream */
  readonly upstream?: Layer.Layer<Upstream, never, GatewayConfig>
}

/** Everything but the socket: the result still needs an `HttpServer`. */
export const appLayer = (parts: AppParts) => {
  const configLayer = GatewayConfig.layer(parts.config)
  const upstream = (parts.upstream ?? Upstream.layer).pipe(Layer.provide(configLayer))
  const services = Layer.mergeAll(
    ProviderRegistry.layer.pipe(Layer.provide(parts.kube), Layer.provide(configLayer)),
    Backends.layer.pipe(Layer.provide(upstream), Layer.provide(configLayer)),
    upstream,
    parts.auth,
    configLayer,
    Layer.succeed(Lifecycle, parts.lifecycle)
  )
  return HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(services),
    Layer.provide(Log.layer(parts.config))
  )
}

/** How the caller is authenticated, from config; refuses unsafe combinations. */
export const authLayer = (config: GatewayConfigShape): Layer.Layer<Authenticator, unknown> => {
  if (config.tokenAuthFile !== undefined) return TokenFile.layer(config.tokenAuthFile)
  if (config.auth === "none") return Authenticator.layerNone
  if (config.manifests !== undefined) {
    throw new ConfigError({
      message: "local mode (--manifests) needs --token-auth-file FILE, or --auth none to accept requests without a token"
    })
  }
  throw new ConfigError({ message: "no cluster connection is configured: pass --manifests PATH (local mode)" })
}

export const kubeLayer = (config: GatewayConfigShape): Layer.Layer<KubeClient, unknown, GatewayConfig> => {
  if (config.manifests !== undefined) return Manifests.layer
  throw new ConfigError({ message: "no cluster connection is configured: pass --manifests PATH (local mode)" })
}

export const serverLayer = (config: GatewayConfigShape, lifecycle: { draining: boolean }) =>
  appLayer({ config, kube: kubeLayer(config), auth: authLayer(config), lifecycle }).pipe(
    Layer.provide(NodeHttpServer.layer(createServer, {
      host: config.host,
      port: config.port,
      gracefulShutdownTimeout: "30 seconds"
    }))
  )
