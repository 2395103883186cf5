/**
 * What is known of one request as it is served, for its access log line and its metrics: the
 * routes fill it (caller, provider, model), the Upstream counts its attempts, the answer its first
 * output and its usage. The boundary makes one per request and provides it (`CurrentRequest`) to
 * the request and to its streamed body, so layers that never see the HTTP request can add to it.
 * Never a token, a key or a body. It also carries what every Provider call of the request waits for
 * first: its admission under the limits (`awaitAdmission`).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { GatewayError } from "./errors.ts"

export interface RequestNote {
  user?: string
  /** a ServiceAccount as `namespace/name`, else the user name */
  identity?: string
  provider?: string
  provider_type?: string
  model?: string
  /** whether `model` is one the Provider lists: only those name a metric series (the client picks the model id) */
  model_listed?: boolean
  /** the model the provider says answered */
  response_model?: string
  stream?: boolean
  /** whether the server-side tool loop ran */
  tools?: boolean
  /** `chat`, `messages` or `responses` */
  operation?: string
  /** the client's wire format: `openai`, `anthropic` or `responses` */
  dialect?: string
  /** ms from the request to the first output the model streamed */
  ttft_ms?: number
  input_tokens?: number
  output_tokens?: number
  cached_input_tokens?: number
  /** output tokens spent reasoning, when the provider says */
  reasoning_tokens?: number
  /** the Provider and model that answered, when it was a fallback or not */
  served_by?: string
  /** how many of the Provider's fallbacks were tried before one answered */
  fallbacks?: number
  /** calls to the provider, retries included */
  attempts?: number
  /** `unavailable`: the gateway's calls kept beside the client's could not be read (the store was away), and it went on without them */
  kept_calls?: "unavailable"
  /** a failure's kind (`invalid_request`, `rate_limit`…), code and what it said, in short */
  error_type?: string
  code?: string
  reason?: string
}

export interface CurrentRequestShape {
  /** `performance.now()` when the request arrived */
  readonly started: number
  readonly note: RequestNote
  /** read when the request ends, just before its log line (a relayed stream's usage, from its ends) */
  readonly atEnd: Array<() => void>
  /** run once the note is complete (the limits settle a request's reserved tokens from its usage) */
  readonly afterEnd: Array<() => void>
  /**
   * What a call to the Provider waits for first: the check of its limits, which runs while the
   * request is prepared (decoded, translated) and fails with their refusal. None outside limits.
   */
  admission?: Effect.Effect<unknown, GatewayError> | undefined
}

/** The request being served; none outside a request (background work, tests of one layer). */
export const CurrentRequest = Context.Reference<CurrentRequestShape | undefined>("orka/CurrentRequest", { defaultValue: () => undefined })

/** Waits for the request's admission under its limits (none outside a request or without limits): every Provider call starts with it. */
export const awaitAdmission: Effect.Effect<unknown, GatewayError> = Effect.flatMap(CurrentRequest, (current) => current?.admission ?? Effect.void)
