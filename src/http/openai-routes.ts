/** The OpenAI front door: `/openai/v1/chat/completions` and `/openai/v1/models`. */
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import { openaiClient } from "../dialect/openai/client.ts"
import { gatewayError } from "../errors.ts"
import { openaiCompatibleTarget } from "../llm/targets.ts"
import type { ListedModel } from "../providers/registry.ts"
import { makeAdmission, pathRest } from "./admit.ts"
import { makeChatRoute, nothingToPrepare } from "./chat-route.ts"
import { json } from "./respond.ts"

const modelEntry = ({ id, provider }: ListedModel) => ({
  id,
  object: "model",
  created: provider.createdAt === undefined ? 0 : Math.floor(Date.parse(provider.createdAt) / 1000),
  owned_by: provider.name
})

export const OpenAIRoutes = HttpRouter.use(Effect.fn(function*(router) {
  const { modelsRoute, registry } = yield* makeAdmission
  const chatRoute = yield* makeChatRoute

  const chatCompletions = chatRoute({
    format: openaiClient,
    target: ({ model, provider }) => openaiCompatibleTarget(provider, model),
    context: () => ({}),
    prepare: nothingToPrepare
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
