/**
 * Cluster mode: the KubeClient caches filled by informers (list, then watch from the last
 * resourceVersion; a 410 re-lists). An informer that fails is restarted with backoff while its cache
 * keeps serving; only a cache that never synced keeps the gateway unready. An optional resource
 * whose CRD is not installed (ClientPolicy) is synced empty, and found once it is installed.
 */
import { KubeConfig, makeInformer, ADD, DELETE, ERROR, UPDATE, CoreV1Api, CustomObjectsApi, type KubernetesObject } from "@kubernetes/client-node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { GatewayConfig, type GatewayConfigShape } from "../config.ts"
import { KubeClient, type KubeObject } from "./client.ts"
import { labelled, metrics } from "../metrics.ts"
import { makeMemoryCache, type MemoryCache } from "./memory-cache.ts"
import { PolicyGroup } from "./client-policy.ts"
import { Group, Version } from "./resources.ts"

const watchErrors = labelled(metrics.watchErrors)
const watchRestarts = labelled(metrics.watchRestarts)

export const loadKubeConfig = (config: Pick<GatewayConfigShape, "kubeconfig">): KubeConfig => {
  const kc = new KubeConfig()
  if (config.kubeconfig !== undefined) kc.loadFromFile(config.kubeconfig)
  else kc.loadFromDefault()
  return kc
}

interface Watched {
  readonly resource: string
  /** list items of built-in types come without apiVersion and kind: the cache fills them in */
  readonly apiVersion: string
  readonly kind: string
  readonly path: string
  readonly list: () => Promise<{ items: Array<KubernetesObject>; metadata?: { resourceVersion?: string } }>
  /** for a resource whose CRD may not be installed: a 404 then means no objects, and this is logged once */
  readonly whenMissing?: string
}

const retryDelays = [500, 1000, 2000, 4000, 8000, 15000, 30000]

/** Runs one informer into `target` for the life of the layer. */
const runInformer = (kc: KubeConfig, watched: Watched, target: MemoryCache) =>
  Effect.gen(function*() {
    let listed = false
    let failures = 0
    let missing = false
    const informer = makeInformer(kc, watched.path, async () => {
      const list = await watched.list()
      listed = true
      failures = 0
      missing = false
      return list
    })
    const services = yield* Effect.context<never>()
    const run = Effect.runForkWith(services)
    // Typed clients hand back class instances with Date fields: the cache keeps plain JSON, as the API sent it.
    const sync = () =>
      run(target.replace(informer.list().map((o): KubeObject => ({ apiVersion: watched.apiVersion, kind: watched.kind, ...JSON.parse(JSON.stringify(o)) }))))
    let restart: ReturnType<typeof setTimeout> | undefined
    let stopped = false

    // start() also resolves after a failed list: only a list that answered marks the cache synced.
    const start = () => void informer.start().then(() => listed && !missing && sync())
    for (const verb of [ADD, UPDATE, DELETE] as const) {
      informer.on(verb, () => {
        failures = 0
        sync()
      })
    }
    informer.on(ERROR, (error) => {
      if (stopped) return // stopping aborts the watch, which reports that as an error: not one to retry
      const delay = retryDelays[Math.min(failures++, retryDelays.length - 1)]!
      if (watched.whenMissing !== undefined && statusOf(error) === 404) {
        // not an outage: there are no such objects until the CRD is installed, which the retries below notice
        if (!missing) {
          run(target.replace([]).pipe(Effect.andThen(Effect.logWarning(watched.whenMissing)), Effect.annotateLogs({ resource: watched.resource })))
        }
        missing = true
      } else {
        run(Effect.logWarning("kubernetes watch failed; cached objects keep serving").pipe(
          Effect.annotateLogs({ resource: watched.resource, error: describe(error), retry_in_ms: delay }),
          Effect.andThen(Metric.update(watchErrors({ resource: watched.resource }), 1))
        ))
      }
      clearTimeout(restart)
      restart = setTimeout(() => {
        run(Metric.update(watchRestarts({ resource: watched.resource }), 1))
        start()
      }, delay)
    })
    yield* Effect.acquireRelease(
      Effect.sync(start),
      // a watch that will not close must not hold up shutdown
      () =>
        Effect.promise(() => {
          stopped = true
          clearTimeout(restart)
          return informer.stop()
        }).pipe(Effect.timeoutOption("2 seconds"), Effect.asVoid)
    )
  })

/** The HTTP status of a failed list (`code`) or watch (`statusCode`), when the API server answered. */
const statusOf = (error: unknown): unknown => {
  const failed = error as { code?: unknown; statusCode?: unknown } | undefined
  return failed?.code ?? failed?.statusCode
}

const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message.split("\n")[0] ?? error.name
  return `status ${String(statusOf(error) ?? "unknown")}`
}

export const layer = Layer.effect(
  KubeClient,
  Effect.gen(function*() {
    const config = yield* GatewayConfig
    const kc = loadKubeConfig(config)
    const ns = config.namespace
    const core = kc.makeApiClient(CoreV1Api)
    const custom = kc.makeApiClient(CustomObjectsApi)
    const providers = yield* makeMemoryCache
    const secrets = yield* makeMemoryCache
    const tools = yield* makeMemoryCache
    const clientPolicies = yield* makeMemoryCache

    yield* runInformer(kc, {
      resource: "providers",
      apiVersion: `${Group}/${Version}`,
      kind: "Provider",
      path: `/apis/${Group}/${Version}/namespaces/${ns}/providers`,
      list: () => custom.listNamespacedCustomObject({ group: Group, version: Version, namespace: ns, plural: "providers" })
    }, providers)
    yield* runInformer(kc, {
      resource: "secrets",
      apiVersion: "v1",
      kind: "Secret",
      path: `/api/v1/namespaces/${ns}/secrets`,
      list: () => core.listNamespacedSecret({ namespace: ns }) as never
    }, secrets)
    yield* runInformer(kc, {
      resource: "tools",
      apiVersion: `${Group}/${Version}`,
      kind: "Tool",
      path: `/apis/${Group}/${Version}/namespaces/${ns}/tools`,
      list: () => custom.listNamespacedCustomObject({ group: Group, version: Version, namespace: ns, plural: "tools" })
    }, tools)
    yield* runInformer(kc, {
      resource: "clientpolicies",
      apiVersion: `${PolicyGroup}/${Version}`,
      kind: "ClientPolicy",
      path: `/apis/${PolicyGroup}/${Version}/namespaces/${ns}/clientpolicies`,
      list: () => custom.listNamespacedCustomObject({ group: PolicyGroup, version: Version, namespace: ns, plural: "clientpolicies" }),
      whenMissing: "the ClientPolicy CRD is not installed: no ClientPolicy applies until it is (k8s/crds/clientpolicies.gateway.orka.ai.yaml)"
    }, clientPolicies)
    return KubeClient.of({ providers: providers.cache, secrets: secrets.cache, tools: tools.cache, clientPolicies: clientPolicies.cache })
  })
)
