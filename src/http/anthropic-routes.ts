/**
 * The Anthropic front door: `/anthropic/v1/messages`, `/messages/count_tokens` and `/models`, for
 * Claude Code (`ANTHROPIC_BASE_URL=https://host/anthropic`) and the Anthropic SDKs.
 * Towards an Anthropic Provider the request is passed through untouched but for `model`, with the
 * client's `anthropic-version` and `anthropic-beta` headers.
 */
import { Effect, Stream } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { estimateTokens } from "../dialect/anthropic/count-tokens.ts"
import { errorFrame } from "../dialect/anthropic/errors.ts"
import { decodeMessagesRequest } from "../dialect/anthropic/request.ts"
import { encodeMessage } from "../dialect/anthropic/response.ts"
import { streamEnd } from "../dialect/anthropic/stream-end.ts"
import { encodeStream } from "../dialect/anthropic/stream.ts"
import { gatewayError } from "../errors.ts"
import { forwardStream, forwardWhole, withModel } from "../llm/passthrough.ts"
import { anthropicTarget } from "../llm/targets.ts"
import { Upstream } from "../llm/upstream.ts"
import type { ListedModel } from "../providers/registry.ts"
import { makeFrontDoor, pathRest, skippedTools } from "./front-door.ts"
import { json, wholeBody } from "./respond.ts"
import { awaitFirst, relay, sse } from "./sse.ts"

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
  const { admitChat, answer, modelsRoute, registry } = yield* makeFrontDoor
  const upstream = yield* Upstream

  const messages = Effect.gen(function*() {
    const chat = yield* admitChat(decodeMessagesRequest)
    const { body, decoded, model, provider, request } = chat
    // Same dialect on both sides, and no tools or blocks the loop cannot carry: pass the body through
    // with only `model` rewritten.
    if ((!chat.tools || decoded.notes.length > 0) && provider.type === "anthropic") {
      if (chat.tools) yield* skippedTools(request, decoded.notes)
      const call = { provider: provider.name, ...anthropicTarget(provider, "/v1/messages", clientHeaders(request)), body: withModel(body, model) }
      if (!decoded.stream) return wholeBody(yield* forwardWhole(upstream, call))
      const cut = gatewayError("api_error", `provider ${provider.name}'s stream ended before the message was complete`, { status: 502 })
      return relay(Stream.mapError(yield* forwardStream(upstream, call), chat.present), {
        onError: errorFrame,
        onEnd: (tail, fromStart) => (streamEnd(tail, fromStart) === "whole" ? undefined : errorFrame(cut))
      })
    }
    if (decoded.notes.length > 0) {
      yield* Effect.logInfo("request parts left out in translation").pipe(
        Effect.annotateLogs({ provider: provider.name, dropped: decoded.notes.join("; ") })
      )
    }
    const { beta } = clientHeaders(request)
    const extensions = beta === undefined ? decoded.conversation.extensions : { ...decoded.conversation.extensions, anthropicBeta: beta }
    const answered = answer(chat, { ...decoded.conversation, model, extensions })
    if (!decoded.stream) return json(encodeMessage(yield* answered.complete, { model: decoded.model }))
    return sse(encodeStream(Stream.mapError(yield* awaitFirst(answered.stream), chat.present), { model: decoded.model }))
  })

  // count_tokens takes a Messages request without `max_tokens`.
  const decodeCountRequest = (body: unknown) =>
    decodeMessagesRequest(typeof body === "object" && body !== null && !Array.isArray(body) ? { max_tokens: 1, ...body } : body)

  const countTokens = Effect.gen(function*() {
    const { body, decoded, model, provider, request } = yield* admitChat(decodeCountRequest)
    if (provider.type === "anthropic") {
      return wholeBody(yield* forwardWhole(upstream, {
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
