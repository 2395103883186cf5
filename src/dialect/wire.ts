/**
 * What a wire format is to the gateway, on both sides, one folder each (`dialect/<format>/`):
 *
 * - client side (`ClientFormat`, in `client.ts`): a client's request decoded into IR, answers encoded
 *   back, whole or streamed, errors in its envelope, and which provider types speak it natively (to
 *   them a request passes through untouched);
 * - provider side (`ProviderCodec`, in `provider.ts`): how a conversation becomes a provider's request,
 *   and how its answer, whole or streamed, becomes IR. `llm/backends.ts` puts a codec together with
 *   the Upstream client and the provider's endpoint.
 */
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Sse from "effect/encoding/Sse"
import type { GatewayError } from "../errors.ts"
import type { Conversation, ToolDefinition } from "../ir/conversation.ts"
import type { AnswerEvent, Completion, StreamEvent } from "../ir/response.ts"
import type { ProviderType } from "../kube/resources.ts"
import type { RelayDialect } from "./relay.ts"
import type { ProgressStyle } from "./tool-progress.ts"

export interface ProviderCodec<Options> {
  /** the request body for a conversation; `options` are the provider's variant of the format */
  readonly encodeRequest: (c: Conversation, stream: boolean, options: Options) => Record<string, unknown>
  /** one of the request's `tools` (its JSON text is kept per definition: a server tool's is the same in every request) */
  readonly encodeTool: (t: ToolDefinition) => Record<string, unknown>
  readonly decodeAnswer: (provider: string, json: unknown) => Effect.Effect<Completion, GatewayError>
  /** follows the stream contract in ir/response.ts; a stream that ends before its answer is complete fails */
  readonly decodeStream: (provider: string, events: Stream.Stream<Sse.Event, GatewayError>) => Stream.Stream<StreamEvent, GatewayError>
}

/** What `eventJson` gives for data that is not JSON. */
export const notJson: unique symbol = Symbol("not JSON")

/** An SSE event's data parsed, or `notJson`. */
export const eventJson = (data: string): unknown => {
  try {
    return JSON.parse(data)
  } catch {
    return notJson
  }
}

/** An SSE event's data (as `eventJson` parsed it) decoded with `schema`, or undefined when it is not JSON of that shape. */
export const eventData = <S extends Schema.Top>(decode: (u: unknown) => Result.Result<S["Type"], unknown>, json: unknown): S["Type"] | undefined => {
  if (json === notJson) return undefined
  const decoded = decode(json)
  return Result.isSuccess(decoded) ? decoded.success : undefined
}

/** How a provider's stream of events becomes IR events. */
export interface EventDecoding<A, B> {
  /** one event into zero or more IR events, or the failure that ends the stream */
  readonly decode: (event: A) => Result.Result<ReadonlyArray<B>, GatewayError>
  /** whether the answer is over with this event (nothing after it is read) */
  readonly ends: (event: A, decoded: ReadonlyArray<B>) => boolean
  /** what follows once it is over (or once the events ran out): more IR events, or why the answer is not whole */
  readonly atEnd: () => Result.Result<ReadonlyArray<B>, GatewayError>
  /** whether a decoded event is the answer's output (not its opening): the first one leaves without waiting for the rest of its chunk */
  readonly isOutput: (decoded: B) => boolean
}

/** An IR stream event that is the model's output: text, thinking or a tool call. */
export const isModelOutput = (event: StreamEvent): boolean => event.type !== "start" && event.type !== "finish"

/**
 * A provider's events decoded a chunk at a time, in one stage: the events that arrived together stay
 * one chunk, and so leave in one write, but for the answer's first output, which leaves with what came
 * before it while the rest of its chunk waits for the next pull (a provider that sends its answer in
 * one burst would otherwise hold the first token until the whole burst is translated). A failure ends
 * the stream after what was decoded before it.
 */
