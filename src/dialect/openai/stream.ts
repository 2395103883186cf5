/**
 * The IR stream as OpenAI `chat.completion.chunk` server-sent events: a first chunk with the role,
 * content and tool-call deltas (a call's id and name in its first delta, argument fragments after),
 * one chunk with `finish_reason`, the usage chunk (`choices: []`) when the client asked for it, then
 * `data: [DONE]`. Server-side tool progress is a comment line, or on request a chunk with an empty
 * delta and an `orka_tool` field (see ../tool-progress.ts); while tools run, SSE comments `: keep-alive` (which SSE parsers
 * skip) keep proxies from dropping the connection. A failure mid-way ends the stream with an error
 * chunk and no `[DONE]`.
 */
import * as Stream from "effect/Stream"
import { endedEarly, type GatewayError } from "../../errors.ts"
import type { AnswerEvent } from "../../ir/response.ts"
import { progressComment, type ProgressStyle, toolProgress } from "../tool-progress.ts"
import { errorFrame } from "./errors.ts"
import { completionId, finishReason, usageJson } from "./vocabulary.ts"

export { errorFrame }

export interface StreamMeta {
  readonly model: string
  readonly created: number
  readonly includeUsage: boolean
  /** how server-side tool progress shows (default: comments) */
  readonly progress?: ProgressStyle
}

const keepAlive = ": keep-alive\n\n"

interface State {
  readonly id: string
  /** a text chunk's JSON up to its text, and after it: most chunks are text, and only their text changes */
  readonly textBefore: string
  readonly textAfter: string
}

const frame = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`

export const encodeStream = (events: Stream.Stream<AnswerEvent, GatewayError>, meta: StreamMeta): Stream.Stream<string> => {
  const chunk = (id: string, delta: object, finish: string | null = null) => ({
    id,
    object: "chat.completion.chunk",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    // With include_usage, OpenAI sends `usage: null` on every chunk but the last.
    ...(meta.includeUsage ? { usage: null } : {})
  })

  // A stream that ends without `finish` broke the contract somewhere upstream: say so, don't end cleanly.
  let finished = false
  const unfinished = Stream.suspend(() =>
    finished ? Stream.empty : Stream.succeed(errorFrame(endedEarly()))
  )
  /** `frame(chunk(id, { content: text }))`, its JSON around the text written once (nothing after the text is the client's) */
  const textFrame = (id: string): State => {
    const empty = frame(chunk(id, { content: "" }))
    const at = empty.lastIndexOf(`"content":""`) + `"content":`.length
    return { id, textBefore: empty.slice(0, at), textAfter: empty.slice(at + 2) }
  }

  return events.pipe(
    Stream.mapAccum(
      (): State => textFrame(""),
      (state, event): readonly [State, ReadonlyArray<string>] => {
        switch (event.type) {
          case "start": {
            const id = completionId(event.id)
            return [textFrame(id), [frame(chunk(id, { role: "assistant", content: "" }))]]
          }
          case "text":
            return [state, event.text === "" ? [] : [state.textBefore + JSON.stringify(event.text) + state.textAfter]]
          case "thinking":
            // Chat Completions has no place for reasoning text; it is not sent.
            return [state, []]
          case "tool_call_start":
            return [state, [frame(chunk(state.id, {
              tool_calls: [{ index: event.index, id: event.id, type: "function", function: { name: event.name, arguments: "" } }]
            }))]]
          case "tool_call_delta":
            return [state, event.arguments === "" ? [] : [frame(chunk(state.id, {
              tool_calls: [{ index: event.index, function: { arguments: event.arguments } }]
            }))]]
          case "server_tool_call":
          case "server_tool_result": {
            const progress = toolProgress(event)
            return [state, [meta.progress === "events" ? frame({ ...chunk(state.id, {}), orka_tool: progress }) : progressComment(progress)]]
          }
          case "server_tool_wait":
            return [state, [keepAlive]]
          case "finish": {
            const frames = [frame(chunk(state.id, {}, finishReason(event.reason)))]
            if (meta.includeUsage) {
              frames.push(frame({
                id: state.id,
                object: "chat.completion.chunk",
                created: meta.created,
                model: meta.model,
                choices: [],
                usage: usageJson(event.usage)
              }))
            }
            frames.push("data: [DONE]\n\n")
            finished = true
            return [state, frames]
          }
        }
      }
    ),
    Stream.concat(unfinished),
    Stream.catch((e: GatewayError) => Stream.succeed(errorFrame(e)))
  )
}
