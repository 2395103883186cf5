/**
 * The Responses API door: `POST /openai/v1/responses` for Codex CLI, the OpenAI Agents SDK and the
 * AI SDK, with the same admission, plan and tool loop as the chat doors; and the stored responses,
 * each its caller's only: `GET /openai/v1/responses/{id}`, `GET …/{id}/input_items`,
 * `DELETE …/{id}`, and `POST /openai/v1/responses/input_tokens`.
 *
 * State: a response the gateway answers with `store` (the default) is kept in the ResponseStore
 * under the caller's identity; `previous_response_id` and `item_reference` inputs are resolved from
 * it before the request is decoded. A request that continues a response kept here is answered
 * through the IR, even by a provider that speaks the Responses API (which never saw that response).
 * One the gateway did not keep passes through to such a provider, which may have kept it itself;
 * to any other provider it is a 404.
 */
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { chatAccess } from "../auth/authorizer.ts"
import { GatewayConfig } from "../config.ts"
import { estimateTokens } from "../dialect/anthropic/count-tokens.ts"
import { responsesClient } from "../dialect/responses/client.ts"
import { referencesOf, type ResponsesPrepared } from "../dialect/responses/request.ts"
import type { ResponsesExtra } from "../dialect/responses/vocabulary.ts"
import { type GatewayError, gatewayError } from "../errors.ts"
import { forwardWhole, withModel } from "../llm/passthrough.ts"
import { responsesTarget } from "../llm/targets.ts"
import { Upstream } from "../llm/upstream.ts"
import { ResponseStore, type StoredResponse } from "../store/response-store.ts"
import { type AdmittedChat, makeAdmission, ownerOf, pathRest } from "./admit.ts"
import { makeChatRoute } from "./chat-route.ts"
import { json, wholeBody } from "./respond.ts"

const notFound = (what: string, id: string, param?: string): GatewayError =>
  gatewayError("not_found", `${what} with id '${id}' not found.`, {
    ...(param === undefined ? {} : { param }),
    code: param === "previous_response_id" ? "previous_response_not_found" : "not_found"
  })

/** `GET …/input_items` pages, newest first unless `order=asc`, as the API lists them. */
const inputItemsPage = (items: ReadonlyArray<Readonly<Record<string, unknown>>>, query: URLSearchParams) => {
  const limit = Math.min(100, Math.max(1, Number(query.get("limit") ?? 20) || 20))
  const ordered = query.get("order") === "asc" ? items : [...items].reverse()
  const after = query.get("after")
  const start = after === null ? 0 : ordered.findIndex((item) => item["id"] === after) + 1
  const data = ordered.slice(start, start + limit)
  return {
    object: "list",
    data,
    first_id: data[0]?.["id"] ?? null,
    last_id: data.at(-1)?.["id"] ?? null,
    has_more: start + limit < ordered.length
  }
}

export const ResponsesRoutes = HttpRouter.use(Effect.fn(function*(router) {
  const config = yield* GatewayConfig
  const store = yield* ResponseStore
  const upstream = yield* Upstream
  const { admit, admitChat } = yield* makeAdmission
  const chatRoute = yield* makeChatRoute

  /** The stored conversation a request continues, or undefined when it continues none kept here. */
  const prepare = (chat: AdmittedChat, speaks: boolean): Effect.Effect<ResponsesPrepared | undefined, GatewayError> =>
    Effect.gen(function*() {
      const { items, previous } = referencesOf(chat.body)
      if (previous === undefined && items.length === 0) return undefined
      const owner = ownerOf(chat.identity)
      const stored = previous === undefined ? undefined : yield* store.get(owner, previous)
      // not kept here: a provider of the API may have it; to another it is unknown
      if (previous !== undefined && stored === undefined) {
        return speaks ? undefined : yield* Effect.fail(notFound("Previous response", previous, "previous_response_id"))
      }
      const references = new Map<string, Readonly<Record<string, unknown>>>()
      for (const id of items) {
        const item = yield* store.item(owner, id)
        if (item === undefined) return speaks && stored === undefined ? undefined : yield* Effect.fail(notFound("Item", id, "input"))
        references.set(id, item)
      }
      return { history: stored === undefined ? [] : [...stored.input, ...stored.response.output], references }
    })

  /** Keeps a whole answer for its caller; a store that fails loses the continuation, not the answer. */
  const keep = (chat: AdmittedChat, input: ResponsesExtra["input"]) => (answer: object) =>
    store.put(ownerOf(chat.identity), { response: answer as StoredResponse["response"], input }).pipe(
      Effect.catch((e) => Effect.logWarning("response not stored").pipe(Effect.annotateLogs({ error: e.message })))
    )

  const create = chatRoute({
    format: responsesClient,
    speaks: (provider) => provider.responsesAPI,
    target: ({ provider }) => Effect.succeed(responsesTarget(provider)),
    context: () => ({}),
    prepare,
    passable: (prepared) => prepared === undefined,
    keep: (chat, request) => (request.extra.store ? keep(chat, request.extra.input) : undefined),
    stateless: (request) => !request.extra.store,
    asksTools: (request) => request.extra.hosted
  })

  /** `{id}` or `{id}/input_items` of a stored response of the caller. */
  const stored = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const identity = yield* admit(request, chatAccess(config.namespace))
    const [id = "", part, ...more] = pathRest(request, "/openai/v1/responses/").split("/")
    const found = id === "" || more.length > 0 ? undefined : yield* store.get(ownerOf(identity), id)
    return { request, identity, id, part, found }
  })

  const read = Effect.gen(function*() {
    const { found, id, part, request } = yield* stored
    if (found === undefined || (part !== undefined && part !== "input_items")) return yield* Effect.fail(notFound("Response", id))
    if (part === undefined) return json(found.response)
    return json(inputItemsPage(found.input, new URLSearchParams(request.url.split("?")[1] ?? "")))
  })

  const remove = Effect.gen(function*() {
    const { id, identity, part } = yield* stored
    const removed = part === undefined && (yield* store.remove(ownerOf(identity), id))
    return removed ? json({ id, object: "response", deleted: true }) : yield* Effect.fail(notFound("Response", id))
  })

  const inputTokens = Effect.gen(function*() {
    const chat = yield* admitChat
    if (chat.provider.responsesAPI) {
      const target = responsesTarget(chat.provider)
      return wholeBody(yield* forwardWhole(upstream, { provider: chat.provider.name, ...target, url: `${target.url}/input_tokens`, body: withModel(chat.body, chat.bodyText, chat.model) }))
    }
    // no such endpoint elsewhere: an estimate, said to be one
    const prepared = yield* prepare(chat, false)
    const { conversation } = yield* Effect.fromResult(responsesClient.decodeRequest(chat.body, chat.model, prepared))
    return HttpServerResponse.jsonUnsafe(
      { object: "response.input_tokens", input_tokens: estimateTokens(conversation), estimated: true },
      { headers: { "x-orka-token-count": "estimate" } }
    )
  })

  yield* router.add("POST", "/openai/v1/responses", create)
  yield* router.add("POST", "/openai/v1/responses/input_tokens", inputTokens)
  yield* router.add("GET", "/openai/v1/responses/*", read)
  yield* router.add("DELETE", "/openai/v1/responses/*", remove)
}))
