/**
 * What both front doors do around their dialect: admit the caller (token → identity → permission),
 * read the request's envelope (`model`, `stream`), resolve its model, decide whether server-side
 * tools run (`X-Orka-Tools`, else the Provider's `spec.tools.default`, else `--tools-default`), and
 * then either relay it to a provider of the same dialect untouched but for the model (the fast path,
 * which validates nothing else: the provider judges), or get the answer in IR from the backend or the
 * tool loop. Model-list requests are answered here too.
 */
import { Effect, type Scope, Stream } from "effect"
import { HttpServerRequest, type HttpServerResponse } from "effect/http"
import { Authenticator } from "../auth/auth.ts"
import type { Identity } from "../auth/auth.ts"
import { type AccessCheck, Authorizer, chatAccess, listModelsAccess, providerAccess, toolAccess } from "../auth/authorizer.ts"
import { GatewayConfig } from "../config.ts"
import { bodyWithModel, type RelayDialect } from "../dialect/relay.ts"
import type { ProgressStyle } from "../dialect/tool-progress.ts"
import { type GatewayError, invalidRequest } from "../errors.ts"
import { collectCompletion } from "../ir/collect.ts"
import { type Conversation, foldSystemTurns } from "../ir/conversation.ts"
import type { AnswerEvent, Completion } from "../ir/response.ts"
import type { CallContext, LlmBackend } from "../llm/backend.ts"
import { Backends } from "../llm/backends.ts"
import { forwardStream, forwardWhole, type PassthroughCall } from "../llm/passthrough.ts"
import { Upstream } from "../llm/upstream.ts"
import { outputCap, type ResolvedProvider } from "../providers/provider.ts"
import { ProviderRegistry } from "../providers/registry.ts"
import { Redactor } from "../redact.ts"
import { type ToolFilter, ToolLoop } from "../tools/service.ts"
import { noteFailure, noteRequest } from "./access-log.ts"
import { authenticate } from "./authenticate.ts"
import { readJsonBody } from "./body.ts"
import { callerSecretsOf, presentable } from "./boundary.ts"
import { wholeBody } from "./respond.ts"
import { relay } from "./sse.ts"
import { rewriteEvents } from "./sse-rewrite.ts"
import { progressHeader, toolsHeader } from "./tools-header.ts"

export interface AdmittedChat {
  readonly request: HttpServerRequest.HttpServerRequest
  /** the client's JSON body */
  readonly body: Readonly<Record<string, unknown>>
  /** the model as the client asked for it (`provider/model`, or bare): every answer echoes it */
  readonly requested: string
  readonly stream: boolean
  readonly provider: ResolvedProvider
  /** the model id to send upstream */
  readonly model: string
  /** whether the server-side tool loop runs for this request */
  readonly tools: boolean
  /** how the tool loop's progress shows in a stream */
  readonly progress: ProgressStyle
  /** how long a stream may stay silent before a keep-alive (`--keep-alive-interval`) */
  readonly keepAliveMs: number
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** The only fields the gateway reads before it knows whether it will translate: checked, nothing else. */
const envelope = (body: unknown): Effect.Effect<{ readonly model: string; readonly stream: boolean }, GatewayError> => {
  if (!isObject(body)) return Effect.fail(invalidRequest("request body: expected a JSON object"))
  const { model, stream } = body
  if (typeof model !== "string" || model === "") return Effect.fail(invalidRequest("model: is required (e.g. \"provider/model\")", "model"))
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") return Effect.fail(invalidRequest("stream: expected a boolean", "stream"))
  return Effect.succeed({ model, stream: stream === true })
}

export const makeFrontDoor = Effect.gen(function*() {
  const config = yield* GatewayConfig
  const registry = yield* ProviderRegistry
  const auth = yield* Authenticator
  const authz = yield* Authorizer
  const backends = yield* Backends
  const runner = yield* ToolLoop
  const redactor = yield* Redactor
  const upstream = yield* Upstream

  const admit = (request: HttpServerRequest.HttpServerRequest, check: AccessCheck) =>
    Effect.gen(function*() {
      const identity = yield* authenticate(auth, request)
      noteRequest(request, { user: identity.user })
      yield* authz.authorize(identity, check)
      return identity
    })

  const admitChat: Effect.Effect<AdmittedChat, GatewayError, HttpServerRequest.HttpServerRequest> = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const identity = yield* admit(request, chatAccess(config.namespace))
    const header = yield* toolsHeader(request.headers)
    const progress = yield* progressHeader(request.headers)
    const body = yield* readJsonBody(config.maxBodyBytes, config.maxJsonDepth)
    const { model: requested, stream } = yield* envelope(body)
    const { model, provider } = yield* registry.resolve(requested)
    if (config.authorizeProviders) yield* authz.authorize(identity, providerAccess(provider.namespace, provider.name))
    const tools = (header ?? provider.toolsDefault ?? config.toolsDefault) === "enabled"
    noteRequest(request, { provider: provider.name, model, stream, tools })
    const shown = presentable(redactor, callerSecretsOf(request.headers))
    const present = (e: GatewayError) => {
      const error = shown(e)
      noteFailure(request, error)
      return error
    }
    return { request, body: body as Record<string, unknown>, requested, stream, provider, model, tools, progress, keepAliveMs: config.keepAliveInterval, identity, present }
  })

