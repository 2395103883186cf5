/**
 * What a provider type is to the gateway: a conversation in, an answer out (whole, or as a stream of
 * IR events). `backends.ts` builds one per provider type, from its wire format's codec, its endpoint
 * and the shared Upstream; the mock answers by itself.
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { GatewayError } from "../errors.ts"
import type { Conversation } from "../ir/conversation.ts"
import type { Completion, StreamEvent } from "../ir/response.ts"
import type { ResolvedProvider } from "../providers/provider.ts"
import type { UpstreamShape } from "./upstream.ts"

export interface BackendOptions {
  /** `max_tokens` for providers that require one when the client sent none */
  readonly defaultMaxTokens: number
}

/** What comes with a call beside the conversation: the client's headers a provider of its dialect gets. */
export interface CallContext {
  /** the client's `anthropic-beta`, for Anthropic providers */
  readonly anthropicBeta?: string | undefined
}

export interface LlmBackend {
  readonly complete: (conversation: Conversation, provider: ResolvedProvider, context?: CallContext) => Effect.Effect<Completion, GatewayError>
  /** Follows the stream contract in `ir/response.ts`; a failure mid-way is a GatewayError in the stream. */
  readonly stream: (conversation: Conversation, provider: ResolvedProvider, context?: CallContext) => Stream.Stream<StreamEvent, GatewayError>
}

export type BackendFactory = (upstream: UpstreamShape, options: BackendOptions) => LlmBackend
