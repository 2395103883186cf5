/** The OpenAI front door: `/openai/v1/chat/completions` and `/openai/v1/models`. */
import { Effect, Result, Stream } from "effect"
import { HttpRouter } from "effect/http"
import { decodeChatRequest } from "../dialect/openai/request.ts"
import { encodeCompletion } from "../dialect/openai/response.ts"
import { relayed as openaiRelay } from "../dialect/openai/relayed.ts"
import { encodeStream } from "../dialect/openai/stream.ts"
import { gatewayError, invalidRequest } from "../errors.ts"
import { withModel } from "../llm/passthrough.ts"
import { openaiCompatibleTarget } from "../llm/targets.ts"
import { outputCap } from "../providers/provider.ts"
import type { ListedModel } from "../providers/registry.ts"
import { leftOut, makeFrontDoor, pathRest, skippedTools } from "./front-door.ts"
import { json } from "./respond.ts"
import { awaitFirst, sse } from "./sse.ts"

const modelEntry = ({ id, provider }: ListedModel) => ({
  id,
  object: "model",
  created: provider.createdAt === undefined ? 0 : Math.floor(Date.parse(provider.createdAt) / 1000),
  owned_by: provider.name
})

export const OpenAIRoutes = HttpRouter.use(Effect.fn(function*(router) {
  const { admitChat, answer, modelsRoute, passThrough, registry } = yield* makeFrontDoor

  const chatCompletions = Effect.gen(function*() {
    const chat = yield* admitChat
    const { provider } = chat
    const native = provider.type === "openai" || provider.type === "azure-openai"
    const asIs = Effect.gen(function*() {
      const call = { provider: provider.name, ...(yield* openaiCompatibleTarget(provider, chat.model)), body: withModel(chat.body, chat.model, outputCap(provider, chat.model)) }
      return yield* passThrough(chat, call, openaiRelay)
    })
    if (native && !chat.tools) return yield* asIs

    // Tools run, or the provider speaks another dialect: the request is read whole. What the IR cannot
    // carry still reaches a provider of its own dialect, without the gateway's tools.
    const decoded = yield* Effect.result(decodeChatRequest(chat.body))
    if (Result.isFailure(decoded)) {
      if (!native) return yield* decoded.failure
      yield* skippedTools(chat.request, [decoded.failure.message])
      return yield* asIs
    }
    const request = decoded.success
    if (native && request.untranslatable.length > 0) {
      yield* skippedTools(chat.request, request.untranslatable.map((u) => u.param))
      return yield* asIs
    }
    const [first] = request.untranslatable
    if (first !== undefined) return yield* Effect.fail(invalidRequest(`${first.message}; provider ${provider.name} is ${provider.type}`, first.param))
    yield* leftOut(provider, "openai", request.conversation)
    const answered = answer(chat, { ...request.conversation, model: chat.model })
    const meta = { model: chat.requested, created: Math.floor(Date.now() / 1000), includeUsage: request.includeUsage, progress: chat.progress }
    if (!chat.stream) return json(encodeCompletion(yield* answered.complete, meta))
    return sse(encodeStream(Stream.mapError(yield* awaitFirst(answered.stream), chat.present), meta))
  })

  // One route for the list and for one model: ids contain "/", and the router treats
  // "/openai/v1/models/*" as covering "/openai/v1/models" too.
  const models = modelsRoute((request) => {
    const id = pathRest(request, "/openai/v1/models").replace(/^\//, "")
    if (id === "") return Effect.succeed(json({ object: "list", data: registry.models().map(modelEntry) }))
    const found = registry.models().find((m) => m.id === id)
    return found === undefined
      ? Effect.fail(gatewayError("not_found", `model "${id}" is not served here; GET /openai/v1/models lists them`, { param: "model", code: "model_not_found" }))
      : Effect.succeed(json(modelEntry(found)))
  })

  yield* router.add("POST", "/openai/v1/chat/completions", chatCompletions)
  yield* router.add("GET", "/openai/v1/models/*", models)
}))
