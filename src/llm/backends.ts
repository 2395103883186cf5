/**
 * One LlmBackend per provider type, built once over the shared Upstream. A wire format's backend is
 * its codec (dialect/<format>/provider.ts) at the provider's endpoint (targets.ts), with the
 * variant of the format that provider wants; the mock answers by itself.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { GatewayConfig } from "../config.ts"
import { anthropicCodec, type AnthropicOptions } from "../dialect/anthropic/provider.ts"
import { type ChatCompletionsVariant, chatCompletionsCodec } from "../dialect/openai/provider.ts"
import type { ProviderCodec } from "../dialect/wire.ts"
import type { GatewayError } from "../errors.ts"
import type { Conversation, ToolDefinition } from "../ir/conversation.ts"
import { stringifyWithMember, textOnce } from "../json.ts"
import type { ProviderType } from "../kube/resources.ts"
import { isOpenAI, type ResolvedProvider } from "../providers/provider.ts"
import type { BackendFactory, BackendOptions, CallContext, LlmBackend } from "./backend.ts"
import { mockBackend } from "./mock.ts"
import { anthropicTarget, openaiCompatibleTarget, type Target } from "./targets.ts"
import { Upstream, type UpstreamShape } from "./upstream.ts"

interface WireBackend<Options> {
  readonly codec: ProviderCodec<Options>
  readonly target: (provider: ResolvedProvider, model: string, context: CallContext) => Effect.Effect<Target, GatewayError>
  readonly options: (provider: ResolvedProvider, backend: BackendOptions) => Options
}

/**
 * The request's text. Tool definitions are most of a request with tools on (2 KB of JSON Schema for
 * the built-ins alone), the same objects in every request: each is serialized once.
 */
const requestText = <Options>(codec: ProviderCodec<Options>, toolText: (t: ToolDefinition) => string) =>
(c: Conversation, stream: boolean, options: Options): string => {
  const request = codec.encodeRequest(c, stream, options)
  if (c.tools.length === 0) return JSON.stringify(request)
  const { tools: _, ...rest } = request
  return stringifyWithMember(rest, "tools", `[${c.tools.map(toolText).join(",")}]`)
}

const backendOf = <Options>(wire: WireBackend<Options>): BackendFactory => (upstream: UpstreamShape, backend) => {
  const encode = requestText(wire.codec, textOnce(wire.codec.encodeTool))
  const call = (c: Conversation, provider: ResolvedProvider, context: CallContext, stream: boolean) =>
    wire.target(provider, c.model, context).pipe(Effect.flatMap((target) =>
      upstream.send({
        provider: provider.name,
        ...target,
        body: encode(c, stream, wire.options(provider, backend)),
        expect: stream ? "sse" : "json",
        providerType: provider.type,
        model: c.model
      })
    ))
  return {
    complete: (c, provider, context = {}) =>
      call(c, provider, context, false).pipe(
        Effect.flatMap((response) => upstream.json(provider.name, response)),
        Effect.flatMap((json) => wire.codec.decodeAnswer(provider.name, json))
      ),
    stream: (c, provider, context = {}) =>
      Stream.unwrap(Effect.map(call(c, provider, context, true), (response) =>
        wire.codec.decodeStream(provider.name, upstream.events(provider.name, response))))
  }
}

/** Azure API versions before 2024-09-01 reject `stream_options` and `max_completion_tokens`. */
export const supportsStreamOptions = (apiVersion: string): boolean => apiVersion.slice(0, 10) >= "2024-09-01"

const chatCompletions = (variant: (provider: ResolvedProvider) => ChatCompletionsVariant): BackendFactory =>
  backendOf({ codec: chatCompletionsCodec, target: (provider, model) => openaiCompatibleTarget(provider, model), options: variant })

export const backendFactories: Record<ProviderType, BackendFactory> = {
  anthropic: backendOf<AnthropicOptions>({
    codec: anthropicCodec,
    target: (provider, _, context) => Effect.succeed(anthropicTarget(provider, "/v1/messages", { beta: context.anthropicBeta })),
    options: (_, backend) => ({ defaultMaxTokens: backend.defaultMaxTokens })
  }),
  // api.openai.com knows max_completion_tokens; compatible servers (vLLM, Ollama…) surely max_tokens
  openai: chatCompletions((provider) => ({ maxTokensField: isOpenAI(provider.baseURL) ? "max_completion_tokens" : "max_tokens", streamOptions: true })),
  "azure-openai": chatCompletions((provider) => {
    const recent = supportsStreamOptions(provider.azure?.apiVersion ?? "")
    return { maxTokensField: recent ? "max_completion_tokens" : "max_tokens", streamOptions: recent }
  }),
  mock: mockBackend
}

export class Backends extends Context.Service<Backends, {
  readonly forType: (type: ProviderType) => LlmBackend
}>()("orka/Backends") {
  static readonly layer = Layer.effect(
    Backends,
    Effect.gen(function*() {
      const upstream = yield* Upstream
      const config = yield* GatewayConfig
      const options = { defaultMaxTokens: config.defaultMaxTokens }
      const built = Object.fromEntries(
        Object.entries(backendFactories).map(([type, make]) => [type, make(upstream, options)])
      ) as Record<ProviderType, LlmBackend>
      return Backends.of({ forType: (type) => built[type] })
    })
  )
}
