/**
 * A chat front door, the same for every client format: admit, plan (./plan.ts), then relay to a
 * provider of the client's format or answer in IR and encode in it. A door is its format
 * (dialect/<format>/client.ts) plus where a provider of that format is called on pass-through.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { GatewayConfig } from "../config.ts"
import type { ClientFormat, DecodedRequest, Untranslatable } from "../dialect/wire.ts"
import type { GatewayError } from "../errors.ts"
import type { CallContext } from "../llm/backend.ts"
import type { Target } from "../llm/targets.ts"
import type { ResolvedProvider } from "../providers/provider.ts"
import { CurrentRequest } from "../request-note.ts"
import { ToolLoop } from "../tools/service.ts"
import { annotate, SpanAttr, usageAttributes } from "../tracing.ts"
import { noteRequest } from "./access-log.ts"
import { type AdmittedChat, type Handler, makeAdmission } from "./admit.ts"
import { makeAnswers, type ToolsRun } from "./answer.ts"
import { makeFallbacks } from "./fallbacks.ts"
import { observeCompletion, observeEvents } from "./observe.ts"
import { plan } from "./plan.ts"
import { json } from "./respond.ts"
import { awaitFirst, sse } from "./sse.ts"

export interface ChatDoor<Extra, Prepared = undefined> {
  readonly format: ClientFormat<Extra, Prepared>
  /** where a provider of the door's format is sent the client's body on pass-through */
  readonly target: (chat: AdmittedChat) => Effect.Effect<Target, GatewayError>
  /** the client's headers that a provider of its format gets when the request is translated too */
  readonly context: (chat: AdmittedChat) => CallContext
  /** whether the provider speaks the format (default: its type is one the format is native to) */
  readonly speaks?: (provider: ResolvedProvider) => boolean
  /** what the decoder needs looked up first (the Responses API's stored conversation) */
  readonly prepare: (chat: AdmittedChat, native: boolean) => Effect.Effect<Prepared, GatewayError>
  /** whether, with what was looked up, the request may still pass through (default: yes) */
  readonly passable?: (prepared: Prepared) => boolean
  /** what is done with a whole answer before its last event leaves (the Responses store), if anything */
  readonly keep?: (chat: AdmittedChat, request: DecodedRequest<Extra>) => ((answer: object) => Effect.Effect<void>) | undefined
  /** the client asked that nothing be kept (the Responses API's `store: false`): no state for it, in the store or read from it */
  readonly stateless?: (request: DecodedRequest<Extra>) => boolean
  /** gateway tools the request itself asks for (hosted tools): they run even with server-side tools off, alone then */
  readonly asksTools?: (request: DecodedRequest<Extra>) => ReadonlySet<string>
}

/** A door whose format needs nothing looked up before decoding. */
export const nothingToPrepare = (): Effect.Effect<undefined> => Effect.succeed(undefined)

