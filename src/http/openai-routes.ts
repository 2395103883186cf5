/** The OpenAI front door: `/openai/v1/chat/completions` and `/openai/v1/models`. */
import { Effect, Stream } from "effect"
import { HttpRouter } from "effect/http"
import { decodeChatRequest } from "../dialect/openai/request.ts"
import { encodeCompletion } from "../dialect/openai/response.ts"
import { streamEnd } from "../dialect/openai/stream-end.ts"
import { encodeStream, errorFrame } from "../dialect/openai/stream.ts"
import { gatewayError, invalidRequest } from "../errors.ts"
import { forwardStream, forwardWhole, withModel } from "../llm/passthrough.ts"
import { openaiCompatibleTarget } from "../llm/targets.ts"
import { Upstream } from "../llm/upstream.ts"
import type { ListedModel } from "../providers/registry.ts"
import { makeFrontDoor, pathRest, skippedTools } from "./front-door.ts"
import { json, wholeBody } from "./respond.ts"
import { awaitFirst, relay, sse } from "./sse.ts"

const modelEntry = ({ id, provider }: ListedModel) => ({
  id,
  object: "model",
  created: provider.createdAt === undefined ? 0 : Math.floor(Date.parse(provider.createdAt) / 1000),
  owned_by: provider.name
})

export const OpenAIRoutes = HttpRouter.use(Effect.fn(function*(router) {
  const { admitChat, answer, modelsRoute, registry } = yield* makeFrontDoor
  const upstream = yield* Upstream

  const chatCompletions = Effect.gen(function*() {
    const chat = yield* admitChat(decodeChatRequest)
    const { body, decoded, model, provider } = chat
    const whole = decoded.untranslatable.length === 0

    // Same dialect on both sides, and no tools or parts the loop cannot carry: pass the body through
    // with only `model` rewritten.
    if ((!chat.tools || !whole) && (provider.type === "openai" || provider.type === "azure-openai")) {
      if (chat.tools) yield* skippedTools(chat.request, decoded.untranslatable.map((u) => u.param))
      const call = { provider: provider.name, ...(yield* openaiCompatibleTarget(provider, model)), body: withModel(body, model) }
      if (!decoded.stream) return wholeBody(yield* forwardWhole(upstream, call))
      const cut = gatewayError("api_error", `provider ${provider.name}'s stream ended before the answer was complete`, { status: 502 })
      return relay(Stream.mapError(yield* forwardStream(upstream, call), chat.present), {
        onError: errorFrame,
        onEnd: (tail, fromStart) => {
          const end = streamEnd(tail, fromStart)
          return end === "whole" ? undefined : end === "done_missing" ? "data: [DONE]\n\n" : errorFrame(cut)
        }
      })
    }

    const [first] = decoded.untranslatable
    if (first !== undefined) return yield* Effect.fail(invalidRequest(`${first.message}; provider ${provider.name} is ${provider.type}`, first.param))
    const answered = answer(chat, { ...decoded.conversation, model })
    const meta = { model: decoded.model, created: Math.floor(Date.now() / 1000), includeUsage: decoded.includeUsage }
    if (!decoded.stream) return json(encodeCompletion(yield* answered.complete, meta))
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