  /**
   * The fast path: the body goes to a provider of the client's dialect with only `model` rewritten
   * (and the Provider's output cap applied), and its answer comes back byte for byte but for the model
   * id, which is the one the client asked for.
   */
  const passThrough = (chat: AdmittedChat, call: PassthroughCall, dialect: RelayDialect) =>
    chat.stream
      ? Effect.map(forwardStream(upstream, call), (bytes) =>
        relay(rewriteEvents(Stream.mapError(bytes, chat.present), dialect.echoModel(chat.requested)), {
          onError: dialect.errorFrame,
          onEnd: dialect.onEnd(chat.provider.name)
        }))
      : Effect.map(forwardWhole(upstream, call), (whole) => wholeBody({ ...whole, bytes: bodyWithModel(whole.bytes, chat.requested) }))

  /** The answer in IR: from the provider's backend, or through the tool loop when tools are on. */
  const answer = (chat: AdmittedChat, asked: Conversation, context: CallContext = {}): Answer => {
    const backend = backends.forType(chat.provider.type)
    const { conversation, folded } = fitSystemTurns(chat.provider, capOutput(chat.provider, asked), context)
    const answered: Answer = chat.tools ? looped(chat, conversation, backend, context) : {
      complete: backend.complete(conversation, chat.provider, context),
      stream: backend.stream(conversation, chat.provider, context)
    }
    if (!folded) return answered
    const said = Effect.logInfo("system turns folded into the system prompt").pipe(Effect.annotateLogs({ provider: chat.provider.name }))
    return { complete: Effect.andThen(said, answered.complete), stream: Stream.unwrap(Effect.as(said, answered.stream)) }
  }

  const looped = (chat: AdmittedChat, conversation: Conversation, backend: LlmBackend, context: CallContext): Answer => {
    const events = runner.loop(conversation, (c) => backend.stream(c, chat.provider, context), {
      callerSecrets: callerSecretsOf(chat.request.headers),
      ...(config.authorizeTools ? { filter: permittedTools(chat.identity) } : {})
    })
    return { complete: collectCompletion(events), stream: events }
  }

  /**
   * The Provider's output cap: a larger `max_tokens` is lowered to it, and so is the default that
   * providers requiring one (Anthropic) get.
   */
  const capOutput = (provider: ResolvedProvider, c: Conversation): Conversation => {
    const cap = outputCap(provider, c.model)
    if (cap === undefined) return c
    const asked = c.maxTokens ?? (provider.type === "anthropic" ? config.defaultMaxTokens : undefined)
    return asked === undefined || asked <= cap ? c : { ...c, maxTokens: cap }
  }

  /**
   * System turns stay at their place, but towards an Anthropic provider without the client's
   * `mid-conversation-system` beta, which takes instructions only in `system`: there they are folded
   * into it (and the log says so).
   */
  const fitSystemTurns = (provider: ResolvedProvider, c: Conversation, context: CallContext) =>
    provider.type !== "anthropic" || (context.anthropicBeta ?? "").includes("mid-conversation-system")
      ? { conversation: c, folded: false }
      : foldSystemTurns(c)

  /** With --authorize-tools: the tools the caller may use (an unavailable review offers none). */
  const permittedTools = (identity: Identity): ToolFilter => (names) =>
    Effect.forEach(names, (name) =>
      authz.authorize(identity, toolAccess(config.namespace, name)).pipe(
        Effect.as([name]),
        Effect.catch((e) =>
          e.kind === "permission" ? Effect.succeed([]) : Effect.logWarning("tool not offered: authorization unavailable").pipe(
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

  return { admitChat, answer, passThrough, modelsRoute, registry }
})

/**
 * A request holding what the loop cannot carry goes to a provider of its own dialect as it is: the
 * loop never drops what a client sent. Said once in the log, and in the access log line.
 */
export const skippedTools = (request: HttpServerRequest.HttpServerRequest, why: ReadonlyArray<string>) =>
  Effect.sync(() => noteRequest(request, { tools: false })).pipe(
    Effect.andThen(Effect.logInfo("server-side tools skipped: the request holds what only its own dialect carries")),
    Effect.annotateLogs({ parts: why.join("; ") })
  )

/** Whether any part, system block or tool carries Anthropic's `cache_control`. */
const hasCacheControl = (c: Conversation): boolean =>
  c.system.some((p) => p.cacheControl !== undefined) || c.tools.some((t) => t.cacheControl !== undefined) ||
  c.messages.some((m) => m.content.some((p) => p.type !== "thinking" && p.cacheControl !== undefined))

/**
 * What a provider of the other dialect will not get of the client's request, said in one log line:
 * the top-level fields only the client's dialect has (`thinking`, `context_management`,
 * `response_format`…), `cache_control`, and the parts `notes` lists.
 */
export const leftOut = (
  provider: ResolvedProvider,
  client: "openai" | "anthropic",
  conversation: Conversation,
  parts: ReadonlyArray<string> = []
): Effect.Effect<void> => {
  const native = client === "anthropic" ? provider.type === "anthropic" : provider.type === "openai" || provider.type === "azure-openai"
  if (native) return Effect.void
  const fields = Object.keys(conversation.extensions[client] ?? {})
  if (client === "anthropic" && hasCacheControl(conversation)) fields.push("cache_control")
  if (fields.length === 0 && parts.length === 0) return Effect.void
  return Effect.logInfo("left out in translation").pipe(Effect.annotateLogs({
    provider: provider.name,
    ...(fields.length === 0 ? {} : { fields: fields.join(",") }),
    ...(parts.length === 0 ? {} : { parts: parts.join("; ") })
  }))
}

/** The part of the path after `prefix`, URL-decoded (model ids contain "/"); as sent when it is not valid percent-encoding. */
export const pathRest = (request: HttpServerRequest.HttpServerRequest, prefix: string): string => {
  const rest = (request.url.split("?")[0] ?? "").slice(prefix.length)
  try {
    return decodeURIComponent(rest)
  } catch {
    return rest
  }
}
