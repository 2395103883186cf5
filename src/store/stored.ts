/**
 * What the response store keeps, and what both of its layers share: an owner's digest (keys never
 * hold the caller's identity itself), a stored response's items by id, its size, the error for a
 * store that cannot be reached.
 */
import * as Effect from "effect/Effect"
import { hash } from "node:crypto"
import { type GatewayError, gatewayError } from "../errors.ts"

export type Item = Readonly<Record<string, unknown>>

/** A response as stored: the Response object as the client got it, and the whole input it answered. */
export interface StoredResponse {
  readonly response: Readonly<Record<string, unknown>> & { readonly id: string; readonly output: ReadonlyArray<Item> }
  /** the whole input as items (the history it continued included), each with an `id` */
  readonly input: ReadonlyArray<Item>
}

export interface ResponseStoreShape {
  /** keeps it for --response-store-ttl, under its owner: only the same owner can read or delete it */
  readonly put: (owner: string, stored: StoredResponse) => Effect.Effect<void, GatewayError>
  readonly get: (owner: string, id: string) => Effect.Effect<StoredResponse | undefined, GatewayError>
  /** whether there was one */
  readonly remove: (owner: string, id: string) => Effect.Effect<boolean, GatewayError>
  /** an input or output item of one of the owner's stored responses, by the item's id */
  readonly item: (owner: string, itemId: string) => Effect.Effect<Item | undefined, GatewayError>
  /**
   * keeps what the gateway did in a turn that also called the client's tools (its own calls and their
   * results), under each of the client's call ids, for as long as a response
   */
  readonly keepTurn: (owner: string, clientCallIds: ReadonlyArray<string>, turn: Item) => Effect.Effect<void, GatewayError>
  /** the turns kept under any of these client call ids, by call id */
  readonly keptTurns: (owner: string, clientCallIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, Item>, GatewayError>
}

export interface StoreLimits {
  /** milliseconds a response is kept */
  readonly ttl: number
  /** the memory layer's total; the largest one response in Redis */
  readonly maxBytes: number
}

/** The owner as it appears in keys: a SHA-256 digest, so keys and logs never carry an identity. */
export const ownerDigest = (owner: string): string => hash("sha256", owner, "hex")

/** The input and output items that have an id, input first. */
export const itemsOf = (stored: StoredResponse): Array<readonly [id: string, item: Item]> =>
  [...stored.input, ...stored.response.output].flatMap((item) => (typeof item["id"] === "string" ? [[item["id"], item] as const] : []))

export const findItem = (stored: StoredResponse, itemId: string): Item | undefined =>
  stored.input.find((i) => i["id"] === itemId) ?? stored.response.output.find((i) => i["id"] === itemId)

/** Bytes of its JSON. */
export const jsonBytes = (json: string): number => Buffer.byteLength(json)

export const storeUnavailable = (): GatewayError => gatewayError("overloaded", "the response store is unavailable; try again", { retryable: true })

/** A response over the size bound is answered but not kept: continuing it later gets a 404, not this request a 500. */
export const logTooLarge = (id: string, bytes: number, maxBytes: number): Effect.Effect<void> =>
  Effect.logWarning("response not stored: larger than --response-store-max-bytes").pipe(
    Effect.annotateLogs({ response_id: id, bytes, max_bytes: maxBytes })
  )
