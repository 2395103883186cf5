/** The OpenAI front door: `/openai/v1/chat/completions` and `/openai/v1/models`. */
import { Effect, Stream } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { Authenticator } from "../auth/auth.ts"
import { Authorizer, chatAccess, listModelsAccess, providerAccess } from "../auth/authorizer.ts"
import { GatewayConfig } from "../config.ts"
import { decodeChatRequest } from "../dialect/openai/request.ts"
import { encodeCompletion } from "../dialect/openai/response.ts"
import { encodeStream, errorFrame } from "../dialect/openai/stream.ts"
import { type GatewayError, gatewayError } from "../errors.ts"
import { Backends } from "../llm/backends.ts"
import { openaiCompatibleTarget } from "../llm/targets.ts"
import { forward, type RawAnswer, withModel } from "../llm/passthrough.ts"
import { Upstream } from "../llm/upstream.ts"
import { type ListedModel, ProviderRegistry } from "../providers/registry.ts"
import { noteRequest } from "./access-log.ts"
import { authenticate } from "./authenticate.ts"
import { readJsonBody } from "./body.ts"
import { errorResponse, json } from "./respond.ts"
import { awaitFirst, relay, sse } from "./sse.ts"
import { toolsHeader } from "./tools-header.ts"

const nowSeconds = () => Math.floor(Date.now() / 1000)

export const OpenAIRoutes = HttpRouter.use(Effect.fn(function*(router) {
  const config = yield* GatewayConfig
  const registry = yield* ProviderRegistry
  const backends = yield* Backends
  const upstream = yield* Upstream
  const auth = yield* Authenticator
  const authz = yield* Authorizer

  const chatCompletions = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const identity = yield* authenticate(auth, request)
    noteRequest(request, { user: identity.user })
    yield* authz.authorize(identity, chatAccess(config.namespace))
    yield* toolsHeader(request.headers)
    const body = yield* readJsonBody(config.maxBodyBytes)
    const decoded = yield* decodeChatRequest(body)
    const { model, provider } = yield* registry.resolve(decoded.model)
    if (config.authorizeProviders) yield* authz.authorize(identity, providerAccess(provider.namespace, provider.name))
    noteRequest(request, { provider: provider.name, model, stream: decoded.stream })
    const meta = { model: decoded.model, created: nowSeconds(), includeUsage: decoded.includeUsage }

    if (provider.type === "openai" || provider.type === "azure-openai") {
      const answer = yield* forward(upstream, {
        provider: provider.name,
        ...(yield* openaiCompatibleTarget(provider, model)),
        body: withModel(body as Record<string, unknown>, model)
      })
      if (!decoded.stream) return yield* collect(answer)
      return relay(answer.body, errorFrame)
    }

    const backend = backends.forType(provider.type)
    const conversation = { ...decoded.conversation, model }
    if (!decoded.stream) return json(encodeCompletion(yield* backend.complete(conversation, provider), meta))
    const events = yield* awaitFirst(backend.stream(conversation, provider))
    return sse(encodeStream(events, meta))
  }).pipe(Effect.catchTag("GatewayError", (e) => Effect.succeed(errorResponse("openai", e))))

  const modelEntry = ({ id, provider }: ListedModel) => ({
    id,
    object: "model",
    created: provider.createdAt === undefined ? 0 : Math.floor(Date.parse(provider.createdAt) / 1000),
    owned_by: provider.name
  })

  const modelsRoute = (answer: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, GatewayError>) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const identity = yield* authenticate(auth, request)
      noteRequest(request, { user: identity.user })
      yield* authz.authorize(identity, listModelsAccess(config.namespace))
      return yield* answer(request)
    }).pipe(Effect.catchTag("GatewayError", (e) => Effect.succeed(errorResponse("openai", e))))

  const listModels = modelsRoute(() => Effect.succeed(json({ object: "list", data: registry.models().map(modelEntry) })))

  // Model ids contain "/" (provider/model), so the id is the rest of the path.
  const retrieveModel = modelsRoute((request) => {
    const id = decodeURIComponent((request.url.split("?")[0] ?? "").slice("/openai/v1/models/".length))
    const found = registry.models().find((m) => m.id === id)
    return found === undefined
      ? Effect.fail(gatewayError("not_found", `model "${id}" is not served here; GET /openai/v1/models lists them`, { param: "model", code: "model_not_found" }))
      : Effect.succeed(json(modelEntry(found)))
  })

  yield* router.add("POST", "/openai/v1/chat/completions", chatCompletions)
  yield* router.add("GET", "/openai/v1/models", listModels)
  yield* router.add("GET", "/openai/v1/models/*", retrieveModel)
}))

/**
 * A non-streamed pass-through answer, read whole before the status is sent so that a connection
 * that breaks mid-body becomes an error response rather than a truncated 200.
 */
const collect = (answer: RawAnswer) =>
  Effect.map(Stream.runCollect(answer.body), (chunks) =>
    HttpServerResponse.uint8Array(Buffer.concat(chunks), { contentType: answer.contentType }))