export const makeChatRoute = Effect.gen(function*() {
  const config = yield* GatewayConfig
  const { admitCaller, admitFor } = yield* makeAdmission
  const { relayed, translated } = yield* makeAnswers
  const toolLoop = yield* ToolLoop
  const servedBy = yield* makeFallbacks(admitFor)

  /** One chat served by one Provider: the plan, then the answer relayed or in IR. */
  const serve = <Extra, Prepared>(door: ChatDoor<Extra, Prepared>, chat: AdmittedChat) =>
    Effect.gen(function*() {
      const { format } = door
      const current = yield* CurrentRequest
      const speaks = door.speaks?.(chat.provider) ?? format.nativeTo.includes(chat.provider.type)
      const prepared = yield* door.prepare(chat, speaks)
      const native = speaks && (door.passable?.(prepared) ?? true)
      const served = plan({ native, tools: chat.tools }, () => format.decodeRequest(chat.body, chat.model, prepared))
      const passThrough = (toolsSkipped: ReadonlyArray<string>) =>
        Effect.andThen(
          toolsSkipped.length > 0 ? skippedTools(chat.request, toolsSkipped) : Effect.void,
          Effect.flatMap(door.target(chat), (target) => relayed(chat, target, format.relayed))
        )
      switch (served._tag) {
        case "Reject":
          return yield* Effect.fail(served.error)
        case "Passthrough":
          return yield* passThrough(served.toolsSkipped)
        case "Translate":
        case "ToolLoop": {
          const { request } = served
          // a hosted tool the gateway cannot serve here (web_search without a backend): a provider of
          // the client's format serves it itself; towards another it is left out like any part
          const asked = [...(door.asksTools?.(request) ?? [])]
          const hosted = new Set(asked.filter((name) => toolLoop.offers(name)))
          const unserved = asked.filter((name) => !hosted.has(name)).map(notServed)
          if (native && unserved.length > 0) return yield* passThrough(unserved.map((u) => u.message))
          const leftOut = [...served.leftOut, ...unserved]
          const fields = native ? [] : format.onlyHere(request.conversation, chat.provider.type)
          yield* logLeftOut(chat.provider, fields, leftOut)
          const tools: ToolsRun = served._tag === "ToolLoop" ? "all" : hosted.size > 0 ? hosted : "none"
          const answer = translated(chat, request.conversation, tools, door.context(chat), !(door.stateless?.(request) ?? false))
          const onComplete = door.keep?.(chat, request)
          const meta = { model: chat.requested, progress: chat.progress, keepAliveMs: config.keepAliveInterval, onComplete }
          let response: HttpServerResponse.HttpServerResponse
          if (chat.stream) {
            response = sse(format.encodeStream(Stream.mapError(yield* awaitFirst(observeEvents(current, answer.stream)), chat.present), request, meta))
          } else {
            const completion = yield* answer.complete
            observeCompletion(current, completion)
            // a whole answer is complete while the request's span is open: it carries the usage
            yield* annotate(() => ({ ...usageAttributes(completion.usage), [SpanAttr.responseModel]: chat.mask(completion.model) }))
            const whole = format.encodeAnswer(completion, request, meta)
            if (onComplete !== undefined) yield* onComplete(whole)
            response = json(whole)
          }
          return withLeftOut(response, [...fields, ...leftOut.map((u) => u.param)])
        }
      }
    })

  return <Extra, Prepared>(door: ChatDoor<Extra, Prepared>): Handler =>
    Effect.gen(function*() {
      const { format } = door
      const current = yield* CurrentRequest
      if (current !== undefined) Object.assign(current.note, { operation: operations[format.name], dialect: format.name })
      return yield* servedBy(yield* admitCaller, (chat) => serve(door, chat))
    })
})

/** The OpenTelemetry GenAI operation of each client format (`gen_ai.operation.name`). */
const operations: Readonly<Record<ClientFormat["name"], string>> = { openai: "chat", anthropic: "messages", responses: "responses" }

const notServed = (name: string): Untranslatable => ({
  param: "tools",
  message: `the hosted tool served by the gateway's ${name}, which is not configured here${name === "web_search" ? " (--web-search-backend)" : ""}`
})

/**
 * Tools were asked for but the request holds what only its own format carries (or does not decode,
 * or asks for a hosted tool only its provider can serve here): it goes to the provider as it is.
 * Said once in the log, and in the access log line.
 */
const skippedTools = (request: HttpServerRequest.HttpServerRequest, why: ReadonlyArray<string>) =>
  Effect.sync(() => noteRequest(request, { tools: false })).pipe(
    Effect.andThen(Effect.logInfo("server-side tools skipped: the request holds what only a provider of its own dialect can take")),
    Effect.annotateLogs({ parts: why.join("; ") })
  )

/**
 * What a provider of another format will not get of the request, said in one log line: the
 * top-level fields only the client's format has (`thinking`, `response_format`…), its cache hints,
 * and the parts the IR cannot carry.
 */
const logLeftOut = (provider: ResolvedProvider, fields: ReadonlyArray<string>, parts: ReadonlyArray<Untranslatable>): Effect.Effect<void> =>
  fields.length === 0 && parts.length === 0 ? Effect.void : Effect.logInfo("left out in translation").pipe(Effect.annotateLogs({
    provider: provider.name,
    ...(fields.length === 0 ? {} : { fields: fields.join(",") }),
    ...(parts.length === 0 ? {} : { parts: parts.map((u) => `${u.param}: ${u.message}`).join("; ") })
  }))

/** The longest `x-orka-left-out` value: the log line has the whole list. */
const leftOutHeaderChars = 1024

/** `x-orka-left-out`: what the provider did not get, each name URL-encoded (field names are the client's). */
const withLeftOut = (response: HttpServerResponse.HttpServerResponse, dropped: ReadonlyArray<string>) => {
  if (dropped.length === 0) return response
  let value = ""
  for (const name of dropped.map(encodeURIComponent)) {
    const next = value === "" ? name : `${value}, ${name}`
    if (next.length > leftOutHeaderChars) break
    value = next
  }
  return HttpServerResponse.setHeader(response, "x-orka-left-out", value)
}