export const decodeEvents = <A, B>(events: Stream.Stream<A, GatewayError>, { atEnd, decode, ends, isOutput }: EventDecoding<A, B>): Stream.Stream<B, GatewayError> =>
  Stream.transformPull(events, (pull) =>
    Effect.sync(() => {
      let over = false
      let failure: GatewayError | undefined
      let outputSeen = false
      /** what is left of a chunk cut after the first output */
      let rest: ReadonlyArray<A> | undefined
      const end = (out: Array<B>) => {
        over = true
        const last = atEnd()
        if (Result.isFailure(last)) failure = last.failure
        else out.push(...last.success)
      }
      const decodeInto = (chunk: ReadonlyArray<A>, out: Array<B>) => {
        for (let i = 0; i < chunk.length; i++) {
          const event = chunk[i]!
          const decoded = decode(event)
          if (Result.isFailure(decoded)) {
            failure = decoded.failure
            return
          }
          out.push(...decoded.success)
          if (ends(event, decoded.success)) return end(out)
          if (!outputSeen && decoded.success.some(isOutput)) {
            outputSeen = true
            if (i + 1 < chunk.length) return void (rest = chunk.slice(i + 1))
          }
        }
      }
      const sent = (out: Array<B>) => (Arr.isArrayNonEmpty(out) ? Effect.succeed(out) : next)
      const next: Pull.Pull<Arr.NonEmptyReadonlyArray<B>, GatewayError> = Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        if (over) return Cause.done()
        const out: Array<B> = []
        if (rest !== undefined) {
          const chunk = rest
          rest = undefined
          decodeInto(chunk, out)
          return sent(out)
        }
        return Effect.flatMap(Pull.catchDone(pull, () => Effect.succeed(undefined)), (chunk) => {
          if (chunk === undefined) end(out)
          else decodeInto(chunk, out)
          // nothing to send yet: the failure, the end, or the next chunk
          return sent(out)
        })
      })
      return next
    }))

/**
 * Something in a valid request that the IR cannot carry: a provider of the client's format still gets
 * it; towards another format it is left out, unless the answer cannot be given without it.
 */
export interface Untranslatable {
  /** where it is, as a path (`messages.0.content.2`) */
  readonly param: string
  readonly message: string
  /** the answer cannot be given without it (`n` > 1): a 400 towards another format */
  readonly essential?: true
}

/** A client's request in IR. */
export interface DecodedRequest<Extra = unknown> {
  readonly conversation: Conversation
  readonly untranslatable: ReadonlyArray<Untranslatable>
  /** what only this dialect's encoders need (OpenAI's `include_usage`) */
  readonly extra: Extra
}

/** How an answer is shown to the client, beside the request it answers. */
export interface AnswerMeta {
  /** the model id the client asked for: every answer echoes it */
  readonly model: string
  /** how server-side tool progress shows in a stream */
  readonly progress: ProgressStyle
  /** how long a stream may stay silent before a keep-alive */
  readonly keepAliveMs: number
  /**
   * given the whole answer as the client gets it, once it is complete, before its last event leaves
   * (the Responses store); a format that keeps nothing ignores it
   */
  readonly onComplete?: ((answer: object) => Effect.Effect<void>) | undefined
}

export interface ErrorEnvelope {
  readonly status: number
  readonly body: object
  readonly headers: Readonly<Record<string, string>>
}

/** A format's error envelope: its status and body for the error, and `retry-after` when the error says when. */
export const errorEnvelopeOf = (statusOf: (error: GatewayError) => number, errorBody: (error: GatewayError) => object) =>
(error: GatewayError): ErrorEnvelope => ({
  status: statusOf(error),
  body: errorBody(error),
  headers: {
    ...(error.retryAfter === undefined ? {} : { "retry-after": String(error.retryAfter) }),
    ...(error.retryAfterMs === undefined ? {} : { "retry-after-ms": String(error.retryAfterMs) })
  }
})

export type ClientDialect = "openai" | "anthropic"

/**
 * A wire format as clients speak it. `Prepared` is what its door looks up before the request is
 * decoded (the Responses API's stored conversation), `undefined` for formats that need nothing.
 */
export interface ClientFormat<Extra = unknown, Prepared = undefined> {
  readonly name: ClientDialect | "responses"
  /** provider types that speak this format: a request to them may pass through untouched */
  readonly nativeTo: ReadonlyArray<ProviderType>
  /** `model` is the model id the resolved Provider is sent */
  readonly decodeRequest: (body: unknown, model: string, prepared: Prepared) => Result.Result<DecodedRequest<Extra>, GatewayError>
  readonly encodeAnswer: (completion: Completion, request: DecodedRequest<Extra>, meta: AnswerMeta) => object
  /** the answer as SSE text; a failure in `events` ends it with the format's error event */
  readonly encodeStream: (events: Stream.Stream<AnswerEvent, GatewayError>, request: DecodedRequest<Extra>, meta: AnswerMeta) => Stream.Stream<string>
  /** a provider of this format's answer, relayed */
  readonly relayed: RelayDialect
  readonly errorEnvelope: (error: GatewayError) => ErrorEnvelope
  /** what of the request only this format carries (top-level fields, cache hints): a provider of type `towards`, of another format, will not get it */
  readonly onlyHere: (conversation: Conversation, towards: ProviderType) => ReadonlyArray<string>
}
