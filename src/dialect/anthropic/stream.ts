/**
 * The IR stream as Anthropic's server-sent events, exactly as `api.anthropic.com` frames them:
 *
 *   message_start, ping,
 *   per content block: content_block_start, content_block_delta…, content_block_stop,
 *   message_delta (stop_reason, stop_sequence, usage), message_stop
 *
 * message_start carries the provider's input count when it has one by then (Anthropic), else an
 * estimate; message_delta carries the real counts, input included, as Anthropic's own does.
 *
 * Anthropic's blocks never interleave, but IR tool calls may (parallel OpenAI tool calls stream their
 * argument fragments interleaved by index). So blocks open in the order they first appear, one at a
 * time, and whatever arrives for a block that is not the open one waits in that block until its turn.
 * A text or thinking run ends when anything else arrives; a tool call's arguments may grow until the
 * finish, so its block stays open until then and blocks after it are sent at the finish.
 *
 * Server-side tool progress goes out between blocks, as a comment line or on request as an
 * `orka_tool_progress` event (see ../tool-progress.ts). A ping goes out every `pingEveryMs` while the answer is open, so that proxies
 * and clients do not drop a connection that is waiting on a slow model. A failure mid-way becomes an
 * `error` event and ends the stream without `message_stop`, which makes the SDKs throw.
 */
import * as Duration from "effect/Duration"
import * as Stream from "effect/Stream"
import { endedEarly, type GatewayError } from "../../errors.ts"
import type { AnswerEvent } from "../../ir/response.ts"
import { progressComment, type ProgressStyle, toolProgress } from "../tool-progress.ts"
import { errorFrame } from "./errors.ts"
import { messageId, stopReason, usageJson } from "./vocabulary.ts"
import { sseFrame } from "./sse.ts"

type Delta =
  | { readonly type: "text_delta"; readonly text: string }
  | { readonly type: "thinking_delta"; readonly thinking: string }
  | { readonly type: "signature_delta"; readonly signature: string }
  | { readonly type: "input_json_delta"; readonly partial_json: string }

interface Block {
  readonly kind: "text" | "thinking" | "tool_use"
  /** the `content_block` of its `content_block_start` */
  readonly start: object
  /** deltas that arrived while an earlier block was still open */
  readonly waiting: Array<Delta>
  /** no more deltas will come */
  complete: boolean
}

const ping = sseFrame("ping", { type: "ping" })

/** The state of one response: which blocks exist, which one is open, what is still to be sent. */
class Encoder {
  private readonly model: string
  private readonly progress: ProgressStyle
  /** input tokens for message_start when the provider says none before the end (OpenAI) */
  private readonly inputEstimate: number
  private readonly blocks: Array<Block> = []
  /** tool call blocks by their IR index */
  private readonly tools = new Map<number, Block>()
  /** blocks[0 .. opened) have been started, blocks[0 .. stopped) stopped; at most one is open */
  private opened = 0
  private stopped = 0
  private started = false
  private finished = false

  constructor(model: string, progress: ProgressStyle, inputEstimate: number) {
    this.model = model
    this.progress = progress
    this.inputEstimate = inputEstimate
  }

  push(event: AnswerEvent): Array<string> {
    const out: Array<string> = []
    if (this.finished) return out
    // the stream contract puts `start` first; should a backend forget, the client still gets a whole message
    if (event.type !== "start" && !this.started) this.start({ type: "start", id: "", model: this.model }, out)
    switch (event.type) {
      case "start":
        if (!this.started) this.start(event, out)
        break
      case "text":
        if (event.text !== "") this.send(this.run("text", out), { type: "text_delta", text: event.text }, out)
        break
      case "thinking":
        this.thinking(event.text, event.signature, out)
        break
      case "tool_call_start":
        this.tools.set(event.index, this.add("tool_use", { type: "tool_use", id: event.id, name: event.name, input: {} }, out))
        break
      case "tool_call_delta": {
        this.endRun(out)
        const call = this.tools.get(event.index)
        if (call !== undefined && event.arguments !== "") {
          this.send(call, { type: "input_json_delta", partial_json: event.arguments }, out)
        }
        break
      }
      case "server_tool_call":
      case "server_tool_result":
        // between blocks: progress ends a text run, as the next model call starts a new block
        this.endRun(out)
        out.push(this.progress === "events"
          ? sseFrame("orka_tool_progress", { type: "orka_tool_progress", ...toolProgress(event) })
          : progressComment(toolProgress(event)))
        break
      case "server_tool_wait":
        out.push(...this.tick())
        break
      case "finish":
        for (const block of this.blocks) block.complete = true
        this.advance(out)
        out.push(
          sseFrame("message_delta", {
            type: "message_delta",
            delta: { stop_reason: stopReason(event.reason), stop_sequence: event.stopSequence ?? null },
            usage: usageJson(event.usage)
          }),
          sseFrame("message_stop", { type: "message_stop" })
        )
        this.finished = true
    }
    return out
  }

  /** The stream failed: the client is told why, and nothing follows. */
  fail(error: GatewayError): Array<string> {
    if (this.finished) return []
    this.finished = true
    return [errorFrame(error)]
  }

