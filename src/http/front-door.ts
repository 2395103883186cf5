/**
 * What both front doors do around their dialect: admit the caller (token → identity → permission),
 * read and decode a chat request, resolve its model and decide whether server-side tools run
 * (`X-Orka-Tools`, else the Provider's `spec.tools.default`, else `--tools-default`), get the answer
 * from the backend or through the tool loop, and answer model-list requests.
 */
import { Effect, type Scope, type Stream } from "effect"
import { HttpServerRequest, type HttpServerResponse } from "effect/http"
import { Authenticator } from "../auth/auth.ts"
import type { Identity } from "../auth/auth.ts"
import { type AccessCheck, Authorizer, chatAccess, listModelsAccess, providerAccess, toolAccess } from "../auth/authorizer.ts"
import { GatewayConfig } from "../config.ts"
import type { GatewayError } from "../errors.ts"
import { collectCompletion } from "../ir/collect.ts"
import type { Conversation } from "../ir/conversation.ts"
import type { AnswerEvent, Completion } from "../ir/response.ts"
import { Backends } from "../llm/backends.ts"
import type { ResolvedProvider } from "../providers/provider.ts"
import { ProviderRegistry } from "../providers/registry.ts"
import { Redactor } from "../redact.ts"
import { type ToolFilter, ToolRunner } from "../tools/service.ts"
import { noteRequest } from "./access-log.ts"
import { authenticate } from "./authenticate.ts"
import { readJsonBody } from "./body.ts"
import { callerSecretsOf, presentable } from "./boundary.ts"
import { toolsHeader } from "./tools-header.ts"

export interface AdmittedChat<D> {
  readonly request: HttpServerRequest.HttpServerRequest
  /** the client's JSON body, for pass-through */
  readonly body: Readonly<Record<string, unknown>>
  readonly decoded: D
  readonly provider: ResolvedProvider
  /** the model id to send upstream */
  readonly model: string
  /** whether the server-side tool loop runs for this request */
  readonly tools: boolean
  readonly identity: Identity
  /** an error as the caller may see it (secrets masked, bounded): for failures inside a stream */
  readonly present: (error: GatewayError) => GatewayError
}

/** A translated answer, either whole or as events. */
export interface Answer {
  readonly complete: Effect.Effect<Completion, GatewayError>
  readonly stream: Stream.Stream<AnswerEvent, GatewayError>
}

type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, GatewayError, HttpServerRequest.HttpServerRequest | Scope.Scope>

export const makeFrontDoor = Effect.gen(function*() {
  const config = yield* GatewayConfig
  const registry = yield* ProviderRegistry
  const auth = yield* Authenticator
  const authz = yield* Authorizer
  const backends = yield* Backends
  const runner = yield* ToolRunner
  const redactor = yield* Redactor

  const admit = (request: HttpServerRequest.HttpServerRequest, check: AccessCheck) =>
    Effect.gen(function*() {
      const identity = yield* authenticate(auth, request)
      noteRequest(request, { user: identity.user })
      yield* authz.authorize(identity, check)
      return identity
    })

  const admitChat = <D extends { readonly model: string; readonly stream: boolean }>(
    decode: (body: unknown) => Effect.Effect<D, GatewayError>
  ): Effect.Effect<AdmittedChat<D>, GatewayError, HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const identity = yield* admit(request, chatAccess(config.namespace))
      const header = yield* toolsHeader(request.headers)
      const body = yield* readJsonBody(config.maxBodyBytes, config.maxJsonDepth)
      const decoded = yield* decode(body)
      const { model, provider } = yield* registry.resolve(decoded.model)
      if (config.authorizeProviders) yield* authz.authorize(identity, providerAccess(provider.namespace, provider.name))
      const tools = (header ?? provider.toolsDefault ?? config.toolsDefault) === "enabled"
      noteRequest(request, { provider: provider.name, model, stream: decoded.stream, tools })
      const present = presentable(redactor, callerSecretsOf(request.headers))
      return { request, body: body as Record<string, unknown>, decoded, provider, model, tools, identity, present }
    })

  /** The answer in IR: from the provider's backend, or through the tool loop when tools are on. */
  const answer = (chat: AdmittedChat<unknown>, conversation: Conversation): Answer => {
    const backend = backends.forType(chat.provider.type)
    if (!chat.tools) return { complete: backend.complete(conversation, chat.provider), stream: backend.stream(conversation, chat.provider) }
    const events = runner.loop(conversation, (c) => backend.stream(c, chat.provider), {
      callerSecrets: callerSecretsOf(chat.request.headers),
      ...(config.authorizeTools ? { filter: permittedTools(chat.identity) } : {})
    })
    return { complete: collectCompletion(events), stream: events }
  }

  /** With --authorize-tools: the tools the caller may use (an unavailable review offers none). */
  const permittedTools = (identity: Identity): ToolFilter => (names) =>
    Effect.forEach(names, (name) =>
      authz.authorize(identity, toolAccess(config.namespace, name)).pipe(
        Effect.as([name]),
        Effect.catch((e) =>
          e.status === 403 ? Effect.succeed([]) : Effect.logWarning("tool not offered: authorization unavailable").pipe(
            Effect.annotateLogs({ tool: name, error: e.message }),
            Effect.as([])
          ))
      ), { concurrency: "unbounded" }).pipe(Effect.map((allowed) => new Set(allowed.flat())))

  /** A model-list route: the caller needs `list` on chats. */
  const modelsRoute = (
    answer: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, GatewayError>
  ): Handler =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* admit(request, listModelsAccess(config.namespace))
      return yield* answer(request)
    })

  return { admitChat, answer, modelsRoute, registry }
})

/**
 * A request holding what the loop cannot carry goes to a provider of its own dialect as it is: the
 * loop never drops what a client sent. Said once in the log, and in the access log line.
 */
export const skippedTools = (request: HttpServerRequest.HttpServerRequest, parts: ReadonlyArray<string>) =>
  Effect.sync(() => noteRequest(request, { tools: false })).pipe(
    Effect.andThen(Effect.logInfo("server-side tools skipped: the request holds parts only its own dialect carries")),
    Effect.annotateLogs({ parts: parts.join("; ") })
  )

/** The part of the path after `prefix`, URL-decoded (model ids contain "/"); as sent when it is not valid percent-encoding. */
export const pathRest = (request: HttpServerRequest.HttpServerRequest, prefix: string): string => {
  const rest = (request.url.split("?")[0] ?? "").slice(prefix.length)
  try {
    return decodeURIComponent(rest)
  } catch {
    return rest
  }
}
