/**
 * The Anthropic front door: `/anthropic/v1/messages`, `/messages/count_tokens` and `/models`, for
 * Claude Code (`ANTHROPIC_BASE_URL=https://host/anthropic`) and the Anthropic SDKs.
 * Towards an Anthropic Provider the request is passed through untouched but for `model`, with the
 * client's `anthropic-version` and `anthropic-beta` headers.
 */
import { Effect, Result, Stream } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { estimateTokens } from "../dialect/anthropic/count-tokens.ts"
import { decodeMessagesRequest } from "../dialect/anthropic/request.ts"
import { encodeMessage } from "../dialect/anthropic/response.ts"
import { relayed as anthropicRelay } from "../dialect/anthropic/relayed.ts"
import { encodeStream } from "../dialect/anthropic/stream.ts"
import { gatewayError } from "../errors.ts"
import { forwardWhole, withModel } from "../llm/passthrough.ts"
import { anthropicTarget } from "../llm/targets.ts"
import { Upstream } from "../llm/upstream.ts"
import { outputCap } from "../providers/provider.ts"
import type { ListedModel } from "../providers/registry.ts"
import { leftOut, makeFrontDoor, pathRest, skippedTools } from "./front-door.ts"
import { json, wholeBody } from "./respond.ts"
import { awaitFirst, sse } from "./sse.ts"

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
  const { admitChat, answer, modelsRoute, passThrough, registry } = yield* makeFrontDoor
  const upstream = yield* Upstream

  const messages = Effect.gen(function*() {
    const chat = yield* admitChat
    const { provider, request } = chat
    const native = provider.type === "anthropic"
    const asIs = passThrough(
      chat,
      { provider: provider.name, ...anthropicTarget(provider, "/v1/messages", clientHeaders(request)), body: withModel(chat.body, chat.model, outputCap(provider, chat.model)) },
      anthropicRelay
    )
    if (native && !chat.tools) return yield* asIs

    // Tools run, or the provider speaks another dialect: the request is read whole. What the IR cannot
    // carry still reaches an Anthropic provider, without the gateway's tools.
    const decoded = yield* Effect.result(decodeMessagesRequest(chat.body))
    if (Result.isFailure(decoded)) {
      if (!native) return yield* decoded.failure
      yield* skippedTools(request, [decoded.failure.message])
      return yield* asIs
    }
    const { conversation, notes } = decoded.success
    if (native && notes.length > 0) {
      yield* skippedTools(request, notes)
      return yield* asIs
    }
    yield* leftOut(provider, "anthropic", conversation, notes)
    const answered = answer(chat, { ...conversation, model: chat.model }, { anthropicBeta: clientHeaders(request).beta })
    if (!chat.stream) return json(encodeMessage(yield* answered.complete, { model: chat.requested }))
    return sse(encodeStream(Stream.mapError(yield* awaitFirst(answered.stream), chat.present), {
      model: chat.requested,
      progress: chat.progress,
      inputEstimate: estimateTokens(conversation),
      pingEveryMs: chat.keepAliveMs
    }))
  })

  const countTokens = Effect.gen(function*() {
    const { body, model, provider, request } = yield* admitChat
    if (provider.type === "anthropic") {
      return wholeBody(yield* forwardWhole(upstream, {
        provider: provider.name,
        ...anthropicTarget(provider, "/v1/messages/count_tokens", clientHeaders(request)),
        body: withModel(body, model)
      }))
    }
    // Other providers have no such endpoint: say plainly that this is an estimate. count_tokens takes
    // a Messages request without `max_tokens`.
    const { conversation } = yield* decodeMessagesRequest({ max_tokens: 1, ...body })
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
