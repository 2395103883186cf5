/**
 * Admission, the same for every front door: the caller's token → identity → permission, then for a
 * chat its envelope (`model`, `stream`: the only fields read before the plan is made), the model
 * resolved to a Provider, and whether server-side tools are asked for (`X-Orka-Tools`, else the
 * Provider's `spec.tools.default`, else `--tools-default`).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Authenticator } from "../auth/auth.ts"
import type { Identity } from "../auth/auth.ts"
import { type AccessCheck, Authorizer, chatAccess, listModelsAccess, providerAccess } from "../auth/authorizer.ts"
import { GatewayConfig } from "../config.ts"
import type { ProgressStyle } from "../dialect/tool-progress.ts"
import { type GatewayError, invalidRequest } from "../errors.ts"
import { isJsonObject } from "../json.ts"
import { listedModels, type ResolvedProvider } from "../providers/provider.ts"
import { ProviderRegistry } from "../providers/registry.ts"
import { CallerSecrets, Redactor } from "../redact.ts"
import { genAiProviderName, SpanAttr, traced } from "../tracing.ts"
import { noteFailure, noteRequest } from "./access-log.ts"
import { authenticate } from "./authenticate.ts"
import { readJsonBody } from "./body.ts"
import { presentable } from "./boundary.ts"
import { toolsAsked, type ToolsSetting } from "./plan.ts"
import { identityOf } from "./request-metrics.ts"
import { progressHeader, toolsHeader } from "./tools-header.ts"

/** A chat's caller and request, admitted before any Provider is chosen for it. */
export interface AdmittedCaller {
  readonly request: HttpServerRequest.HttpServerRequest
  /** the client's JSON body */
  readonly body: Readonly<Record<string, unknown>>
  /** the body as the client wrote it */
  readonly bodyText: string
  /** the body's length in characters */
  readonly bodyChars: number
  /** the model as the client asked for it (`provider/model`, or bare): every answer echoes it */
  readonly requested: string
  readonly stream: boolean
  /** `X-Orka-Tools`, if sent (a fallback Provider's default may differ) */
  readonly toolsHeader: ToolsSetting | undefined
  /** how the tool loop's progress shows in a stream */
  readonly progress: ProgressStyle
  readonly identity: Identity
  /** the caller's own credentials, masked like every key */
  readonly callerSecrets: ReadonlyArray<string>
  /** a text with every secret masked, the caller's too: for the client's text where it is shown (spans) */
  readonly mask: (text: string) => string
  /** an error as the caller may see it (secrets masked, bounded): for failures inside a stream */
  readonly present: (error: GatewayError) => GatewayError
}

/** A chat with the Provider that is to serve it. */
export interface AdmittedChat extends AdmittedCaller {
  readonly provider: ResolvedProvider
  /** the model id to send upstream */
  readonly model: string
  /** whether server-side tools are asked for; the plan decides whether they run */
  readonly tools: boolean
}

export type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, GatewayError, HttpServerRequest.HttpServerRequest | Scope.Scope>

/** The only fields the gateway reads before it knows whether it will translate: checked, nothing else. */
const envelope = (body: unknown): Effect.Effect<{ readonly model: string; readonly stream: boolean }, GatewayError> => {
  if (!isJsonObject(body)) return Effect.fail(invalidRequest("request body: expected a JSON object"))
  const { model, stream } = body
  if (typeof model !== "string" || model === "") return Effect.fail(invalidRequest("model: is required (e.g. \"provider/model\")", "model"))
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") return Effect.fail(invalidRequest("stream: expected a boolean", "stream"))
  return Effect.succeed({ model, stream: stream === true })
}

