/**
 * The tool loop for a client that waits for the whole answer: each model call is asked whole and
 * nothing streams, so it runs as one effect, without a stream's stages (most such requests call no
 * tool: one model call, its answer folded back as it came). Its parts are the streamed loop's
 * (`loopParts` in loop.ts), so are its events, but for keep-alives, and with tool results in call order.
 */
import * as Effect from "effect/Effect"
import type { GatewayError } from "../errors.ts"
import { completionEvents } from "../ir/collect.ts"
import type { Conversation, ToolCallPart } from "../ir/conversation.ts"
import { addUsage, type AnswerEvent, type Completion, emptyUsage, type Usage } from "../ir/response.ts"
import { SpanAttr, traced } from "../tracing.ts"
import { askingToStop, type Cut, fitConversation, type LoopLimits, loopParts, type RunOptions, type ServerTools, type ToolResult, type Turn, withResults } from "./loop.ts"

/** A model asked for whole answers, for a client that waits for the whole answer. */
export type WholeModel = (conversation: Conversation) => Effect.Effect<Completion, GatewayError>

export const runToolLoopWhole = (
  conversation: Conversation,
  model: WholeModel,
  tools: ServerTools,
  limits: LoopLimits,
  { keep, showModel = (text) => text }: Omit<RunOptions, "trace"> = {}
): Effect.Effect<ReadonlyArray<AnswerEvent>, GatewayError> => {
  const parts = loopParts(conversation, tools, limits, keep)

  const call = (c: Conversation, n: number): Effect.Effect<Completion, GatewayError> =>
    model(fitConversation(c, limits.maxConversationBytes)).pipe(
      Effect.catch((e: GatewayError) => {
        const retry = parts.retryWith(c, n, e)
        return retry === undefined ? Effect.fail(e) : Effect.flatMap(retry, model)
      })
    )

  const iteration = (c: Conversation, n: number, usage: Usage, lastCall?: Cut): Effect.Effect<ReadonlyArray<AnswerEvent>, GatewayError> => {
    const { shown, turn } = parts.newTurn(n)
    const span = parts.turnSpan(c, n, turn, showModel)
    return call(c, n).pipe(
      Effect.map((completion) => completionEvents(completion).flatMap(shown)),
      traced("orka.tool_loop.iteration", { attributes: span.attributes, result: span.atEnd }),
      Effect.flatMap((said) =>
        Effect.map(after(c, n, addUsage(usage, turn.end?.usage ?? emptyUsage), turn, lastCall), (rest) => rest.length === 0 ? said : [...said, ...rest])
      )
    )
  }

  const after = (c: Conversation, n: number, usage: Usage, turn: Turn, lastCall: Cut | undefined): Effect.Effect<ReadonlyArray<AnswerEvent>, GatewayError> => {
    const next = parts.next(n, turn, lastCall)
    switch (next._tag) {
      case "failed":
        return Effect.succeed([])
      case "answered":
        return parts.answered(n, usage, turn, next)
      case "run": {
        const mixed = parts.mixed(next)
        if (next.cut !== undefined) return Effect.andThen(mixed, iteration(askingToStop(c, turn.content), n + 1, usage, next.cut))
        const keptBeside = parts.keptBeside
        if (keptBeside !== undefined && next.clientCalls.length > 0) {
          return Effect.andThen(mixed, runCalls(next.calls, (ran) => keptBeside(n, usage, turn, next, ran)))
        }
        return Effect.andThen(mixed, runCalls(next.calls, (ran) => iteration(withResults(c, turn.content, next.calls, ran.map((r) => r.text)), n + 1, usage)))
      }
    }
  }

  /** The gateway's calls of a turn, in parallel; their events in call order, then what comes after. */
  const runCalls = (
    calls: ReadonlyArray<ToolCallPart>,
    then: (ran: ReadonlyArray<ToolResult>) => Effect.Effect<ReadonlyArray<AnswerEvent>, GatewayError>
  ): Effect.Effect<ReadonlyArray<AnswerEvent>, GatewayError> =>
    Effect.forEach(calls, parts.result, { concurrency: "unbounded" }).pipe(
      Effect.flatMap((ran) =>
        Effect.map(then(ran), (rest): ReadonlyArray<AnswerEvent> => [
          ...calls.map((call): AnswerEvent => ({ type: "server_tool_call", call })),
          ...calls.map((call, i): AnswerEvent => ({ type: "server_tool_result", call, result: ran[i]!.text, isError: ran[i]!.isError })),
          ...rest
        ])
      )
    )

  return iteration(parts.offered, 1, emptyUsage).pipe(
    traced("orka.tool_loop", { attributes: { [SpanAttr.requestModel]: showModel(conversation.model) } })
  )
}
