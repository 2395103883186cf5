/**
 * A turn that called the gateway's tools and the client's together ends with the client's calls: the
 * gateway's calls, already run, are kept beside them (`KeepTurn` in loop.ts, in the response store
 * under each client call's id). The client's next request answers its calls but knows nothing of the
 * gateway's; here they are put back in place: the gateway's calls in the assistant turn, before the
 * client's, and their results first in the user turn that follows.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { Conversation, Message, Part, ToolCallPart } from "../ir/conversation.ts"
import type { KeptTurn } from "./loop.ts"

const KeptTurnJson = Schema.Struct({
  calls: Schema.Array(Schema.Struct({ type: Schema.Literal("tool_call"), id: Schema.String, name: Schema.String, arguments: Schema.String })),
  results: Schema.Array(Schema.Struct({ text: Schema.String, isError: Schema.Boolean }))
})
const decodeKept = Schema.decodeUnknownResult(KeptTurnJson)

/** A kept turn as the store gave it back, or undefined when it is not one. */
export const keptTurnOf = (json: unknown): KeptTurn | undefined => {
  const decoded = decodeKept(json)
  return Result.isSuccess(decoded) && decoded.success.calls.length === decoded.success.results.length ? decoded.success : undefined
}

/** The ids of the calls in the conversation's assistant turns: those a kept turn may sit beside. */
export const callIdsOf = (c: Conversation): Array<string> =>
  c.messages.flatMap((m) => (m.role === "assistant" ? m.content.flatMap((p) => (p.type === "tool_call" ? [p.id] : [])) : []))

/** The conversation with each kept turn back beside the client call it was kept under. */
export const restoreTurns = (c: Conversation, kept: ReadonlyMap<string, KeptTurn>): Conversation => {
  if (kept.size === 0) return c
  const present = new Set(callIdsOf(c))
  const messages: Array<Message> = [...c.messages]
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    if (message.role !== "assistant") continue
    // a turn kept under several of the client's calls goes back once
    const turns = [...new Set(message.content.flatMap((p) => (p.type === "tool_call" && kept.has(p.id) ? [kept.get(p.id)!] : [])))]
      .map((turn) => missingFrom(turn, present))
      .filter((turn) => turn.calls.length > 0)
    if (turns.length === 0) continue
    const calls = turns.flatMap((t) => t.calls)
    const results: Array<Part> = turns.flatMap((t) =>
      t.calls.map((call, j) => ({ type: "tool_result", callId: call.id, content: [{ type: "text", text: t.results[j]!.text }], ...(t.results[j]!.isError ? { isError: true } : {}) }))
    )
    const firstCall = message.content.findIndex((p) => p.type === "tool_call")
    messages[i] = { role: "assistant", content: [...message.content.slice(0, firstCall), ...calls, ...message.content.slice(firstCall)] }
    const next = messages[i + 1]
    if (next?.role === "user") messages[i + 1] = { role: "user", content: [...results, ...next.content] }
    else messages.splice(i + 1, 0, { role: "user", content: results })
    for (const call of calls) present.add(call.id)
  }
  return { ...c, messages }
}

/** The kept calls the conversation does not hold yet (a client may send them back itself). */
const missingFrom = (turn: KeptTurn, present: ReadonlySet<string>): { calls: Array<ToolCallPart>; results: KeptTurn["results"] } => {
  const keep = turn.calls.map((call, j) => [call, turn.results[j]!] as const).filter(([call]) => !present.has(call.id))
  return { calls: keep.map(([call]) => call), results: keep.map(([, result]) => result) }
}
