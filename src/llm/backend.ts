/**
 * A provider type's wire format. Each backend encodes the neutral conversation into its provider's
 * request, calls it through `Upstream` (which owns retries and status mapping) and decodes the answer
 * back into IR. Adding a provider type is one file that exports a `BackendFactory`.
 */
import type { Effect, Stream } from "effect"
import type { GatewayError } from "../errors.ts"
import type { Conversation } from "../ir/conversation.ts"
import type { Completion, StreamEvent } from "../ir/response.ts"
import type { ResolvedProvider } from "../providers/provider.ts"
import type { UpstreamShape } from "./upstream.ts"

export interface BackendOptions {
  /** `max_tokens` for providers that require one when the client sent none */
  readonly defaultMaxTokens: number
}

export interface LlmBackend {
  readonly complete: (conversation: Conversation, provider: ResolvedProvider) => Effect.Effect<Completion, GatewayError>
  /** Follows the stream contract in `ir/response.ts`; a failure mid-way is a GatewayError in the stream. */
  readonly stream: (conversation: Conversation, provider: ResolvedProvider) => Stream.Stream<StreamEvent, GatewayError>
}

export type BackendFactory = (upstream: UpstreamShape, options: BackendOptions) => LlmBackend
