/**
 * The Kubernetes API calls that are not watches: reviews for auth, Provider, Tool and ClientPolicy
 * status writes and the leader Lease. Auth calls are cached by their callers, so none of these sits on the hot path.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

export class KubeApiError extends Data.TaggedError("KubeApiError")<{
  readonly message: string
  /** the HTTP status of the API server's answer, when it answered */
  readonly status?: number
}> {}

export interface TokenReviewResult {
  readonly authenticated: boolean
  readonly user?: { readonly username: string; readonly uid: string; readonly groups: ReadonlyArray<string> }
  readonly audiences?: ReadonlyArray<string>
  readonly error?: string
}

export interface AccessReview {
  readonly user: string
  readonly uid: string
  readonly groups: ReadonlyArray<string>
  readonly verb: string
  readonly group: string
  readonly resource: string
  readonly subresource?: string
  readonly name?: string
  readonly namespace: string
}

export interface AccessDecision {
  readonly allowed: boolean
  readonly reason?: string
}

export interface Lease {
  readonly holder: string | undefined
  /** when the holder last renewed, ms since the epoch */
  readonly renewedAt: number
  readonly durationSeconds: number
  readonly resourceVersion: string
}

export interface KubeApiShape {
  readonly reviewToken: (token: string, audiences: ReadonlyArray<string>) => Effect.Effect<TokenReviewResult, KubeApiError>
  readonly reviewAccess: (review: AccessReview) => Effect.Effect<AccessDecision, KubeApiError>
  /** Merge-patches `status` of a Provider through the status subresource. */
  readonly patchProviderStatus: (namespace: string, name: string, status: Record<string, unknown>) => Effect.Effect<void, KubeApiError>
  /** Merge-patches `status` of a Tool through the status subresource (a `null` field is removed). */
  readonly patchToolStatus: (namespace: string, name: string, status: Record<string, unknown>) => Effect.Effect<void, KubeApiError>
  /** Merge-patches `status` of a ClientPolicy (`gateway.orka.ai`) through the status subresource. */
  readonly patchClientPolicyStatus: (namespace: string, name: string, status: Record<string, unknown>) => Effect.Effect<void, KubeApiError>
  readonly getLease: (namespace: string, name: string) => Effect.Effect<Lease | undefined, KubeApiError>
  /** Creates or updates (with optimistic concurrency on `previous.resourceVersion`) the Lease for `holder`. */
  readonly writeLease: (
    namespace: string,
    name: string,
    holder: string,
    durationSeconds: number,
    previous: Lease | undefined
  ) => Effect.Effect<Lease, KubeApiError>
}

export class KubeApi extends Context.Service<KubeApi, KubeApiShape>()("orka/KubeApi") {}
