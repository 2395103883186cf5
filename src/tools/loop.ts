/**
 * The agent loop over the neutral conversation, the same for both front doors: the model's text is
 * streamed as it comes; when it calls server-side tools they run (in parallel, each bounded), their
 * results are appended and the model is called again; a call to a client tool ends the loop and is
 * handed to the client. The loop is a guest in the caller's conversation: it adds tool definitions
 * and one sentence saying they exist, nothing else. It dies with the caller's stream (interruption),
 * and every answer, even one cut short by a limit, ends with one `finish` carrying the usage summed
 * over all model calls. A client waiting for the whole answer gets the same loop as one effect
 * (whole-loop.ts), from the same parts (`loopParts`).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import type { GatewayConfigShape } from "../config.ts"
import { type GatewayError } from "../errors.ts"
import { labelled, metrics } from "../metrics.ts"
import type { Conversation, Message, Part, ToolCallPart, ToolDefinition } from "../ir/conversation.ts"
import { addDelta } from "../ir/collect.ts"
import { addUsage, type AnswerEvent, emptyUsage, type FinishReason, type StreamEvent, type Usage } from "../ir/response.ts"
import { annotate, SpanAttr, tracedStream, type TraceStream, usageAttributes } from "../tracing.ts"

const toolLoops = labelled(metrics.toolLoops)

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

/** The gateway's calls of a turn that also called the client's tools, with their results: what the client's next request lacks. */
export interface KeptTurn {
  readonly calls: ReadonlyArray<ToolCallPart>
  readonly results: ReadonlyArray<ToolResult>
}

/**
 * Keeps a mixed turn's own calls beside the client's calls, so that the client's next request, which
 * answers them, gets the gateway's calls back in place. Without one, the model is asked again.
 */
export type KeepTurn = (clientCalls: ReadonlyArray<ToolCallPart>, kept: KeptTurn) => Effect.Effect<void>

export const toolFailure = (error: string): ToolResult => ({ text: JSON.stringify({ success: false, error }), isError: true })

/** Once server tools have run, a choice that forces a tool call would force one forever. */
const relaxChoice = (c: Conversation): Conversation =>
  c.toolChoice?.type === "required" || c.toolChoice?.type === "tool" ? { ...c, toolChoice: { type: "auto" } } : c

/** The one sentence the loop adds to the system prompt. */
export const toolsSentence = (names: ReadonlyArray<string>) =>
  `The tools ${names.join(", ")} run on the gateway: call them when they help, and their results come back to you.`

/**
 * The messages as one JSON array measured by `measure`: the sum of each message's, found once per
 * message (a loop sends the same messages again with more after them), and the brackets and commas.
 */
const measuredOnce = (measure: (message: object) => number) => {
  const sizes = new WeakMap<object, number>()
  return (messages: Conversation["messages"]): number => {
    // `[` and `]`, and a comma between two
    let total = messages.length === 0 ? 2 : messages.length + 1
    for (const message of messages) {
      let size = sizes.get(message)
      if (size === undefined) sizes.set(message, size = measure(message))
      total += size
    }
    return total
  }
}

/** The bytes of the messages as one JSON array. */
export const messagesBytes = measuredOnce((message) => Buffer.byteLength(JSON.stringify(message)))

/**
 * At most the bytes of `value`'s JSON, found without writing it: each character of a string or key
 * counted as its longest form (`\u001f`, six bytes), each number as its longest. Walked without
 * recursion (a model's tool arguments nest as deep as it likes).
 */
export const jsonBytesAtMost = (value: unknown): number => {
  let total = 0
  const pending: Array<unknown> = [value]
  while (pending.length > 0) {
    const item = pending.pop()
    if (typeof item === "string") total += 6 * item.length + 2
    else if (typeof item !== "object" || item === null) total += 24
    else if (Array.isArray(item)) {
      total += item.length + 2
      for (let i = 0; i < item.length; i++) pending.push(item[i])
    } else {
      for (const key in item) {
        total += 6 * key.length + 4
        pending.push((item as Record<string, unknown>)[key])
      }
      total += 2
    }
  }
  return total
}

/** At most the bytes of the messages as one JSON array: what most conversations are measured by, far below any limit. */
const messagesBytesAtMost = measuredOnce(jsonBytesAtMost)

/**
 * Replaces the oldest tool results until the conversation fits; returns it unchanged when it does.
 * A conversation whose bound fits is not written out to be measured (a 40 KB one: JSON of 60
 * messages, a hundred µs and more).
 */
