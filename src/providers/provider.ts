/**
 * A Provider resource joined with its Secret: everything a backend needs to call the upstream.
 * `resolveProvider` applies the spec's defaults and explains, in Provider-status terms, why an
 * object cannot serve.
 */
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type { Provider, ProviderType, Secret, SecretProblem } from "../kube/resources.ts"
import { providerDefaults, secretKey } from "../kube/resources.ts"

export interface ResolvedProvider {
  readonly name: string
  readonly namespace: string
  readonly type: ProviderType
  /** without a trailing slash */
  readonly baseURL: string
  /** absent only for types that need no key (`mock`) */
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly defaultModel: string | undefined
  /** extra model ids to list, beside the default model */
  readonly models: ReadonlyArray<string>
  readonly azure: { readonly deploymentName: string | undefined; readonly apiVersion: string } | undefined
  readonly createdAt: string | undefined
  /** `spec.tools.default`: whether requests without `X-Orka-Tools` get server-side tools */
  readonly toolsDefault: "enabled" | "disabled" | undefined
  /** `spec.fallbacks`, in order */
  readonly fallbacks: ReadonlyArray<Fallback>
  /** `spec.rateLimit`: for all of the Provider's callers together */
  readonly rateLimit: { readonly requestsPerMinute?: number; readonly tokensPerMinute?: number }
  /** the server answers the Responses API (`spec.responsesAPI`, defaulted by type and URL) */
  readonly responsesAPI: boolean
  /** `spec.maxOutputTokens` and `spec.maxOutputTokensByModel` */
  readonly maxOutputTokens: { readonly all: number | undefined; readonly byModel: Readonly<Record<string, number>> }
}

export interface Fallback {
  readonly provider: string
  readonly model?: string
}

/** The most output tokens a request to `model` may ask for, if the Provider caps it. */
export const outputCap = (p: ResolvedProvider, model: string): number | undefined => p.maxOutputTokens.byModel[model] ?? p.maxOutputTokens.all

/** Reasons match the `Ready` condition reasons written to Provider status. */
export type NotReadyReason = "InvalidSpec" | SecretProblem["reason"]

export interface NotReady {
  readonly reason: NotReadyReason
  readonly message: string
  /** its `spec.fallbacks`, when the spec could be read: they serve while it cannot */
  readonly fallbacks: ReadonlyArray<Fallback>
}

export const defaultBaseURL: Record<ProviderType, string | undefined> = {
  anthropic: "https://api.anthropic.com",
  openai: "https://api.openai.com/v1",
  "azure-openai": undefined,
  mock: "mock://local"
}

export const defaultSecretKey = providerDefaults.secretKey
export const defaultAzureApiVersion = providerDefaults.azureApiVersion

/** api.openai.com itself, not a compatible server */
export const isOpenAI = (baseURL: string): boolean => /^https:\/\/api\.openai\.com(\/|$)/.test(baseURL)

const needsKey = (type: ProviderType): boolean => type !== "mock"

const validURL = (url: string): boolean => {
  try {
    const u = new URL(url)
    return u.protocol === "http:" || u.protocol === "https:" || u.protocol === "mock:"
  } catch {
    return false
  }
}

export const resolveProvider = (
  provider: Provider,
  /** by `namespace/name` (`secretsByKey`) */
  secrets: ReadonlyMap<string, Secret>,
  fallbackNamespace: string
): Result.Result<ResolvedProvider, NotReady> => {
  const { spec, metadata } = provider
  const namespace = metadata.namespace ?? fallbackNamespace
  const fallbacks = spec.fallbacks ?? []
  const invalid = (message: string) => Result.fail<NotReady>({ reason: "InvalidSpec", message, fallbacks })

  const baseURL = (spec.baseURL ?? defaultBaseURL[spec.type])?.replace(/\/+$/, "")
  if (baseURL === undefined) return invalid(`spec.baseURL is required for type ${spec.type}`)
  if (!validURL(baseURL)) return invalid(`spec.baseURL is not an http(s) URL: ${baseURL}`)

  let apiKey: Redacted.Redacted<string> | undefined
  if (needsKey(spec.type)) {
    if (spec.secretRef === undefined) return invalid(`spec.secretRef is required for type ${spec.type}`)
    const value = secretKey(secrets, namespace, spec.secretRef.name, spec.secretRef.key ?? defaultSecretKey)
    if (Result.isFailure(value)) return Result.fail({ ...value.failure, fallbacks })
    apiKey = Redacted.make(value.success)
  }

  return Result.succeed({
    name: metadata.name,
    namespace,
    type: spec.type,
    baseURL,
    apiKey,
    // Azure routes by deployment: without a defaultModel, the deployment is the default.
    defaultModel: spec.defaultModel || (spec.type === "azure-openai" ? spec.azure?.deploymentName || undefined : undefined),
    models: spec.models ?? [],
    azure: spec.type === "azure-openai" || spec.azure !== undefined
      ? { deploymentName: spec.azure?.deploymentName || undefined, apiVersion: spec.azure?.apiVersion || defaultAzureApiVersion }
      : undefined,
    createdAt: metadata.creationTimestamp,
    toolsDefault: spec.tools?.default,
    fallbacks,
    rateLimit: spec.rateLimit ?? {},
    responsesAPI: spec.type === "openai" || spec.type === "azure-openai"
      ? spec.responsesAPI ?? (spec.type === "azure-openai" || isOpenAI(baseURL))
      : false,
    maxOutputTokens: { all: spec.maxOutputTokens, byModel: spec.maxOutputTokensByModel ?? {} }
  })
}

/** The model ids a Provider answers to in the model lists, `provider/model` first. */
export const listedModels = (p: ResolvedProvider): ReadonlyArray<string> => {
  const models = [...(p.defaultModel === undefined ? [] : [p.defaultModel]), ...p.models]
  return [...new Set(models)]
}
