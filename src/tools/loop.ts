/**
 * The agent loop over the neutral conversation, the same for both front doors: the model's text is
 * streamed as it comes; when it calls server-side tools they run (in parallel, each bounded), their
 * results are appended and the model is called again; a call to a client tool ends the loop and is
 * handed to the client. The loop is a guest in the caller's conversation: it adds tool definitions
 * and one sentence saying they exist, nothing else. It dies with the caller's stream (interruption),
 * and every answer, even one cut short by a limit, ends with one `finish` carrying the usage summed
 * over all model calls.
 */
import { Duration, Effect, Metric, Stream } from "effect"
import type { GatewayConfigShape } from "../config.ts"
import { type GatewayError } from "../errors.ts"
import type { Conversation, Message, Part, ToolCallPart, ToolDefinition } from "../ir/conversation.ts"
import { addDelta } from "../ir/collect.ts"
import { addUsage, type AnswerEvent, emptyUsage, type FinishReason, type StreamEvent, type Usage } from "../ir/response.ts"

export interface LoopLimits {
  readonly maxIterations: number
  /** the whole loop, in ms */
  readonly deadlineMs: number
  /** the conversation sent to the model, in bytes of JSON; the oldest tool results go first */
  readonly maxConversationBytes: number
  /** identical calls (same tool, same arguments) before the model is told to change approach */
  readonly repeatLimit: number
  /** while tools run, a `server_tool_wait` this often (ms), for the dialects' keep-alives */
  readonly keepAliveMs: number
}

/** The loop's limits, from the gateway's settings. */
export const loopLimits = (config: GatewayConfigShape): LoopLimits => ({
  maxIterations: config.toolMaxIterations,
  deadlineMs: config.toolDeadline,
  maxConversationBytes: config.toolMaxConversationBytes,
  repeatLimit: config.toolRepeatLimit,
  keepAliveMs: config.keepAliveInterval
})

/** A tool call's result, as JSON text (`{"success": false, "error": …}` for a failure). */
export interface ToolResult {
  readonly text: string
  readonly isError: boolean
}

/** What the loop needs from the tools: their definitions, and running one call (never failing). */
export interface ServerTools {
  readonly definitions: ReadonlyArray<ToolDefinition>
  readonly run: (call: ToolCallPart) => Effect.Effect<ToolResult>
}

export type Model = (conversation: Conversation) => Stream.Stream<StreamEvent, GatewayError>

/** Turns in which the model called the gateway's tools and the client's together. */
export const mixedTurns = Metric.counter("orka_tool_loop_mixed_turns_total", {
  description: "Turns calling server-side and client tools together (the server-side ones ran first, the model was asked again)",
  incremental: true
})

/** How loops end: `answered`, `client_tool`, or cut by `iteration_limit` / `deadline`. */
export const toolLoops = Metric.counter("orka_tool_loops_total", { description: "Tool loops by how they ended", incremental: true })
export const toolLoopModelCalls = Metric.histogram("orka_tool_loop_model_calls", {
  description: "Model calls per tool loop",
  boundaries: [1, 2, 3, 5, 8, 13, 21]
})

export const toolFailure = (error: string): ToolResult => ({ text: JSON.stringify({ success: false, error }), isError: true })

/** Once server tools have run, a choice that forces a tool call would force one forever. */
const relaxChoice = (c: Conversation): Conversation =>
  c.toolChoice?.type === "required" || c.toolChoice?.type === "tool" ? { ...c, toolChoice: { type: "auto" } } : c

/** The one sentence the loop adds to the system prompt. */
export const toolsSentence = (names: ReadonlyArray<string>) =>
  `The tools ${names.join(", ")} run on the gateway: call them when they help, and their results come back to you.`

/** Replaces the oldest tool results until the conversation fits; returns it unchanged when it does. */
export const fitConversation = (c: Conversation, maxBytes: number): Conversation => {
  const size = (x: Conversation) => Buffer.byteLength(JSON.stringify(x.messages))
  if (size(c) <= maxBytes) return c
  const messages = c.messages.map((m) => ({ ...m, content: [...m.content] }))
  for (const message of messages) {
    for (let i = 0; i < message.content.length; i++) {
      const part = message.content[i]!
      if (part.type !== "tool_result" || (part.content.length === 1 && part.content[0]?.type === "text" && part.content[0].text.startsWith("[removed"))) continue
      message.content[i] = { ...part, content: [{ type: "text", text: "[removed to keep the conversation within its size limit]" }] }
      if (size({ ...c, messages }) <= maxBytes) return { ...c, messages }
    }
  }
  return { ...c, messages }
}

const rejectsTools = (e: GatewayError) =>
  e.kind === "invalid_request" && /\btools?\b|tool[_ ]?(choice|call|use)|function[_ ]?call/i.test(e.message)

const isContextTooLong = (e: GatewayError) =>
  e.kind === "invalid_request" && /context|too long|too many tokens|maximum.*tokens|prompt is too long/i.test(e.message)

