/**
 * The IR stream as Responses API server-sent events, framed as `api.openai.com` frames them: an
 * `event:` line with the data's own `type`, and a `sequence_number` counting every event from 0.
 *
 *   response.created, response.in_progress,
 *   per output item: response.output_item.added, the item's own events, response.output_item.done,
 *   response.completed (response.incomplete when the answer was cut short)
 *
 * Items never interleave on the wire, but IR tool calls may (parallel OpenAI tool calls stream their
 * argument fragments interleaved by index). So items open in the order they first appear, one at a
 * time, and whatever arrives for an item that is not the open one waits in it until its turn (see
 * stream-items.ts). A text or thinking run ends when anything else arrives; a tool call's arguments
 * may grow until the finish, so it stays open until then and the items after it are sent at the finish.
 *
 * The gateway's calls of hosted tools are items with their own progress events. Other server-side
 * tool progress is a comment line, or on request a `keepalive` event with an `orka_tool` field: the
 * one event type that no client of the API rejects (the `openai` SDK's `responses.stream()` throws on
 * a type it does not know; Codex, the Agents SDK and the AI SDK pass over it). While tools run, SSE
 * comments `: keep-alive` keep proxies from dropping the connection.
 *
 * At the finish the whole response goes to `onComplete` (the store) before `response.completed`
 * leaves, so that a request naming it as `previous_response_id` finds it. A failure midway, or an
 * end without a finish, ends the stream with `response.failed`, which every client raises.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { endedEarly, type GatewayError } from "../../errors.ts"
import type { AnswerEvent } from "../../ir/response.ts"
import { progressComment, type ProgressStyle, toolProgress } from "../tool-progress.ts"
import { failedFrame, sseFrame } from "./errors.ts"
import { type ResponseMeta, type ResponseObject, responseObject } from "./response.ts"
import { Items, type Payload } from "./stream-items.ts"
import { type ResponsesExtra, statusOf, usageJson } from "./vocabulary.ts"

export interface StreamMeta extends ResponseMeta {
  /** how server-side tool progress shows (default: comments) */
  readonly progress?: ProgressStyle
  /** given the final response before `response.completed` leaves */
  readonly onComplete?: ((response: object) => Effect.Effect<void>) | undefined
}

const keepAlive = ": keep-alive\n\n"

/** The state of one streamed response: its items, the events sent so far. */
class Encoder {
  private readonly extra: ResponsesExtra
  private readonly meta: StreamMeta
  private readonly items: Items
  private sequence = 0
  private started = false
  private ended = false
  /** the finish's events and the response they end with, sent once `onComplete` is done */
  completed: { readonly frames: ReadonlyArray<string>; readonly response: ResponseObject } | undefined

  constructor(extra: ResponsesExtra, meta: StreamMeta) {
    this.extra = extra
    this.meta = meta
    this.items = new Items(extra, (payload) => this.frame(payload))
  }

  push(event: AnswerEvent): Array<string> {
    const out: Array<string> = []
    if (this.ended) return out
    // the stream contract puts `start` first; should a backend forget, the client still gets a whole response
    if (!this.started) this.start(out)
    switch (event.type) {
      case "start":
        break
      case "text":
        this.items.text(event.text)
        break
      case "thinking":
        this.items.thinking(event.text, event.signature)
        break
      case "tool_call_start":
        this.items.toolCall(event.index, { type: "tool_call", id: event.id, name: event.name, arguments: "" })
        break
      case "tool_call_delta":
        this.items.toolArguments(event.index, event.arguments)
        break
      case "server_tool_call":
      case "server_tool_result":
        if (this.items.serverTool(event)) break
        // between items: progress ends a text run, as the next model call starts a new item
        this.items.endRun()
        this.items.advance(out)
        out.push(this.meta.progress === "events" ? this.frame({ type: "keepalive", orka_tool: toolProgress(event) }) : progressComment(toolProgress(event)))
        break
      case "server_tool_wait":
        out.push(keepAlive)
        break
      case "finish": {
        this.items.completeAll()
        this.items.advance(out)
        const { incomplete_details, status } = statusOf(event.reason)
        const response = responseObject(this.meta, this.extra.echo, { status, incomplete_details, output: this.items.output(), usage: usageJson(event.usage) })
        out.push(this.frame({ type: status === "completed" ? "response.completed" : "response.incomplete", response }))
        this.ended = true
        this.completed = { frames: out, response }
        return []
      }
    }
    this.items.advance(out)
    return out
  }

  /** The stream failed: the client is told why, with the items it got whole, and nothing follows. */
  fail(error: GatewayError): Array<string> {
    if (this.ended) return []
    const out: Array<string> = []
    if (!this.started) this.start(out)
    this.ended = true
    out.push(failedFrame(error, this.sequence++, this.meta, this.items.sent(), this.extra.echo))
    return out
  }

  /** The events ended: without a finish the answer is cut short, which the client must learn. */
  end(): Array<string> {
    return this.ended ? [] : this.fail(endedEarly())
  }

  private start(out: Array<string>) {
    this.started = true
    const response = responseObject(this.meta, this.extra.echo, { status: "in_progress", output: [], usage: null })
    out.push(this.frame({ type: "response.created", response }), this.frame({ type: "response.in_progress", response }))
  }

  /** An event as it leaves: its number is its place in the stream. */
  private frame({ type, ...fields }: Payload): string {
    return sseFrame(type, { type, sequence_number: this.sequence++, ...fields })
  }
}

type Input =
  | { readonly _tag: "event"; readonly event: AnswerEvent }
  | { readonly _tag: "failed"; readonly error: GatewayError }

export const encodeStream = (
  events: Stream.Stream<AnswerEvent, GatewayError>,
  extra: ResponsesExtra,
  meta: StreamMeta
): Stream.Stream<string> =>
  Stream.suspend(() => {
    const encoder = new Encoder(extra, meta)
    // the finish's events leave together, once the response is kept
    const completion = Stream.suspend(() => {
      const done = encoder.completed
      if (done === undefined) return Stream.empty
      return Stream.fromArrayEffect(Effect.as(meta.onComplete?.(done.response) ?? Effect.void, done.frames))
    })
    return events.pipe(
      Stream.map((event): Input => ({ _tag: "event", event })),
      // a failure becomes an element, so that the encoder knows the end is not a truncation
      Stream.catch((error: GatewayError) => Stream.succeed<Input>({ _tag: "failed", error })),
      Stream.mapAccum(() => encoder, (e, input) => [e, input._tag === "event" ? e.push(input.event) : e.fail(input.error)], {
        onHalt: (e) => e.end()
      }),
      Stream.concat(completion)
    )
  })
