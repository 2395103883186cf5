/**
 * Who is calling. `Authenticator` turns the caller's token into an identity; routes read the token
 * with `bearerToken` (the same rules on both front doors).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type GatewayError, gatewayError } from "../errors.ts"

export interface Identity {
  readonly user: string
  readonly uid: string
  readonly groups: ReadonlyArray<string>
}

export interface AuthenticatorShape {
  /** `undefined` token: the request carried none. Fails with a 401 GatewayError. */
  readonly authenticate: (token: string | undefined) => Effect.Effect<Identity, GatewayError>
}

export class Authenticator extends Context.Service<Authenticator, AuthenticatorShape>()("orka/Authenticator") {
  /** `--auth none`: every caller is the anonymous user; a token, if sent, is ignored. */
  static readonly layerNone = Layer.succeed(Authenticator, {
    authenticate: () => Effect.succeed({ user: "system:anonymous", uid: "", groups: ["system:unauthenticated"] })
  })
}

export const unauthenticated = (message: string): GatewayError => gatewayError("authentication", message)

/**
 * `Authorization: Bearer <token>`, else `x-api-key: <token>`. An Authorization header of another
 * scheme is an error rather than a silent fall-back to x-api-key.
 */
export const bearerToken = (headers: Readonly<Record<string, string | undefined>>): Effect.Effect<string | undefined, GatewayError> => {
  const authorization = headers["authorization"]
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    return match === null
      ? Effect.fail(unauthenticated("the Authorization header must be \"Bearer <token>\""))
      : Effect.succeed(match[1])
  }
  const apiKey = headers["x-api-key"]?.trim()
  return Effect.succeed(apiKey === "" ? undefined : apiKey)
}