interface Turn {
  /** what the model said, text and thinking (which Anthropic wants back, signed, before a tool result) */
  readonly content: Array<Part>
  readonly calls: Map<number, { id: string; name: string; args: string }>
  /** the client's calls, by the model's index → the index the client sees */
  readonly clientIndex: Map<number, number>
  /** the client's calls as events, held until the turn ends: sent only if the gateway has none to run */
  readonly clientEvents: Array<AnswerEvent>
  finish: { reason: FinishReason; usage: Usage; stopSequence?: string } | undefined
}

export const runToolLoop = (
  conversation: Conversation,
  model: Model,
  tools: ServerTools,
  limits: LoopLimits
): Stream.Stream<AnswerEvent, GatewayError> => {
  const clientNames = new Set(conversation.tools.map((t) => t.name))
  // a client tool with a built-in's name wins: the built-in is not offered
  const offered = tools.definitions.filter((t) => !clientNames.has(t.name))
  const serverNames = new Set(offered.map((t) => t.name))
  const deadline = Date.now() + limits.deadlineMs
  const seen = new Map<string, number>()

  const withTools: Conversation = offered.length === 0 ? conversation : {
    ...conversation,
    system: [...conversation.system, { type: "text", text: toolsSentence(offered.map((t) => t.name)) }],
    tools: [...conversation.tools, ...offered]
  }

  const finish = (reason: FinishReason, usage: Usage, stopSequence?: string): AnswerEvent => ({
    type: "finish",
    reason,
    usage,
    ...(stopSequence === undefined ? {} : { stopSequence })
  })

  /**
   * One model call, with one retry on a context-too-long answer after shrinking the conversation.
   * A model that rejects tools outright (a server without tool support) gets the client's own request
   * back, as if tools were off, when the client sent no tools of its own.
   */
  const call = (c: Conversation, n: number): Stream.Stream<StreamEvent, GatewayError> =>
    model(fitConversation(c, limits.maxConversationBytes)).pipe(
      Stream.catch((e: GatewayError) => {
        if (isContextTooLong(e)) return model(fitConversation(c, Math.floor(limits.maxConversationBytes / 2)))
        if (n === 1 && conversation.tools.length === 0 && offered.length > 0 && rejectsTools(e)) {
          return Stream.unwrap(Effect.as(
            Effect.logWarning("the model rejected the gateway's tools; answering without them").pipe(Effect.annotateLogs({ error: e.message })),
            model(conversation)
          ))
        }
        return Stream.fail(e)
      })
    )

  // text of separate model calls would run together ("…I'll look.The page says…"): a blank line parts them
  let textSent = false
  let separate = false

  type Cut = "iteration_limit" | "deadline"

  const iteration = (c: Conversation, n: number, usage: Usage, final?: Cut): Stream.Stream<AnswerEvent, GatewayError> => {
    const turn: Turn = { content: [], calls: new Map(), clientIndex: new Map(), clientEvents: [], finish: undefined }
    separate = textSent
    // while a client's call is held back, the stream would be silent: a keep-alive now and then
    let lastSent = Date.now()
    const hold = (event: AnswerEvent): ReadonlyArray<AnswerEvent> => {
      turn.clientEvents.push(event)
      if (Date.now() - lastSent < limits.keepAliveMs) return []
      lastSent = Date.now()
      return [{ type: "server_tool_wait" }]
    }
    const sent = (events: ReadonlyArray<AnswerEvent>) => {
      if (events.length > 0) lastSent = Date.now()
      return events
    }
    const forward = (event: StreamEvent): ReadonlyArray<AnswerEvent> => {
      switch (event.type) {
        case "start":
          return n === 1 ? [event] : []
        case "text": {
          if (event.text === "") return []
          addDelta(turn.content, event)
          textSent = true
          if (!separate) return [event]
          separate = false
          return [{ type: "text", text: "\n\n" }, event]
        }
        case "thinking":
          addDelta(turn.content, event)
          return [event]
        case "tool_call_start": {
          turn.calls.set(event.index, { id: event.id, name: event.name, args: "" })
          if (serverNames.has(event.name)) return []
          // a client's call streams to it as it comes, unless the gateway's calls could join the turn
          const index = turn.clientIndex.size
          turn.clientIndex.set(event.index, index)
          return serverNames.size === 0 ? [{ ...event, index }] : hold({ ...event, index })
        }
        case "tool_call_delta": {
          const c = turn.calls.get(event.index)
          if (c !== undefined) c.args += event.arguments
          const index = turn.clientIndex.get(event.index)
          if (index === undefined) return []
          return serverNames.size === 0 ? [{ ...event, index }] : hold({ ...event, index })
        }
        case "finish":
          turn.finish = { reason: event.reason, usage: event.usage, ...(event.stopSequence === undefined ? {} : { stopSequence: event.stopSequence }) }
          return []
      }
    }
    return Stream.concat(
      call(c, n).pipe(Stream.flatMap((e) => Stream.fromIterable(sent(forward(e))))),
      Stream.unwrap(Effect.suspend(() => next(c, n, usage, turn, final)))
    )
  }

  const next = (c: Conversation, n: number, before: Usage, turn: Turn, final: Cut | undefined): Effect.Effect<Stream.Stream<AnswerEvent, GatewayError>> => {
    const usage = addUsage(before, turn.finish?.usage ?? emptyUsage)
    const calls = [...turn.calls.values()].map((x): ToolCallPart => ({ type: "tool_call", id: x.id, name: x.name, arguments: x.args || "{}" }))
    if (turn.finish === undefined) return Effect.succeed(Stream.empty) // the model stream failed; its error is already on the way
    const clientCalls = calls.filter((x) => !serverNames.has(x.name))
    const serverCalls = calls.filter((x) => serverNames.has(x.name))
    if (serverCalls.length === 0 || final !== undefined) {
      // the client's calls go to it now (in a last call there are none of the gateway's to run)
      const reason = clientCalls.length > 0 ? "tool_use" : turn.finish.reason === "tool_use" ? "end_turn" : turn.finish.reason
      const outcome = clientCalls.length > 0 ? "client_tool" : final ?? "answered"
      return Metric.update(Metric.withAttributes(toolLoops, { outcome }), 1).pipe(
        Effect.andThen(Metric.update(toolLoopModelCalls, n)),
        Effect.as(Stream.concat(Stream.fromIterable(turn.clientEvents), Stream.succeed(finish(reason, usage, turn.finish.stopSequence))))
      )
    }
    if (clientCalls.length > 0) {
      // The gateway's calls and the client's in one turn: the gateway's run first and the model is asked
      // again, without the client's calls in its history (it repeats those it still wants, now knowing the
      // results). Sending the client's calls now would leave the gateway's unanswered in the history the
      // client sends back.
      return Metric.update(mixedTurns, 1).pipe(
        Effect.andThen(Effect.logInfo("the model called the gateway's tools and the client's in one turn: the gateway's ran first").pipe(
          Effect.annotateLogs({ gateway_tools: serverCalls.map((x) => x.name).join(","), client_tools: clientCalls.map((x) => x.name).join(",") })
        )),
        Effect.andThen(runServerCalls(c, n, usage, turn, serverCalls))
      )
    }
    return runServerCalls(c, n, usage, turn, serverCalls)
  }

  /** The gateway's calls of a turn: run, their results appended, the model asked again (or, out of turns, one last time). */
  const runServerCalls = (c: Conversation, n: number, usage: Usage, turn: Turn, calls: ReadonlyArray<ToolCallPart>): Effect.Effect<Stream.Stream<AnswerEvent, GatewayError>> => {
    if (n >= limits.maxIterations || Date.now() > deadline) {
      // out of iterations or time: one last call that may not use tools, asking for what it has so far
      const ask: Part = { type: "text", text: "Stop using tools now and answer with what you have found so far." }
      const last = c.messages.at(-1)
      // keep user and assistant turns alternating
      const messages: Array<Message> = turn.content.length > 0
        ? [...c.messages, { role: "assistant", content: turn.content }, { role: "user", content: [ask] }]
        : last?.role === "user"
        ? [...c.messages.slice(0, -1), { role: "user", content: [...last.content, ask] }]
        : [...c.messages, { role: "user", content: [ask] }]
      const cut: Cut = n >= limits.maxIterations ? "iteration_limit" : "deadline"
      return Effect.succeed(iteration({ ...c, toolChoice: { type: "none" }, messages }, n + 1, usage, cut))
    }
    // each call shows as it starts and as it ends; results go back to the model in call order
    const results: Array<string> = []
    const run = (x: ToolCallPart, i: number) => {
      const key = `${x.name}\u0000${x.arguments}`
      const count = (seen.get(key) ?? 0) + 1
      seen.set(key, count)
      const result = count >= limits.repeatLimit
        ? Effect.succeed(toolFailure(`this exact call was already made ${count - 1} times with the same result: change your approach`))
        : tools.run(x)
      return Stream.fromEffect(result.pipe(Effect.map((r): AnswerEvent => {
        results[i] = r.text
        return { type: "server_tool_result", call: x, result: r.text, isError: r.isError }
      })))
    }
    const again = Stream.suspend(() => {
      const messages: Array<Message> = [
        ...c.messages,
        { role: "assistant", content: [...turn.content, ...calls] },
        { role: "user", content: calls.map((x, i) => ({ type: "tool_result", callId: x.id, content: [{ type: "text", text: results[i]! }] })) }
      ]
      return iteration(relaxChoice({ ...c, messages }), n + 1, usage)
    })
    // Stream.tick emits at once, then every interval: the first is dropped
    const waits = Stream.tick(Duration.millis(limits.keepAliveMs)).pipe(Stream.drop(1), Stream.as<AnswerEvent>({ type: "server_tool_wait" }))
    const running = Stream.mergeAll(calls.map(run), { concurrency: "unbounded" }).pipe(Stream.merge(waits, { haltStrategy: "left" }))
    return Effect.succeed(Stream.fromIterable(calls.map((call): AnswerEvent => ({ type: "server_tool_call", call }))).pipe(
      Stream.concat(running),
      Stream.concat(again)
    ))
  }

  return iteration(withTools, 1, emptyUsage)
}
