/**
 * Answer events folded into one Completion, for a whole answer the tool loop made of its turns.
 * Server-side tool calls are not part of the answer's content: they are kept beside it
 * (`serverCalls`, where they happened), and end the text or thinking run before them, as they would
 * end a block on the wire. And the other way: a whole answer as the events that fold back into it,
 * for the loop that reads a turn's answer as events.
 */
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import { endedEarly, type GatewayError } from "../errors.ts"
import type { Part } from "./conversation.ts"
import type { AnswerEvent, Completion, FinishReason, ServerCall, StreamEvent, Usage } from "./response.ts"

/**
 * Adds a text or thinking delta to `content`: it extends the last part when that is of its kind
 * (and, for thinking, not yet sealed by a signature) and `extend` allows, else it starts a new part.
 */
export const addDelta = (content: Array<Part>, event: Extract<StreamEvent, { type: "text" | "thinking" }>, extend = true): void => {
  const last = content.at(-1)
  if (event.type === "text") {
    if (extend && last?.type === "text") content[content.length - 1] = { ...last, text: last.text + event.text }
    else content.push({ type: "text", text: event.text })
    return
  }
  const grows = extend && last?.type === "thinking" && last.signature === undefined
  const part: Part = {
    type: "thinking",
    text: (grows ? last.text : "") + event.text,
    ...(event.signature === undefined ? {} : { signature: event.signature })
  }
  if (grows) content[content.length - 1] = part
  else content.push(part)
}

interface Folding {
  id: string
  model: string
  readonly content: Array<Part>
  /** tool calls by stream index, pointing into `content` */
  readonly calls: Map<number, number>
  readonly serverCalls: Array<ServerCall>
  finish: { reason: FinishReason; usage: Usage; stopSequence?: string } | undefined
  /** the last part may be extended by more of the same kind */
  open: boolean
}

const fold = (s: Folding, event: AnswerEvent): Folding => {
  switch (event.type) {
    case "start":
      s.id = event.id
      s.model = event.model
      break
    case "text":
    case "thinking":
      addDelta(s.content, event, s.open)
      s.open = true
      break
    case "tool_call_start":
      s.calls.set(event.index, s.content.length)
      s.content.push({ type: "tool_call", id: event.id, name: event.name, arguments: "" })
      s.open = false
      break
    case "tool_call_delta": {
      const at = s.calls.get(event.index)
      const call = at === undefined ? undefined : s.content[at]
      if (at !== undefined && call?.type === "tool_call") s.content[at] = { ...call, arguments: call.arguments + event.arguments }
      break
    }
    case "server_tool_call":
      s.open = false
      break
    case "server_tool_result":
      s.serverCalls.push({ at: s.content.length, call: event.call, result: event.result, isError: event.isError })
      s.open = false
      break
    case "server_tool_wait":
      break
    case "finish":
      s.finish = { reason: event.reason, usage: event.usage, ...(event.stopSequence === undefined ? {} : { stopSequence: event.stopSequence }) }
  }
  return s
}

/** The answer the events make: they must end with a `finish`. */
export const foldCompletion = (events: Iterable<AnswerEvent>): Effect.Effect<Completion, GatewayError> => {
  const s: Folding = { id: "", model: "", content: [], calls: new Map(), serverCalls: [], finish: undefined, open: false }
  for (const event of events) fold(s, event)
  const { content, finish, id, model, serverCalls } = s
  return finish === undefined
    ? Effect.fail(endedEarly())
    : Effect.succeed<Completion>({
      id,
      model,
      content: content.filter((p) => p.type !== "text" || p.text !== ""),
      ...(serverCalls.length === 0 ? {} : { serverCalls: atKept(content, serverCalls) }),
      finishReason: finish.reason,
      ...(finish.stopSequence === undefined ? {} : { stopSequence: finish.stopSequence }),
      usage: finish.usage
    })
}

/** `serverCalls` with their places counted among the parts kept (empty text parts are dropped). */
const atKept = (content: ReadonlyArray<Part>, calls: ReadonlyArray<ServerCall>): Array<ServerCall> =>
  calls.map((c) => ({ ...c, at: content.slice(0, c.at).filter((p) => p.type !== "text" || p.text !== "").length }))

/** The events of a whole answer, one per part: `collectCompletion` folds them back into it. */
export const completionEvents = (completion: Completion): Arr.NonEmptyArray<StreamEvent> => {
  const out: Arr.NonEmptyArray<StreamEvent> = [{ type: "start", id: completion.id, model: completion.model, usage: { inputTokens: completion.usage.inputTokens, outputTokens: 0 } }]
  let index = 0
  for (const part of completion.content) {
    if (part.type === "text") out.push({ type: "text", text: part.text })
    if (part.type === "thinking") out.push({ type: "thinking", text: part.text, ...(part.signature === undefined ? {} : { signature: part.signature }) })
    if (part.type === "tool_call") {
      const i = index++
      out.push({ type: "tool_call_start", index: i, id: part.id, name: part.name }, { type: "tool_call_delta", index: i, arguments: part.arguments })
    }
  }
  out.push({
    type: "finish",
    reason: completion.finishReason,
    ...(completion.stopSequence === undefined ? {} : { stopSequence: completion.stopSequence }),
    usage: completion.usage
  })
  return out
}