  /** A keep-alive, only between `message_start` and `message_stop`. */
  tick(): Array<string> {
    return this.started && !this.finished ? [ping] : []
  }

  /** The events ended: without a finish the answer is cut short, which the client must learn. */
  end(): Array<string> {
    if (this.finished) return []
    return [errorFrame(endedEarly())]
  }

  private start(event: Extract<AnswerEvent, { type: "start" }>, out: Array<string>) {
    this.started = true
    out.push(
      sseFrame("message_start", {
        type: "message_start",
        message: {
          id: messageId(event.id),
          type: "message",
          role: "assistant",
          model: this.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: usageJson(event.usage ?? { inputTokens: this.inputEstimate, outputTokens: 0 })
        }
      }),
      ping
    )
  }

  private thinking(text: string, signature: string | undefined, out: Array<string>) {
    if (text === "" && signature === undefined) return
    const block = this.run("thinking", out)
    if (text !== "") this.send(block, { type: "thinking_delta", thinking: text }, out)
    if (signature !== undefined) {
      // the signature seals a thinking block: what follows is a new one
      this.send(block, { type: "signature_delta", signature }, out)
      block.complete = true
      this.advance(out)
    }
  }

  /** The text or thinking block that the next delta of that kind extends. */
  private run(kind: "text" | "thinking", out: Array<string>): Block {
    const last = this.blocks.at(-1)
    if (last !== undefined && last.kind === kind && !last.complete) return last
    return this.add(kind, kind === "text" ? { type: "text", text: "" } : { type: "thinking", thinking: "", signature: "" }, out)
  }

  private add(kind: Block["kind"], start: object, out: Array<string>): Block {
    this.endRun(out)
    const block: Block = { kind, start, waiting: [], complete: false }
    this.blocks.push(block)
    this.advance(out)
    return block
  }

  /** Anything but more of the same ends a text or thinking run. */
  private endRun(out: Array<string>) {
    const last = this.blocks.at(-1)
    if (last !== undefined && last.kind !== "tool_use") last.complete = true
    this.advance(out)
  }

  private send(block: Block, delta: Delta, out: Array<string>) {
    const index = this.stopped
    if (this.opened > index && this.blocks[index] === block) out.push(deltaFrame(index, delta))
    else block.waiting.push(delta)
  }

  /** Stops the open block once it is complete and opens the next one with what waited for it. */
  private advance(out: Array<string>) {
    for (;;) {
      if (this.opened > this.stopped) {
        if (!this.blocks[this.stopped]?.complete) return
        out.push(sseFrame("content_block_stop", { type: "content_block_stop", index: this.stopped }))
        this.stopped++
      } else {
        const next = this.blocks[this.opened]
        if (next === undefined) return
        const index = this.opened
        out.push(sseFrame("content_block_start", { type: "content_block_start", index, content_block: next.start }))
        for (const delta of next.waiting) out.push(deltaFrame(index, delta))
        next.waiting.length = 0
        this.opened++
      }
    }
  }
}

const deltaFrame = (index: number, delta: Delta) =>
  delta.type === "text_delta"
    // most of a stream's frames, as `sseFrame` writes them: only the text needs stringifying
    ? `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":${JSON.stringify(delta.text)}}}\n\n`
    : sseFrame("content_block_delta", { type: "content_block_delta", index, delta })

type Input =
  | { readonly _tag: "event"; readonly event: AnswerEvent }
  | { readonly _tag: "failed"; readonly error: GatewayError }
  | { readonly _tag: "tick" }

const tick: Input = { _tag: "tick" }

const encode = (encoder: Encoder, input: Input): Array<string> => {
  switch (input._tag) {
    case "event":
      return encoder.push(input.event)
    case "failed":
      return encoder.fail(input.error)
    case "tick":
      return encoder.tick()
  }
}

export const encodeStream = (
  events: Stream.Stream<AnswerEvent, GatewayError>,
  meta: {
    readonly model: string
    readonly pingEveryMs?: number
    readonly progress?: ProgressStyle
    /** an estimate of the input tokens, for message_start; the real count comes in message_delta */
    readonly inputEstimate?: number
  }
): Stream.Stream<string> => {
  // Stream.tick emits at once, then every interval: the first is dropped, message_start has a ping
  // 15 s: the default of --keep-alive-interval
  const ticks = Stream.tick(Duration.millis(meta.pingEveryMs ?? 15_000)).pipe(Stream.drop(1), Stream.as(tick))
  return events.pipe(
    Stream.map((event): Input => ({ _tag: "event", event })),
    // a failure becomes an element, so that the encoder knows the end is not a truncation
    Stream.catch((error: GatewayError) => Stream.succeed<Input>({ _tag: "failed", error })),
    Stream.merge(ticks, { haltStrategy: "left" }),
    Stream.mapAccum(() => new Encoder(meta.model, meta.progress ?? "comments", meta.inputEstimate ?? 0), (encoder, input) => [encoder, encode(encoder, input)], {
      onHalt: (encoder) => encoder.end()
    })
  )
}