export const makeAdmission = Effect.gen(function*() {
  const config = yield* GatewayConfig
  const registry = yield* ProviderRegistry
  const auth = yield* Authenticator
  const authz = yield* Authorizer
  const redactor = yield* Redactor

  const authorize = (identity: Identity, check: AccessCheck) =>
    authz.authorize(identity, check).pipe(traced("orka.authorize", {
      attributes: {
        [SpanAttr.accessVerb]: check.verb,
        [SpanAttr.accessResource]: check.resource,
        [SpanAttr.accessName]: check.name,
        [SpanAttr.accessNamespace]: check.namespace
      }
    }))

  /** `shown`: the model id as a span may hold it (the client's text, masked) */
  const resolve = (requested: string, shown: (text: string) => string) =>
    registry.resolve(requested).pipe(traced("orka.resolve_model", {
      attributes: { [SpanAttr.requestModel]: shown(requested) },
      result: ({ model, provider }: { readonly model: string; readonly provider: ResolvedProvider }) => ({
        [SpanAttr.provider]: provider.name,
        [SpanAttr.providerName]: genAiProviderName(provider.type),
        [SpanAttr.model]: shown(model)
      })
    }))

  const admit = (request: HttpServerRequest.HttpServerRequest, check: AccessCheck) =>
    Effect.gen(function*() {
      const identity = yield* authenticate(auth, request).pipe(traced("orka.authenticate"))
      noteRequest(request, { user: identity.user, identity: identityOf(identity.user) })
      yield* authorize(identity, check)
      return identity
    })

  const admitCaller: Effect.Effect<AdmittedCaller, GatewayError, HttpServerRequest.HttpServerRequest> = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const identity = yield* admit(request, chatAccess(config.namespace))
    const header = yield* toolsHeader(request.headers)
    const progress = yield* progressHeader(request.headers)
    const body = yield* readJsonBody(config.maxBodyBytes, config.maxJsonDepth)
    const { model: requested, stream } = yield* envelope(body.value)
    // the caller's credentials as the boundary found them: one array, so its masking pattern is built once
    const callerSecrets = yield* CallerSecrets
    const mask = (text: string) => redactor.mask(text, callerSecrets)
    noteRequest(request, { stream })
    const shown = presentable(redactor, callerSecrets)
    const present = (e: GatewayError) => {
      const error = shown(e)
      noteFailure(request, error)
      return error
    }
    const { chars: bodyChars, text: bodyText, value } = body
    return { request, body: value as Record<string, unknown>, bodyText, bodyChars, requested, stream, toolsHeader: header, progress, identity, callerSecrets, mask, present }
  })

  /**
   * The chat served by the Provider and model `requested` names (the client's `model`, or one of a
   * Provider's `spec.fallbacks`), with the caller's permission on it and whether tools are asked of
   * it (by that Provider's default). The client's `model` still names the answer.
   */
  const admitFor = (caller: AdmittedCaller, requested: string): Effect.Effect<AdmittedChat, GatewayError> =>
    Effect.gen(function*() {
      const { model, provider } = yield* resolve(requested, caller.mask)
      if (config.authorizeProviders) yield* authorize(caller.identity, providerAccess(provider.namespace, provider.name))
      return { ...caller, model, provider, tools: toolsAsked(caller.toolsHeader, provider.toolsDefault, config.toolsDefault) }
    })

  /** A chat for the Provider its model names, without fallbacks (token counting). */
  const admitChat = Effect.flatMap(admitCaller, (caller) => Effect.tap(admitFor(caller, caller.requested), (chat) => Effect.sync(() => noteAsked(chat))))

  /** A model-list route: the caller needs `list` on chats. */
  const modelsRoute = (
    respond: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, GatewayError>
  ): Handler =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* admit(request, listModelsAccess(config.namespace))
      return yield* respond(request)
    })

  return { admit, admitCaller, admitChat, admitFor, modelsRoute, registry }
})

/** The Provider and model the client's `model` names, in the access log (a fallback that serves is `served_by`). */
export const noteAsked = (chat: AdmittedChat): void =>
  noteRequest(chat.request, {
    provider: chat.provider.name,
    provider_type: chat.provider.type,
    model: chat.model,
    model_listed: listedModels(chat.provider).includes(chat.model),
    tools: chat.tools
  })

/** Whose stored state is (responses, kept calls): the identity, never the token. */
export const ownerOf = (identity: Identity): string => `${identity.user}\n${identity.uid}`

/** The part of the path after `prefix`, URL-decoded (model ids contain "/"); as sent when it is not valid percent-encoding. */
export const pathRest = (request: HttpServerRequest.HttpServerRequest, prefix: string): string => {
  const rest = (request.url.split("?")[0] ?? "").slice(prefix.length)
  try {
    return decodeURIComponent(rest)
  } catch {
    return rest
  }
}