export const fitConversation = (c: Conversation, maxBytes: number): Conversation => {
  if (messagesBytesAtMost(c.messages) <= maxBytes) return c
  const size = (x: Conversation) => messagesBytes(x.messages)
  if (size(c) <= maxBytes) return c
  const messages = [...c.messages]
  for (let j = 0; j < messages.length; j++) {
    for (let i = 0; i < messages[j]!.content.length; i++) {
      const part = messages[j]!.content[i]!
      if (part.type !== "tool_result" || (part.content.length === 1 && part.content[0]?.type === "text" && part.content[0].text.startsWith("[removed"))) continue
      // a new message for each change: a message once measured keeps its size (messagesBytes)
      const content = [...messages[j]!.content]
      content[i] = { ...part, content: [{ type: "text", text: "[removed to keep the conversation within its size limit]" }] }
      messages[j] = { ...messages[j]!, content }
      if (size({ ...c, messages }) <= maxBytes) return { ...c, messages }
    }
  }
  return { ...c, messages }
}

const rejectsTools = (e: GatewayError) =>
  e.kind === "invalid_request" && /\btools?\b|tool[_ ]?(choice|call|use)|function[_ ]?call/i.test(e.message)

const isContextTooLong = (e: GatewayError) =>
  e.kind === "invalid_request" && /context|too long|too many tokens|maximum.*tokens|prompt is too long/i.test(e.message)

export type Cut = "iteration_limit" | "deadline"

interface TurnEnd {
  readonly reason: FinishReason
  readonly usage: Usage
  readonly stopSequence?: string
}

/**
 * One model call's turn, read as it streams: what the model said (text and thinking, which Anthropic
 * wants back, signed, before a tool result), the calls it made, and how it ended. The client's calls
 * stream to it as they come, unless the gateway's calls could join the turn: then they are held until
 * the turn ends (sent only if the gateway has none to run), with a keep-alive now and then meanwhile.
 */
export class Turn {
  readonly content: Array<Part> = []
  private readonly calls = new Map<number, { id: string; name: string; args: string }>()
  /** the client's calls, by the model's index → the index the client sees */
  private readonly clientIndex = new Map<number, number>()
  readonly held: Array<AnswerEvent> = []
  end: TurnEnd | undefined
  private lastSent = Date.now()
  private readonly isServer: (name: string) => boolean
  private readonly holdClientCalls: boolean
  private readonly keepAliveMs: number

  constructor(isServer: (name: string) => boolean, holdClientCalls: boolean, keepAliveMs: number) {
    this.isServer = isServer
    this.holdClientCalls = holdClientCalls
    this.keepAliveMs = keepAliveMs
  }

  toolCalls(): Array<ToolCallPart> {
    return [...this.calls.values()].map((x) => ({ type: "tool_call", id: x.id, name: x.name, arguments: x.args || "{}" }))
  }

  /** What of the model's event goes to the client now. */
  read(event: StreamEvent): ReadonlyArray<AnswerEvent> {
    return this.sent(this.forward(event))
  }

  private forward(event: StreamEvent): ReadonlyArray<AnswerEvent> {
    switch (event.type) {
      case "start":
        return [event]
      case "text":
      case "thinking":
        addDelta(this.content, event)
        return [event]
      case "tool_call_start": {
        this.calls.set(event.index, { id: event.id, name: event.name, args: "" })
        if (this.isServer(event.name)) return []
        const index = this.clientIndex.size
        this.clientIndex.set(event.index, index)
        return this.toClient({ ...event, index })
      }
      case "tool_call_delta": {
        const call = this.calls.get(event.index)
        if (call !== undefined) call.args += event.arguments
        const index = this.clientIndex.get(event.index)
        return index === undefined ? [] : this.toClient({ ...event, index })
      }
      case "finish":
        this.end = { reason: event.reason, usage: event.usage, ...(event.stopSequence === undefined ? {} : { stopSequence: event.stopSequence }) }
        return []
    }
  }

  private toClient(event: AnswerEvent): ReadonlyArray<AnswerEvent> {
    if (!this.holdClientCalls) return [event]
    this.held.push(event)
    if (Date.now() - this.lastSent < this.keepAliveMs) return []
    return [{ type: "server_tool_wait" }]
  }

  private sent(events: ReadonlyArray<AnswerEvent>) {
    if (events.length > 0) this.lastSent = Date.now()
    return events
  }
}

