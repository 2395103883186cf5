/**
 * The Anthropic front door: `/anthropic/v1/messages`, `/messages/count_tokens` and `/models`, for
 * Claude Code (`ANTHROPIC_BASE_URL=https://host/anthropic`) and the Anthropic SDKs.
 * Towards an Anthropic Provider the request is passed through untouched but for `model`, with the
 * client's `anthropic-version` and `anthropic-beta` headers.
 */
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { anthropicClient } from "../dialect/anthropic/client.ts"
import { estimateTokens } from "../dialect/anthropic/count-tokens.ts"
import { decodeMessagesRequest } from "../dialect/anthropic/request.ts"
import { gatewayError } from "../errors.ts"
import { forwardWhole, withModel } from "../llm/passthrough.ts"
import { anthropicTarget } from "../llm/targets.ts"
import { Upstream } from "../llm/upstream.ts"
import type { ListedModel } from "../providers/registry.ts"
import { makeAdmission, pathRest } from "./admit.ts"
import { makeChatRoute, nothingToPrepare } from "./chat-route.ts"
import { json, wholeBody } from "./respond.ts"

const clientHeaders = (request: HttpServerRequest.HttpServerRequest) => ({
  version: request.headers["anthropic-version"],
  beta: request.headers["anthropic-beta"]
})

const modelEntry = ({ id, provider }: ListedModel) => ({
  type: "model",
  id,
  display_name: id,
  created_at: provider.createdAt ?? new Date(0).toISOString()
})

export const AnthropicRoutes = HttpRouter.use(Effect.fn(function*(router) {
  const { admitChat, modelsRoute, registry } = yield* makeAdmission
  const chatRoute = yield* makeChatRoute
  const upstream = yield* Upstream

  const messages = chatRoute({
    format: anthropicClient,
    target: ({ provider, request }) => Effect.succeed(anthropicTarget(provider, "/v1/messages", clientHeaders(request))),
    context: ({ request }) => ({ anthropicBeta: clientHeaders(request).beta }),
    prepare: nothingToPrepare
  })

  const countTokens = Effect.gen(function*() {
    const { body, bodyText, model, provider, request } = yield* admitChat
    if (provider.type === "anthropic") {
      return wholeBody(yield* forwardWhole(upstream, {
        provider: provider.name,
        ...anthropicTarget(provider, "/v1/messages/count_tokens", clientHeaders(request)),
        body: withModel(body, bodyText, model)
      }))
    }
    // Other providers have no such endpoint: say plainly that this is an estimate. count_tokens takes
    // a Messages request without `max_tokens`.
    const { conversation } = yield* Effect.fromResult(decodeMessagesRequest({ max_tokens: 1, ...body }, model))
    return HttpServerResponse.jsonUnsafe(
      { input_tokens: estimateTokens(conversation), estimated: true },
      { headers: { "x-orka-token-count": "estimate" } }
    )
  })

  // One route for the list and for one model (see the OpenAI door).
  const models = modelsRoute((request) => {
    const id = pathRest(request, "/anthropic/v1/models").replace(/^\//, "")
    if (id === "") {
      const data = registry.models().map(modelEntry)
      return Effect.succeed(json({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null }))
    }
    const found = registry.models().find((m) => m.id === id)
    return found === undefined
      ? Effect.fail(gatewayError("not_found", `model "${id}" is not served here; GET /anthropic/v1/models lists them`))
      : Effect.succeed(json(modelEntry(found)))
  })

  yield* router.add("POST", "/anthropic/v1/messages", messages)
  yield* router.add("POST", "/anthropic/v1/messages/count_tokens", countTokens)
  yield* router.add("GET", "/anthropic/v1/models/*", models)
}))
