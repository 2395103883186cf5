/**
 * The Providers the gateway serves, validated and joined with their Secrets, rebuilt from the
 * KubeClient caches whenever they change. `resolve` and `list` only read memory: they are the hot path.
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { GatewayConfig } from "../config.ts"
import { type GatewayError, gatewayError, invalidRequest } from "../errors.ts"
import { KubeClient, type KubeObject, makeRejectionLog, rebuildOnChange } from "../kube/client.ts"
import { Provider, secretsByKey } from "../kube/resources.ts"
import { Redactor } from "../redact.ts"
import { describeIssues } from "../schema-text.ts"
import { type Fallback, listedModels, type NotReady, resolveProvider, type ResolvedProvider } from "./provider.ts"

export interface Resolution {
  readonly provider: ResolvedProvider
  /** the model id to send upstream */
  readonly model: string
}

export interface ListedModel {
  readonly id: string
  readonly provider: ResolvedProvider
}

export interface RegistrySnapshot {
  readonly ready: ReadonlyMap<string, ResolvedProvider>
  /** Providers that exist but cannot serve, with the reason (also logged once per change). */
  readonly notReady: ReadonlyMap<string, NotReady>
}

export interface ProviderRegistryShape {
  readonly resolve: (model: string) => Effect.Effect<Resolution, GatewayError>
  readonly models: () => ReadonlyArray<ListedModel>
  readonly snapshot: () => RegistrySnapshot
  /** the Provider a model id names when it exists but is not ready, with its `spec.fallbacks`: they serve instead */
  readonly notReady: (model: string) => { readonly provider: string; readonly fallbacks: ReadonlyArray<Fallback> } | undefined
  /** Completes once Providers and Secrets have been loaded for the first time. */
  readonly synced: Effect.Effect<void>
  readonly isSynced: Effect.Effect<boolean>
}

const decodeProvider = Schema.decodeUnknownResult(Provider)

/** Validates raw objects into a snapshot. Pure, so it is tested without any cache. */
export const buildSnapshot = (
  rawProviders: ReadonlyArray<KubeObject>,
  rawSecrets: ReadonlyArray<KubeObject>,
  namespace: string
): RegistrySnapshot => {
  const secrets = secretsByKey(rawSecrets, namespace)
  const ready = new Map<string, ResolvedProvider>()
  const notReady = new Map<string, NotReady>()
  for (const raw of rawProviders) {
    const name = raw.metadata?.name ?? "(unnamed)"
    const decoded = decodeProvider(raw)
    if (Result.isFailure(decoded)) {
      notReady.set(name, { reason: "InvalidSpec", message: describeIssues(decoded.failure), fallbacks: [] })
      continue
    }
    const resolved = resolveProvider(decoded.success, secrets, namespace)
    if (Result.isSuccess(resolved)) ready.set(name, resolved.success)
    else notReady.set(name, resolved.failure)
  }
  return { ready, notReady }
}

/** The longest model string accepted: it is logged and echoed on every answer, so it is bounded. */
export const maxModelChars = 256

/** The Provider a model id names: `provider/…`, or the default provider for a bare id. */
const providerNamed = (requested: string, chatProvider: string | undefined): string => {
  const slash = requested.indexOf("/")
  return slash >= 0 ? requested.slice(0, slash) : chatProvider ?? "default"
}

/** Model resolution over a snapshot: `provider/model`, or a bare model on the default provider. */
export const resolveModel = (
  snapshot: RegistrySnapshot,
  requested: string,
  chatProvider: string | undefined
): Result.Result<Resolution, GatewayError> => {
  if (requested.length > maxModelChars) {
    return Result.fail(invalidRequest(`model: at most ${maxModelChars} characters, got ${requested.length}`, "model"))
  }
  const slash = requested.indexOf("/")
  const providerName = providerNamed(requested, chatProvider)
  const model = slash >= 0 ? requested.slice(slash + 1) : requested

  const provider = snapshot.ready.get(providerName)
  if (provider === undefined) {
    const broken = snapshot.notReady.get(providerName)
    if (broken !== undefined) {
      return Result.fail(gatewayError("overloaded", `provider ${providerName} is not ready: ${broken.message}`, {
        code: "provider_not_ready"
      }))
    }
    if (slash < 0 && chatProvider === undefined) {
      return Result.fail(invalidRequest(
        `model "${requested}" names no provider and no default provider is configured: ` +
          `use "provider/model", start the gateway with --chat-provider, or create a Provider named "default"`,
        "model"
      ))
    }
    const what = slash < 0 ? `the default provider ${providerName} (--chat-provider)` : `provider ${providerName}`
    return Result.fail(gatewayError("not_found", `model "${requested}": ${what} does not exist`, {
      param: "model",
      code: "model_not_found"
    }))
  }
  const upstreamModel = model === "" ? provider.defaultModel : model
  if (upstreamModel === undefined) {
    return Result.fail(invalidRequest(`model "${requested}" names no model and provider ${providerName} has no defaultModel`, "model"))
  }
  return Result.succeed({ provider, model: upstreamModel })
}

/**
 * The model list: `provider/model` for every ready Provider's default and extra models, plus the
 * bare ids of the default provider (they resolve to it, so they are true entries too).
 */
export const listModels = (snapshot: RegistrySnapshot, chatProvider: string | undefined): ReadonlyArray<ListedModel> => {
  const out: Array<ListedModel> = []
  const seen = new Set<string>()
  const add = (id: string, provider: ResolvedProvider) => {
    if (seen.has(id)) return
    seen.add(id)
    out.push({ id, provider })
  }
  const providers = [...snapshot.ready.values()].sort((a, b) => a.name.localeCompare(b.name))
  for (const p of providers) for (const m of listedModels(p)) add(`${p.name}/${m}`, p)
  const fallback = snapshot.ready.get(chatProvider ?? "default")
  if (fallback !== undefined) for (const m of listedModels(fallback)) add(m, fallback)
  return out
}

export class ProviderRegistry extends Context.Service<ProviderRegistry, ProviderRegistryShape>()("orka/ProviderRegistry") {
  static readonly layer = Layer.effect(
    ProviderRegistry,
    Effect.gen(function*() {
      const kube = yield* KubeClient
      const config = yield* GatewayConfig
      const redactor = yield* Redactor
      let snapshot: RegistrySnapshot = { ready: new Map(), notReady: new Map() }
      const logRejected = makeRejectionLog("provider rejected", "provider")

      const rebuild = Effect.suspend(() => {
        snapshot = buildSnapshot(kube.providers.items(), kube.secrets.items(), config.namespace)
        redactor.register("providers", [...snapshot.ready.values()].map((p) => p.apiKey === undefined ? undefined : Redacted.value(p.apiKey)))
        return logRejected(new Map([...snapshot.notReady].map(([name, r]) => [name, `${r.reason}: ${r.message}`])))
      })

      const loaded = yield* rebuildOnChange([kube.providers, kube.secrets], rebuild)
      const chatProvider = config.chatProvider
      return ProviderRegistry.of({
        resolve: (model) => Effect.fromResult(resolveModel(snapshot, model, chatProvider)),
        models: () => listModels(snapshot, chatProvider),
        snapshot: () => snapshot,
        notReady: (model) => {
          const provider = providerNamed(model, chatProvider)
          const broken = snapshot.notReady.get(provider)
          return broken === undefined ? undefined : { provider, fallbacks: broken.fallbacks }
        },
        synced: Deferred.await(loaded),
        isSynced: Deferred.isDone(loaded)
      })
    })
  )
}