/** What the loop does once a turn has ended. */
export type AfterTurn =
  /** the model's stream failed: its error is already on the way */
  | { readonly _tag: "failed" }
  | { readonly _tag: "answered"; readonly reason: FinishReason; readonly outcome: "answered" | "client_tool" | Cut }
  /** run the gateway's calls and ask again, or, out of turns (`cut`), ask one last time without tools */
  | { readonly _tag: "run"; readonly calls: ReadonlyArray<ToolCallPart>; readonly clientCalls: ReadonlyArray<ToolCallPart>; readonly cut: Cut | undefined }

/**
 * After a turn: the answer is complete when the model called none of the gateway's tools (or this
 * was the last call); else the gateway's calls run. The client's calls that came with them go to the
 * client once the gateway's are kept beside them (`KeepTurn`: the client's next request gets them
 * back); with nowhere to keep them they are set aside, and the model repeats those it still wants,
 * now knowing the results (sending them would leave the gateway's unanswered in the history the
 * client sends back).
 */
export const afterTurn = (
  end: TurnEnd | undefined,
  calls: ReadonlyArray<ToolCallPart>,
  isServer: (name: string) => boolean,
  lastCall: Cut | undefined,
  outOfTurns: Cut | undefined
): AfterTurn => {
  if (end === undefined) return { _tag: "failed" }
  const clientCalls = calls.filter((x) => !isServer(x.name))
  const serverCalls = calls.filter((x) => isServer(x.name))
  if (serverCalls.length === 0 || lastCall !== undefined) {
    const reason = clientCalls.length > 0 ? "tool_use" : end.reason === "tool_use" ? "end_turn" : end.reason
    return { _tag: "answered", reason, outcome: clientCalls.length > 0 ? "client_tool" : lastCall ?? "answered" }
  }
  return { _tag: "run", calls: serverCalls, clientCalls, cut: outOfTurns }
}

/** The conversation after a turn whose calls ran: the model's turn with its calls, then their results. */
export const withResults = (c: Conversation, said: ReadonlyArray<Part>, calls: ReadonlyArray<ToolCallPart>, results: ReadonlyArray<string>): Conversation =>
  relaxChoice({
    ...c,
    messages: [
      ...c.messages,
      { role: "assistant", content: [...said, ...calls] },
      { role: "user", content: calls.map((x, i) => ({ type: "tool_result", callId: x.id, content: [{ type: "text", text: results[i]! }] })) }
    ]
  })

/** Out of turns or time: one last call that may not use tools, asking for what the model has so far. */
export const askingToStop = (c: Conversation, said: ReadonlyArray<Part>): Conversation => {
  const ask: Part = { type: "text", text: "Stop using tools now and answer with what you have found so far." }
  const last = c.messages.at(-1)
  // keep user and assistant turns alternating
  const messages: Array<Message> = said.length > 0
    ? [...c.messages, { role: "assistant", content: [...said] }, { role: "user", content: [ask] }]
    : last?.role === "user"
    ? [...c.messages.slice(0, -1), { role: "user", content: [...last.content, ask] }]
    : [...c.messages, { role: "user", content: [ask] }]
  return { ...c, toolChoice: { type: "none" }, messages }
}

