/**
 * May this identity do that? Chat routes need `create` on `chats` (group core.orka.ai) in the gateway's
 * namespace, model lists need `list` on `chats`; with --authorize-providers a chat also needs `use` on
 * `providers/<name>`, and with --authorize-tools a server-side tool is offered only with `use` on
 * `tools/<name>`. Cluster mode asks SubjectAccessReview (cached by identity and check); local mode
 * allows every authenticated caller.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { hash } from "node:crypto"
import { type GatewayError, gatewayError } from "../errors.ts"
import { KubeApi } from "../kube/api.ts"
import type { Identity } from "./auth.ts"
import { makeTtlCache } from "./ttl-cache.ts"
import { cacheCapacity, invalidTtlMs, validTtlMs } from "./token-review.ts"

export interface AccessCheck {
  readonly verb: string
  readonly group: string
  readonly resource: string
  readonly name?: string
  readonly namespace: string
}

export const chatAccess = (namespace: string): AccessCheck => ({ verb: "create", group: "core.orka.ai", resource: "chats", namespace })
export const listModelsAccess = (namespace: string): AccessCheck => ({ verb: "list", group: "core.orka.ai", resource: "chats", namespace })
export const providerAccess = (namespace: string, name: string): AccessCheck =>
  ({ verb: "use", group: "core.orka.ai", resource: "providers", name, namespace })

export const toolAccess = (namespace: string, name: string): AccessCheck =>
  ({ verb: "use", group: "core.orka.ai", resource: "tools", name, namespace })

export const describeCheck = (c: AccessCheck): string =>
  `verb "${c.verb}" on resource "${c.resource}${c.name === undefined ? "" : `/${c.name}`}" in API group "${c.group}" in namespace "${c.namespace}"`

export interface AuthorizerShape {
  /** Fails with a 403 naming the missing permission. */
  readonly authorize: (identity: Identity, check: AccessCheck) => Effect.Effect<void, GatewayError>
}

export class Authorizer extends Context.Service<Authorizer, AuthorizerShape>()("orka/Authorizer") {
  static readonly layerAllowAll = Layer.succeed(Authorizer, { authorize: () => Effect.void })

  static readonly layerSubjectAccessReview = Layer.effect(
    Authorizer,
    Effect.gen(function*() {
      const api = yield* KubeApi
      const cache = makeTtlCache<void, GatewayError>(cacheCapacity, "authorization")
      const ttl = (exit: Exit.Exit<void, GatewayError>) =>
        Exit.isSuccess(exit) ? validTtlMs : exit.cause.reasons.some((r) => r._tag === "Fail" && r.error.kind === "permission") ? invalidTtlMs : 0

      return Authorizer.of({
        authorize: (identity, check) => {
          const key = hash("sha256", JSON.stringify([identity.user, identity.uid, [...identity.groups].sort(), check]))
          const review = api.reviewAccess({ ...identity, ...check }).pipe(
            Effect.mapError((e) => gatewayError("overloaded", `authorization is unavailable: ${e.message}`)),
            Effect.flatMap((decision) =>
              decision.allowed
                ? Effect.void
                : Effect.fail(gatewayError("permission", `${identity.user} may not use this endpoint: it needs ${describeCheck(check)}`)))
          )
          return cache.get(key, review, ttl)
        }
      })
    })
  )
}
