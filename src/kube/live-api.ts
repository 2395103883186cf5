/** KubeApi on @kubernetes/client-node: reviews, Provider, Tool and ClientPolicy status patches and the leader Lease. */
import {
  ApiException,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease
} from "@kubernetes/client-node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GatewayConfig } from "../config.ts"
import { KubeApi, KubeApiError, type Lease } from "./api.ts"
import { PolicyGroup } from "./client-policy.ts"
import { loadKubeConfig } from "./live.ts"
import { Group, Version } from "./resources.ts"

const callTimeout = "10 seconds"

const call = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, KubeApiError> =>
  Effect.tryPromise({
    try: f,
    catch: (e) =>
      e instanceof ApiException
        ? new KubeApiError({ message: `${what}: API server answered ${e.code}`, status: e.code })
        : new KubeApiError({ message: `${what}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` })
  }).pipe(
    Effect.timeoutOrElse({
      duration: callTimeout,
      orElse: () => Effect.fail(new KubeApiError({ message: `${what}: no answer within ${callTimeout}` }))
    })
  )

const toLease = (lease: V1Lease): Lease => ({
  holder: lease.spec?.holderIdentity ?? undefined,
  renewedAt: lease.spec?.renewTime === undefined ? 0 : new Date(lease.spec.renewTime).getTime(),
  durationSeconds: lease.spec?.leaseDurationSeconds ?? 15,
  resourceVersion: lease.metadata?.resourceVersion ?? ""
})

export const layer = Layer.effect(
  KubeApi,
  Effect.gen(function*() {
    const kc = loadKubeConfig(yield* GatewayConfig)
    const authn = kc.makeApiClient(AuthenticationV1Api)
    const authz = kc.makeApiClient(AuthorizationV1Api)
    const custom = kc.makeApiClient(CustomObjectsApi)
    const coordination = kc.makeApiClient(CoordinationV1Api)
    const patchStatus = (group: string, plural: "providers" | "tools" | "clientpolicies", namespace: string, name: string, status: Record<string, unknown>) =>
      call(`patch ${plural}/${name}/status`, () =>
        custom.patchNamespacedCustomObjectStatus(
          { group, version: Version, namespace, plural, name, body: { status } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
        )).pipe(Effect.asVoid)

    return KubeApi.of({
      reviewToken: (token, audiences) =>
        call("TokenReview", () =>
          authn.createTokenReview({
            body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, ...(audiences.length > 0 ? { audiences: [...audiences] } : {}) } }
          })).pipe(Effect.map((review) => ({
            authenticated: review.status?.authenticated === true,
            ...(review.status?.user?.username === undefined ? {} : {
              user: {
                username: review.status.user.username,
                uid: review.status.user.uid ?? "",
                groups: review.status.user.groups ?? []
              }
            }),
            ...(review.status?.audiences === undefined ? {} : { audiences: review.status.audiences }),
            ...(review.status?.error === undefined ? {} : { error: review.status.error })
          }))),

      reviewAccess: (r) =>
        call("SubjectAccessReview", () =>
          authz.createSubjectAccessReview({
            body: {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SubjectAccessReview",
              spec: {
                user: r.user,
                uid: r.uid,
                groups: [...r.groups],
                resourceAttributes: {
                  verb: r.verb,
                  group: r.group,
                  resource: r.resource,
                  namespace: r.namespace,
                  ...(r.subresource === undefined ? {} : { subresource: r.subresource }),
                  ...(r.name === undefined ? {} : { name: r.name })
                }
              }
            }
          })).pipe(Effect.map((review) => ({
            allowed: review.status?.allowed === true,
            ...(review.status?.reason === undefined ? {} : { reason: review.status.reason })
          }))),

      patchProviderStatus: (namespace, name, status) => patchStatus(Group, "providers", namespace, name, status),
      patchToolStatus: (namespace, name, status) => patchStatus(Group, "tools", namespace, name, status),
      patchClientPolicyStatus: (namespace, name, status) => patchStatus(PolicyGroup, "clientpolicies", namespace, name, status),

      getLease: (namespace, name) =>
        call(`get lease ${name}`, () => coordination.readNamespacedLease({ namespace, name })).pipe(
          Effect.map(toLease),
          Effect.catchIf((e) => e.status === 404, () => Effect.succeed(undefined))
        ),

      writeLease: (namespace, name, holder, durationSeconds, previous) => {
        const now = new Date()
        const body: V1Lease = {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace, ...(previous === undefined ? {} : { resourceVersion: previous.resourceVersion }) },
          spec: {
            holderIdentity: holder,
            leaseDurationSeconds: durationSeconds,
            renewTime: now,
            ...(previous?.holder === holder ? {} : { acquireTime: now })
          }
        }
        return call(`write lease ${name}`, () =>
          previous === undefined
            ? coordination.createNamespacedLease({ namespace, body })
            : coordination.replaceNamespacedLease({ namespace, name, body })).pipe(Effect.map(toLease))
      }
    })
  })
)
