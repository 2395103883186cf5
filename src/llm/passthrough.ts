/**
 * The fast path: a client and a provider that speak the same dialect, with no server-side tools.
 * The client's body goes upstream with only `model` rewritten, and the provider's bytes come back
 * as they arrive: nothing the client sent or the provider answered is reinterpreted.
 */
import { Effect, type Stream } from "effect"
import type { GatewayError } from "../errors.ts"
import type { UpstreamCall, UpstreamShape } from "./upstream.ts"

export interface RawAnswer {
  readonly contentType: string
  readonly body: Stream.Stream<Uint8Array, GatewayError>
}

export const forward = (upstream: UpstreamShape, call: UpstreamCall): Effect.Effect<RawAnswer, GatewayError> =>
  Effect.map(upstream.send(call), (response) => ({
    contentType: response.headers["content-type"] ?? "application/json",
    body: upstream.body(call.provider, response)
  }))

/** The client's JSON body with `model` replaced, as upstream request text. */
export const withModel = (body: Readonly<Record<string, unknown>>, model: string): string =>
  JSON.stringify({ ...body, model })
