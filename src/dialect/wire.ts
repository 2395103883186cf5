/**
 * What a wire format is to the gateway, provider side: how a conversation becomes a request, and how
 * the provider's answer, whole or streamed, becomes IR. `llm/backends.ts` puts a codec together with
 * the Upstream client and the provider's endpoint; the client side of the same wire format (requests
 * from clients, answers to them) lives in the same folder.
 */
import { type Effect, Result, type Schema, type Stream } from "effect"
import type { Sse } from "effect/encoding"
import type { GatewayError } from "../errors.ts"
import type { Conversation } from "../ir/conversation.ts"
import type { Completion, StreamEvent } from "../ir/response.ts"

export interface ProviderCodec<Options> {
  /** the request body for a conversation; `options` are the provider's variant of the format */
  readonly encodeRequest: (c: Conversation, stream: boolean, options: Options) => Record<string, unknown>
  readonly decodeAnswer: (provider: string, json: unknown) => Effect.Effect<Completion, GatewayError>
  /** follows the stream contract in ir/response.ts; a stream that ends before its answer is complete fails */
  readonly decodeStream: (provider: string, events: Stream.Stream<Sse.Event, GatewayError>) => Stream.Stream<StreamEvent, GatewayError>
}

/** The data of an SSE event decoded with `schema`, or undefined when it is not JSON of that shape. */
export const eventData = <S extends Schema.Top>(decode: (u: unknown) => Result.Result<S["Type"], unknown>, data: string): S["Type"] | undefined => {
  let json: unknown
  try {
    json = JSON.parse(data)
  } catch {
    return undefined
  }
  const decoded = decode(json)
  return Result.isSuccess(decoded) ? decoded.success : undefined
}