/** The offered tools' definitions joined to the client's, and the sentence saying they exist. */
const offer = (conversation: Conversation, offered: ReadonlyArray<ToolDefinition>): Conversation =>
  offered.length === 0 ? conversation : {
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

export interface RunOptions {
  readonly keep?: KeepTurn
  /** the model id as a span may show it (the client chose it: its secrets masked) */
  readonly showModel?: (text: string) => string
  /** how the loop and its turns get their spans (`streamTracer`, when known) */
  readonly trace?: TraceStream
}

/**
 * What both loops share, the streamed one and the one for a client waiting for the whole answer:
 * the tools offered, what a model call's failure is retried with, how a turn's events are shown,
 * the calls' results (repeats refused), and how an answer ends.
 */
export const loopParts = (conversation: Conversation, tools: ServerTools, limits: LoopLimits, keep: KeepTurn | undefined) => {
  const clientNames = new Set(conversation.tools.map((t) => t.name))
  // a client tool with a built-in's name wins: the built-in is not offered
  const offered = tools.definitions.filter((t) => !clientNames.has(t.name))
  const serverNames = new Set(offered.map((t) => t.name))
  const isServer = (name: string) => serverNames.has(name)
  const deadline = Date.now() + limits.deadlineMs
  /** identical calls so far, by tool and arguments */
  const repeats = new Map<string, number>()
  // text of separate model calls would run together ("…I'll look.The page says…"): a blank line parts them
  let textSent = false

  /**
   * What a failed model call is asked again with: the conversation shrunk, on a context-too-long
   * answer; the client's own request, as if tools were off, when a model rejects tools outright (a
   * server without tool support) and the client sent no tools of its own. Undefined: it fails.
   */
  const retryWith = (c: Conversation, n: number, e: GatewayError): Effect.Effect<Conversation> | undefined => {
    if (isContextTooLong(e)) return Effect.succeed(fitConversation(c, Math.floor(limits.maxConversationBytes / 2)))
    if (n === 1 && conversation.tools.length === 0 && offered.length > 0 && rejectsTools(e)) {
      return Effect.as(
        Effect.logWarning("the model rejected the gateway's tools; answering without them").pipe(Effect.annotateLogs({ error: e.message })),
        conversation
      )
    }
    return undefined
  }

  /** Turn `n` and how its model events show to the client. */
  const newTurn = (n: number) => {
    const turn = new Turn(isServer, serverNames.size > 0, limits.keepAliveMs)
    let separate = textSent
    const shown = (event: StreamEvent): ReadonlyArray<AnswerEvent> => {
      if (event.type === "start" && n > 1) return [] // one answer: one start
      if (event.type === "text" && event.text === "") return []
      const events = turn.read(event)
      if (event.type !== "text") return events
      textSent = true
      if (!separate) return events
      separate = false
      return [{ type: "text", text: "\n\n" }, ...events]
    }
    return { turn, shown }
  }

  const turnSpan = (c: Conversation, n: number, turn: Turn, showModel: (text: string) => string) => ({
    attributes: { [SpanAttr.iteration]: n, [SpanAttr.requestModel]: showModel(c.model) },
    atEnd: () => turn.end === undefined ? {} : { ...usageAttributes(turn.end.usage), [SpanAttr.finishReasons]: [turn.end.reason] }
  })

  const next = (n: number, turn: Turn, lastCall: Cut | undefined): AfterTurn => {
    const outOfTurns: Cut | undefined = n >= limits.maxIterations ? "iteration_limit" : Date.now() > deadline ? "deadline" : undefined
    return afterTurn(turn.end, turn.toolCalls(), isServer, lastCall, outOfTurns)
  }

  const counted = (n: number, outcome: "answered" | "client_tool" | Cut) =>
    Metric.update(toolLoops({ outcome }), 1).pipe(
      Effect.andThen(annotate(() => ({ [SpanAttr.iterations]: n, [SpanAttr.loopOutcome]: outcome }))),
      Effect.andThen(Metric.update(metrics.toolLoopModelCalls, n))
    )

  /** The answer's last events, the client's held calls and the finish, once it is complete. */
  const answered = (n: number, usage: Usage, turn: Turn, done: Extract<AfterTurn, { _tag: "answered" }>): Effect.Effect<ReadonlyArray<AnswerEvent>> =>
    Effect.as(counted(n, done.outcome), [...turn.held, finish(done.reason, usage, turn.end?.stopSequence)])

  /** The client gets its calls now; the gateway's, run, wait for its next request beside them. */
  const keptBeside = (n: number, usage: Usage, turn: Turn, run: Extract<AfterTurn, { _tag: "run" }>, ran: ReadonlyArray<ToolResult>) =>
    keep!(run.clientCalls, { calls: run.calls, results: ran }).pipe(
      Effect.andThen(counted(n, "client_tool")),
      Effect.as<ReadonlyArray<AnswerEvent>>([...turn.held, finish("tool_use", usage)])
    )

  const mixed = (run: Extract<AfterTurn, { _tag: "run" }>) =>
    run.clientCalls.length === 0 ? Effect.void : Metric.update(metrics.mixedTurns, 1).pipe(
      Effect.andThen(Effect.logInfo("the model called the gateway's tools and the client's in one turn: the gateway's ran first").pipe(
        Effect.annotateLogs({ gateway_tools: run.calls.map((x) => x.name).join(","), client_tools: run.clientCalls.map((x) => x.name).join(",") })
      ))
    )

  /** A call's result, unless the model has made this exact call too often. */
  const result = (x: ToolCallPart): Effect.Effect<ToolResult> => {
    const key = `${x.name}\u0000${x.arguments}`
    const count = (repeats.get(key) ?? 0) + 1
    repeats.set(key, count)
    return count >= limits.repeatLimit
      ? Effect.succeed(toolFailure(`this exact call was already made ${count - 1} times with the same result: change your approach`))
      : tools.run(x)
  }

  return {
    offered: offer(conversation, offered),
    retryWith,
    newTurn,
    turnSpan,
    next,
    answered,
    keptBeside: keep === undefined ? undefined : keptBeside,
    mixed,
    result
  }
}

export const runToolLoop = (
  conversation: Conversation,
  model: Model,
  tools: ServerTools,
  limits: LoopLimits,
  { keep, showModel = (text) => text, trace = tracedStream }: RunOptions = {}
): Stream.Stream<AnswerEvent, GatewayError> => {
  const parts = loopParts(conversation, tools, limits, keep)

  const call = (c: Conversation, n: number): Stream.Stream<StreamEvent, GatewayError> =>
    model(fitConversation(c, limits.maxConversationBytes)).pipe(
      Stream.catch((e: GatewayError) => {
        const retry = parts.retryWith(c, n, e)
        return retry === undefined ? Stream.fail(e) : Stream.unwrap(Effect.map(retry, model))
      })
    )

  /** Turn `n`: the model's events as the client sees them, then what comes after. */
  const iteration = (c: Conversation, n: number, usage: Usage, lastCall?: Cut): Stream.Stream<AnswerEvent, GatewayError> => {
    const { shown, turn } = parts.newTurn(n)
    return Stream.concat(
      call(c, n).pipe(
        // a chunk of the model's events in, what of them the client sees out, in one stage
        Stream.mapAccumArray(() => undefined, (_, events) => [undefined, events.flatMap(shown)]),
        trace("orka.tool_loop.iteration", parts.turnSpan(c, n, turn, showModel))
      ),
      Stream.unwrap(Effect.suspend(() => after(c, n, addUsage(usage, turn.end?.usage ?? emptyUsage), turn, lastCall)))
    )
  }

  const after = (c: Conversation, n: number, usage: Usage, turn: Turn, lastCall: Cut | undefined): Effect.Effect<Stream.Stream<AnswerEvent, GatewayError>> => {
    const next = parts.next(n, turn, lastCall)
    switch (next._tag) {
      case "failed":
        return Effect.succeed(Stream.empty)
      case "answered":
        return Effect.map(parts.answered(n, usage, turn, next), Stream.fromIterable)
      case "run": {
        const mixed = parts.mixed(next)
        if (next.cut !== undefined) return Effect.as(mixed, iteration(askingToStop(c, turn.content), n + 1, usage, next.cut))
        const keptBeside = parts.keptBeside
        if (keptBeside !== undefined && next.clientCalls.length > 0) {
          return Effect.as(mixed, runCalls(next.calls, (_, ran) => Stream.unwrap(Effect.map(keptBeside(n, usage, turn, next, ran), Stream.fromIterable))))
        }
        return Effect.as(mixed, runCalls(next.calls, (results) => iteration(withResults(c, turn.content, next.calls, results), n + 1, usage)))
      }
    }
  }

  /** The gateway's calls of a turn, in parallel: each shows as it starts and as it ends; results go on in call order. */
  const runCalls = (
    calls: ReadonlyArray<ToolCallPart>,
    then: (results: ReadonlyArray<string>, ran: ReadonlyArray<ToolResult>) => Stream.Stream<AnswerEvent, GatewayError>
  ): Stream.Stream<AnswerEvent, GatewayError> => {
    const results: Array<string> = []
    const ran: Array<ToolResult> = []
    const run = (x: ToolCallPart, i: number) =>
      Stream.fromEffect(Effect.map(parts.result(x), (r): AnswerEvent => {
        results[i] = r.text
        ran[i] = r
        return { type: "server_tool_result", call: x, result: r.text, isError: r.isError }
      }))
    // Stream.tick emits at once, then every interval: the first is dropped
    const waits = Stream.tick(Duration.millis(limits.keepAliveMs)).pipe(Stream.drop(1), Stream.as<AnswerEvent>({ type: "server_tool_wait" }))
    const running = Stream.mergeAll(calls.map(run), { concurrency: "unbounded" }).pipe(Stream.merge(waits, { haltStrategy: "left" }))
    return Stream.fromIterable(calls.map((call): AnswerEvent => ({ type: "server_tool_call", call }))).pipe(
      Stream.concat(running),
      Stream.concat(Stream.suspend(() => then(results, ran)))
    )
  }

  // one span for the loop: its model calls and tool calls are its children, however the stream is read
  return iteration(parts.offered, 1, emptyUsage).pipe(
    trace("orka.tool_loop", { attributes: { [SpanAttr.requestModel]: showModel(conversation.model) } })
  )
}
