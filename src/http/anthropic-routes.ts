/**
 * The Anthropic front door: `/anthropic/v1/messages`, `/messages/count_tokens` and `/models`, for
 * Claude Code (`ANTHROPIC_BASE_URL=https://host/anthropic`) and the Anthropic SDKs.
 * Towards an Anthropic Provider the request is passed through untouched but for `model`.
 */
import { Effect, Stream } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { Authenticator } from "../auth/auth.ts"
import { Authorizer, chatAccess, listModelsAccess, providerAccess } from "../auth/authorizer.ts"
import { GatewayConfig } from "../config.ts"
import { estimateTokens } from "../dialect/anthropic/count-tokens.ts"
import { errorFrame } from "../dialect/anthropic/errors.ts"
import { decodeMessagesRequest } from "../dialect/anthropic/request.ts"
import { encodeMessage } from "../dialect/anthropic/response.ts"
import { encodeStream } from "../dialect/anthropic/stream.ts"
import { type GatewayError, gatewayError } from "../errors.ts"
import { Backends } from "../llm/backends.ts"
import { forward, type RawAnswer, withModel } from "../llm/passthrough.ts"
import { anthropicTarget } from "../llm/targets.ts"
import { Upstream } from "../llm/upstream.ts"
import { type ListedModel, ProviderRegistry } from "../providers/registry.ts"
import { noteRequest } from "./access-log.ts"
import { authenticate } from "./authenticate.ts"
import { readJsonBody } from "./body.ts"
import { errorResponse, json } from "./respond.ts"
import { awaitFirst, relay, sse } from "./sse.ts"
import { toolsHeader } from "./tools-header.ts"

const clientHeaders = (request: HttpServerRequest.HttpServerRequest) => ({
  version: request.headers["anthropic-version"],
  beta: request.headers["anthropic-beta"]
})

/** A pass-through answer read whole, so a broken connection becomes an error, not a truncated 200. */
const collect = (answer: RawAnswer) =>
  Effect.map(Stream.runCollect(answer.body), (chunks) =>
    HttpServerResponse.uint8Array(Buffer.concat(chunks), { contentType: answer.contentType }))

export const AnthropicRoutes = HttpRouter.use(Effect.fn(function*(router) {
  const config = yield* GatewayConfig
  const registry = yield* ProviderRegistry
  const backends = yield* Backends
  const upstream = yield* Upstream
  const auth = yield* Authenticator
  const authz = yield* Authorizer

  /** Authenticates, authorizes, reads and resolves a Messages request. */
  const admit = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const identity = yield* authenticate(auth, request)
    noteRequest(request, { user: identity.user })
    yield* authz.authorize(identity, chatAccess(config.namespace))
    yield* toolsHeader(request.headers)
    const body = (yield* readJsonBody(config.maxBodyBytes)) as Record<string, unknown>
    const decoded = yield* decodeMessagesRequest(body)
    const { model, provider } = yield* registry.resolve(decoded.model)
    if (config.authorizeProviders) yield* authz.authorize(identity, providerAccess(provider.namespace, provider.name))
    noteRequest(request, { provider: provider.name, model, stream: decoded.stream })
    return { request, body, decoded, model, provider }
  })

  const messages = Effect.gen(function*() {
    const { body, decoded, model, provider, request } = yield* admit
    if (provider.type === "anthropic") {
      const answer = yield* forward(upstream, {
        provider: provider.name,
        ...anthropicTarget(provider, "/v1/messages", clientHeaders(request)),
        body: withModel(body, model)
      })
      if (!decoded.stream) return yield* collect(answer)
      return relay(answer.body, errorFrame)
    }
    if (decoded.notes.length > 0) {
      yield* Effect.logInfo("request parts not sent to a non-Anthropic provider").pipe(
        Effect.annotateLogs({ provider: provider.name, dropped: decoded.notes.join("; ") })
      )
    }
    const backend = backends.forType(provider.type)
    const conversation = { ...decoded.conversation, model }
    if (!decoded.stream) return json(encodeMessage(yield* backend.complete(conversation, provider), { model: decoded.model }))
    const events = yield* awaitFirst(backend.stream(conversation, provider))
    return sse(encodeStream(events, { model: decoded.model }))
  }).pipe(Effect.catchTag("GatewayError", (e) => Effect.succeed(errorResponse("anthropic", e))))

  const countTokens = Effect.gen(function*() {
    const { body, decoded, model, provider, request } = yield* admit
    if (provider.type === "anthropic") {
      return yield* collect(yield* forward(upstream, {
        provider: provider.name,
        ...anthropicTarget(provider, "/v1/messages/count_tokens", clientHeaders(request)),
        body: withModel(body, model)
      }))
    }
    // Other providers have no such endpoint: say plainly that this is an estimate.
    return HttpServerResponse.jsonUnsafe(
      { input_tokens: estimateTokens(decoded.conversation), estimated: true },
      { headers: { "x-orka-token-count": "estimate" } }
    )
  }).pipe(Effect.catchTag("GatewayError", (e) => Effect.succeed(errorResponse("anthropic", e))))

  const modelEntry = ({ id, provider }: ListedModel) => ({
    type: "model",
    id,
    display_name: id,
    created_at: provider.createdAt ?? new Date(0).toISOString()
  })

  const modelsRoute = (answer: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, GatewayError>) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const identity = yield* authenticate(auth, request)
      noteRequest(request, { user: identity.user })
      yield* authz.authorize(identity, listModelsAccess(config.namespace))
      return yield* answer(request)
    }).pipe(Effect.catchTag("GatewayError", (e) => Effect.succeed(errorResponse("anthropic", e))))

  const listModels = modelsRoute(() => {
    const data = registry.models().map(modelEntry)
    return Effect.succeed(json({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null }))
  })

  const retrieveModel = modelsRoute((request) => {
    const id = decodeURIComponent((request.url.split("?")[0] ?? "").slice("/anthropic/v1/models/".length))
    const found = registry.models().find((m) => m.id === id)
    return found === undefined
      ? Effect.fail(gatewayError("not_found", `model "${id}" is not served here; GET /anthropic/v1/models lists them`))
      : Effect.succeed(json(modelEntry(found)))
  })

  yield* router.add("POST", "/anthropic/v1/messages", messages)
  yield* router.add("POST", "/anthropic/v1/messages/count_tokens", countTokens)
  yield* router.add("GET", "/anthropic/v1/models", listModels)
  yield* router.add("GET", "/anthropic/v1/models/*", retrieveModel)
}))
