/** One LlmBackend per provider type, built once over the shared Upstream. */
import { Context, Effect, Layer } from "effect"
import { GatewayConfig } from "../config.ts"
import type { ProviderType } from "../kube/resources.ts"
import { anthropicBackend } from "./anthropic.ts"
import { azureOpenAIBackend } from "./azure-openai.ts"
import type { BackendFactory, LlmBackend } from "./backend.ts"
import { mockBackend } from "./mock.ts"
import { openaiBackend } from "./openai.ts"
import { Upstream } from "./upstream.ts"

const factories: Record<ProviderType, BackendFactory> = {
  anthropic: anthropicBackend,
  openai: openaiBackend,
  "azure-openai": azureOpenAIBackend,
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
        Object.entries(factories).map(([type, make]) => [type, make(upstream, options)])
      ) as Record<ProviderType, LlmBackend>
      return Backends.of({ forType: (type) => built[type] })
    })
  )
}
