import * as Effect from "effect/Effect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import { type AuthenticatorShape, bearerToken, type Identity } from "../auth/auth.ts"
import type { GatewayError } from "../errors.ts"

/** The caller's identity from its token (Bearer, else x-api-key), or a 401. */
export const authenticate = (
  auth: AuthenticatorShape,
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<Identity, GatewayError> => Effect.flatMap(bearerToken(request.headers), auth.authenticate)
