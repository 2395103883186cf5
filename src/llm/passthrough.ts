/**
 * The fast path: a client and a provider that speak the same dialect, with no server-side tools.
 * The client's body goes upstream with only `model` rewritten, and the provider's bytes come back
 * as they arrive: nothing the client sent or the provider answered is reinterpreted. What is
 * checked is only whether the answer is one: a stream of the right content type (its end is watched
 * by the relay), or a whole, complete JSON document that is not an error envelope.
 */
import * as Effect from "effect/Effect"
import type { GatewayError } from "../errors.ts"
import { replaceSoleStringField } from "../dialect/json-field.ts"
import type { NodeBody, UpstreamCall, UpstreamShape } from "./upstream.ts"

export type PassthroughCall = Omit<UpstreamCall, "expect">

/** A streamed answer's body, as the provider sends it. */
export const forwardStream = (upstream: UpstreamShape, call: PassthroughCall): Effect.Effect<NodeBody, GatewayError> =>
  Effect.map(upstream.send({ ...call, expect: "sse" }), (response) => upstream.nodeBody(call.provider, response))

export interface WholeBody {
  readonly contentType: string
  readonly bytes: Uint8Array
}

/**
 * A non-streamed answer, read whole before the status is sent, so that a body that breaks or is cut
 * short becomes an error response rather than a truncated 200.
 */
export const forwardWhole = (upstream: UpstreamShape, call: PassthroughCall): Effect.Effect<WholeBody, GatewayError> =>
  upstream.send({ ...call, expect: "json" }).pipe(
    Effect.flatMap((response) =>
      Effect.map(upstream.whole(call.provider, response), ({ bytes }) => ({
        contentType: response.headers["content-type"] ?? "application/json",
        bytes
      }))
    )
  )

/** Output-token fields a request may carry (OpenAI has two, Anthropic one). */
const outputFields = ["max_tokens", "max_completion_tokens"] as const

/**
 * The client's JSON body with `model` replaced and its output-token fields lowered to `cap`, as upstream
 * request text: the client's own text with only the model's string swapped when nothing else changes
 * (a 40 KB conversation written out again costs a hundred µs), else the body written out again.
 */
export const withModel = (body: Readonly<Record<string, unknown>>, text: string, model: string, cap?: number): string => {
  const capped = cap === undefined ? [] : outputFields.flatMap((field) => {
    const asked = body[field]
    return typeof asked === "number" && asked > cap ? [[field, cap] as const] : []
  })
  return (capped.length === 0 ? replaceSoleStringField(text, "model", model) : undefined) ??
    JSON.stringify({ ...body, model, ...Object.fromEntries(capped) })
}
