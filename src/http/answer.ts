/**
 * Getting the answer, once the plan is made: relayed from a provider of the client's format (the
 * fast path), or in IR from the provider's backend, directly or through the tool loop.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Identity } from "../auth/auth.ts"
import { Authorizer, toolAccess } from "../auth/authorizer.ts"
import { GatewayConfig } from "../config.ts"
import { bodyWithModel, type RelayDialect } from "../dialect/relay.ts"
import type { GatewayError } from "../errors.ts"
import { type Conversation, foldSystemTurns } from "../ir/conversation.ts"
import type { AnswerEvent, Completion } from "../ir/response.ts"
import type { CallContext, LlmBackend } from "../llm/backend.ts"
import { Backends } from "../llm/backends.ts"
import { forwardStream, forwardWhole, withModel } from "../llm/passthrough.ts"
import type { Target } from "../llm/targets.ts"
import { Upstream } from "../llm/upstream.ts"
import { outputCap, type ResolvedProvider } from "../providers/provider.ts"
import { CurrentRequest } from "../request-note.ts"
import { ResponseStore } from "../store/response-store.ts"
import { callIdsOf, keptTurnOf, restoreTurns } from "../tools/kept-turns.ts"
import type { KeepTurn } from "../tools/loop.ts"
import { type ToolFilter, ToolLoop } from "../tools/service.ts"
import { type AdmittedChat, ownerOf } from "./admit.ts"
import { modelSeen, observeWhole, relayWatch } from "./observe.ts"
import { wholeBody } from "./respond.ts"
import { relay } from "./relay-body.ts"
import { eventRewriter } from "./sse-rewrite.ts"

/** Which server-side tools run: none, all that the caller may use, or only these (of those). */
export type ToolsRun = "none" | "all" | ReadonlySet<string>

const onlyTools = (only: ReadonlySet<string>, permitted: ToolFilter | undefined): ToolFilter => (names) => {
  const asked = names.filter((name) => only.has(name))
  return permitted === undefined ? Effect.succeed(new Set(asked)) : permitted(asked)
}

/** An answer in IR, either whole or as events. */
export interface Answer {
  readonly complete: Effect.Effect<Completion, GatewayError>
  readonly stream: Stream.Stream<AnswerEvent, GatewayError>
}

export const makeAnswers = Effect.gen(function*() {
  const config = yield* GatewayConfig
  const authz = yield* Authorizer
  const backends = yield* Backends
  const toolLoop = yield* ToolLoop
  const upstream = yield* Upstream
  const store = yield* ResponseStore

  /**
   * The fast path: the body goes to `target` with only `model` rewritten (and the Provider's output
   * cap applied), and the answer comes back byte for byte but for the model id, which is the one the
   * client asked for.
   */
  const relayed = (chat: AdmittedChat, target: Target, dialect: RelayDialect) =>
    Effect.gen(function*() {
      const call = {
        provider: chat.provider.name,
        ...target,
        body: withModel(chat.body, chat.bodyText, chat.model, outputCap(chat.provider, chat.model)),
        providerType: chat.provider.type,
        model: chat.model
      }
      const current = yield* CurrentRequest
      if (chat.stream) {
        const bytes = yield* forwardStream(upstream, call)
        return relay(bytes, {
          onError: (e) => dialect.errorFrame(chat.present(e)),
          onEnd: dialect.onEnd(chat.provider.name),
          tailBytes: dialect.tailBytes
        }, { rewrite: eventRewriter(dialect.echoModel(chat.requested), modelSeen(current)), watch: relayWatch(current, dialect) })
      }
      const whole = yield* forwardWhole(upstream, call)
      observeWhole(current, whole.bytes)
      return wholeBody({ ...whole, bytes: bodyWithModel(whole.bytes, chat.requested) })
    })

  /**
   * The answer in IR: from the provider's backend, or through the tool loop around it (with all its
   * tools, or some). `keepsTurns`: the loop may keep its calls beside the client's for the next
   * request (not when the client asked that nothing be stored).
   */
  const translated = (chat: AdmittedChat, asked: Conversation, tools: ToolsRun, context: CallContext, keepsTurns = true): Answer => {
    const backend = backends.forType(chat.provider.type)
    const { conversation, folded } = fitSystemTurns(chat.provider, capOutput(chat.provider, asked), context)
    const answer: Answer = tools !== "none" ? looped(chat, conversation, backend, context, tools, keepsTurns) : {
      complete: backend.complete(conversation, chat.provider, context),
      stream: backend.stream(conversation, chat.provider, context)
    }
    if (!folded) return answer
    const said = Effect.logInfo("system turns folded into the system prompt").pipe(Effect.annotateLogs({ provider: chat.provider.name }))
    return { complete: Effect.andThen(said, answer.complete), stream: Stream.unwrap(Effect.as(said, answer.stream)) }
  }

  const looped = (chat: AdmittedChat, conversation: Conversation, backend: LlmBackend, context: CallContext, tools: ToolsRun, keepsTurns: boolean): Answer => {
    const permitted = config.authorizeTools ? permittedTools(chat.identity) : undefined
    const filter = typeof tools === "string" ? permitted : onlyTools(tools, permitted)
    const owner = ownerOf(chat.identity)
    const keep: KeepTurn = (clientCalls, kept) =>
      store.keepTurn(owner, clientCalls.map((x) => x.id), { ...kept }).pipe(
        Effect.catch((e) => Effect.logWarning("the gateway's calls beside the client's were not kept").pipe(Effect.annotateLogs({ error: e.message })))
      )
    const options = { callerSecrets: chat.callerSecrets, ...(keepsTurns ? { keep } : {}), ...(filter === undefined ? {} : { filter }) }
    const restored = keepsTurns ? withKeptTurns(owner, conversation) : Effect.succeed(conversation)
    // a client that waits for the whole answer gets nothing from a streamed model call: each is asked whole
    const whole = (c: Conversation) => backend.complete(c, chat.provider, context)
    return {
      complete: Effect.scoped(Effect.flatMap(restored, (c) => toolLoop.whole(c, whole, options))),
      stream: Stream.unwrap(Effect.flatMap(restored, (c) => toolLoop.loop(c, (c) => backend.stream(c, chat.provider, context), options)))
    }
  }

  /** The gateway's calls kept beside the client's (see tools/kept-turns.ts), back in place; without the store, the conversation as it came. */
  const withKeptTurns = (owner: string, c: Conversation): Effect.Effect<Conversation> => {
    const ids = callIdsOf(c)
    if (ids.length === 0) return Effect.succeed(c)
    return store.keptTurns(owner, ids).pipe(
      Effect.map((found) => {
        const kept = new Map([...found].flatMap(([id, json]) => {
          const turn = keptTurnOf(json)
          return turn === undefined ? [] : [[id, turn] as const]
        }))
        return restoreTurns(c, kept)
      }),
      // the store's own connection says once that it is away; each request says in its log line that it went on without them
      Effect.catch(() =>
        Effect.map(CurrentRequest, (current) => {
          if (current !== undefined) current.note.kept_calls = "unavailable"
          return c
        })
      )
    )
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

  return { relayed, translated }
})
