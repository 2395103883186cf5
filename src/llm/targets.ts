/**
 * Where each provider type's chat endpoint is and how it authenticates: shared by the translating
 * backends and the pass-through path, so both always call the same URL with the same headers.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type GatewayError, invalidRequest } from "../errors.ts"
import type { ResolvedProvider } from "../providers/provider.ts"

export interface Target {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
}

export const anthropicVersion = "2023-06-01"

const key = (provider: ResolvedProvider): string => (provider.apiKey === undefined ? "" : Redacted.value(provider.apiKey))

/** `path` is `/v1/messages` or `/v1/messages/count_tokens`; client headers may pick the API version and betas. */
export const anthropicTarget = (
  provider: ResolvedProvider,
  path: string,
  client: { readonly version?: string | undefined; readonly beta?: string | undefined } = {}
): Target => ({
  url: `${provider.baseURL}${path}`,
  headers: {
    "x-api-key": key(provider),
    "anthropic-version": client.version ?? anthropicVersion,
    ...(client.beta === undefined ? {} : { "anthropic-beta": client.beta })
  }
})

/** OpenAI and OpenAI-compatible servers, and Azure OpenAI (deployment from the model, else the spec). */
export const openaiCompatibleTarget = (provider: ResolvedProvider, model: string): Effect.Effect<Target, GatewayError> => {
  if (provider.type !== "azure-openai") {
    return Effect.succeed({ url: `${provider.baseURL}/chat/completions`, headers: { authorization: `Bearer ${key(provider)}` } })
  }
  const deployment = model !== "" ? model : provider.azure?.deploymentName
  if (deployment === undefined) {
    return Effect.fail(invalidRequest(`provider ${provider.name} is Azure OpenAI: name a deployment as the model or set spec.azure.deploymentName`, "model"))
  }
  const version = provider.azure?.apiVersion ?? ""
  return Effect.succeed({
    url: `${provider.baseURL}/openai/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${encodeURIComponent(version)}`,
    headers: { "api-key": key(provider) }
  })
}

/**
 * The Responses API of an OpenAI provider (`/responses`), or of Azure OpenAI (its v1 API, where the
 * body's `model` is the deployment). Only for Providers that serve it (`spec.responsesAPI`).
 */
export const responsesTarget = (provider: ResolvedProvider): Target =>
  provider.type === "azure-openai"
    ? { url: `${provider.baseURL}/openai/v1/responses`, headers: { "api-key": key(provider) } }
    : { url: `${provider.baseURL}/responses`, headers: { authorization: `Bearer ${key(provider)}` } }
