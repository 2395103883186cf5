/**
 * The output items of a streamed response, one open at a time (see stream.ts): each item keeps the
 * events that are not its turn yet, and `advance` sends those of the open item, closing it and
 * opening the next once it is complete. An item's events are built as the item changes, with the
 * same item builders as the whole answer (response.ts).
 */
import type { ToolCallPart } from "../../ir/conversation.ts"
import type { ServerToolEvent } from "../../ir/response.ts"
import {
  customCallItem,
  freeformInput,
  functionCallItem,
  hostedIdPrefix,
  hostedItem,
  hostedKind,
  messageItem,
  type OutputItem,
  outputText,
  reasoningItem
} from "./response.ts"
import { itemId, type ResponsesExtra } from "./vocabulary.ts"

/** An event's data but its sequence number, given when it leaves. */
export interface Payload {
  readonly type: string
  readonly [field: string]: unknown
}

type Kind = "message" | "reasoning" | "function" | "custom" | "web_search" | "code_exec"

const prefixes: Record<Kind, string> = { message: "msg", reasoning: "rs", function: "fc", custom: "ctc", ...hostedIdPrefix }

interface Item {
  readonly kind: Kind
  /** its `output_index` */
  readonly index: number
  readonly id: string
  /** events not sent yet: an earlier item is still open */
  readonly waiting: Array<Payload>
  /** the text so far, or the call's arguments */
  text: string
  readonly call?: ToolCallPart
  signature?: string
  /** the item as it ended; undefined while it is open */
  done?: OutputItem
}

export class Items {
  private readonly extra: ResponsesExtra
  private readonly frame: (payload: Payload) => string
  private readonly items: Array<Item> = []
  /** the client's calls by their IR index */
  private readonly calls = new Map<number, Item>()
  /** hosted calls by call id, from their start to their result */
  private readonly hosted = new Map<string, Item>()
  /** items[0 .. open) are sent whole; items[open] is the one open */
  private open = 0

  constructor(extra: ResponsesExtra, frame: (payload: Payload) => string) {
    this.extra = extra
    this.frame = frame
  }

  text(text: string) {
    if (text === "") return
    const item = this.run("message")
    item.text += text
    item.waiting.push({ type: "response.output_text.delta", ...this.part(item), delta: text, logprobs: [] })
  }

  thinking(text: string, signature: string | undefined) {
    if (text === "" && signature === undefined) return
    const item = this.run("reasoning")
    if (text !== "") {
      item.text += text
      item.waiting.push({ type: "response.reasoning_summary_text.delta", ...this.summary(item), delta: text })
    }
    // the signature seals the thinking: what follows is a new item
    if (signature !== undefined) {
      item.signature = signature
      this.complete(item)
    }
  }

  toolCall(index: number, call: ToolCallPart) {
    this.calls.set(index, this.add(this.extra.freeform.has(call.name) ? "custom" : "function", call))
  }

  toolArguments(index: number, args: string) {
    this.endRun()
    const item = this.calls.get(index)
    if (item === undefined || args === "") return
    item.text += args
    // a freeform call's input is inside its arguments: it is sent whole at the end
    if (item.kind === "function") item.waiting.push({ type: "response.function_call_arguments.delta", ...this.at(item), delta: args })
  }

  /** A hosted tool's call as its item, or false when the tool is not a hosted one. */
  serverTool(event: Extract<ServerToolEvent, { readonly call: unknown }>): boolean {
    const kind = hostedKind(this.extra, event.call.name)
    if (kind === undefined) return false
    if (event.type === "server_tool_call") {
      this.hosted.set(event.call.id, this.add(kind, event.call))
      return true
    }
    this.endRun()
    const item = this.hosted.get(event.call.id) ?? this.add(kind, event.call)
    this.hosted.delete(event.call.id)
    this.complete(item, { result: event.result, isError: event.isError })
    return true
  }

  /** Anything but more of the same ends a text or thinking run. */
  endRun() {
    const last = this.items.at(-1)
    if (last !== undefined && (last.kind === "message" || last.kind === "reasoning") && last.done === undefined) this.complete(last)
  }

  /** The finish: every item is complete (a hosted call without its result failed). */
  completeAll() {
    for (const item of this.items) if (item.done === undefined) this.complete(item, { result: "", isError: true })
  }

  /** Sends what the open item holds, and moves on while the open one is complete. */
  advance(out: Array<string>) {
    for (let item = this.items[this.open]; item !== undefined; item = this.items[++this.open]) {
      for (const payload of item.waiting) out.push(this.frame(payload))
      item.waiting.length = 0
      if (item.done === undefined) return
    }
  }

  /** Every item, as it ended. */
  output(): Array<OutputItem> {
    return this.items.flatMap((item) => (item.done === undefined ? [] : [item.done]))
  }

  /** The items the client got whole. */
  sent(): Array<OutputItem> {
    return this.items.slice(0, this.open).flatMap((item) => (item.done === undefined ? [] : [item.done]))
  }

  /** The text or thinking item that the next delta of that kind extends. */
  private run(kind: "message" | "reasoning"): Item {
    const last = this.items.at(-1)
    return last !== undefined && last.kind === kind && last.done === undefined ? last : this.add(kind)
  }

  private add(kind: Kind, call?: ToolCallPart): Item {
    this.endRun()
    const item: Item = { kind, index: this.items.length, id: itemId(prefixes[kind]), waiting: [], text: "", ...(call === undefined ? {} : { call }) }
    this.items.push(item)
    const added = (opened: OutputItem): Payload => ({ type: "response.output_item.added", output_index: item.index, item: opened })
    const w = item.waiting
    switch (kind) {
      case "message":
        w.push(added(messageItem(item.id)), { type: "response.content_part.added", ...this.part(item), part: outputText("") })
        break
      case "reasoning":
        w.push(added(reasoningItem(item.id)), { type: "response.reasoning_summary_part.added", ...this.summary(item), part: { type: "summary_text", text: "" } })
        break
      case "function":
        w.push(added(functionCallItem(this.extra, item.id, call!, false)))
        break
      case "custom":
        // its events are all sent at its end
        break
      case "web_search":
        w.push(added(hostedItem(kind, item.id, call!)), { type: "response.web_search_call.in_progress", ...this.at(item) }, { type: "response.web_search_call.searching", ...this.at(item) })
        break
      case "code_exec": {
        const opened = hostedItem(kind, item.id, call!)
        const code = opened.code as string
        w.push(added(opened), { type: "response.code_interpreter_call.in_progress", ...this.at(item) })
        if (code !== "") w.push({ type: "response.code_interpreter_call_code.delta", ...this.at(item), delta: code })
        w.push({ type: "response.code_interpreter_call_code.done", ...this.at(item), code }, { type: "response.code_interpreter_call.interpreting", ...this.at(item) })
      }
    }
    return item
  }

  private complete(item: Item, outcome = { result: "", isError: false }) {
    const call = (): ToolCallPart => ({ ...item.call!, arguments: item.text })
    const w = item.waiting
    let done: OutputItem
    switch (item.kind) {
      case "message":
        done = messageItem(item.id, item.text)
        w.push(
          { type: "response.output_text.done", ...this.part(item), text: item.text, logprobs: [] },
          { type: "response.content_part.done", ...this.part(item), part: outputText(item.text) }
        )
        break
      case "reasoning":
        done = reasoningItem(item.id, item.text, item.signature)
        w.push(
          { type: "response.reasoning_summary_text.done", ...this.summary(item), text: item.text },
          { type: "response.reasoning_summary_part.done", ...this.summary(item), part: { type: "summary_text", text: item.text } }
        )
        break
      case "function":
        done = functionCallItem(this.extra, item.id, call())
        w.push({ type: "response.function_call_arguments.done", ...this.at(item), name: done.name, arguments: done.arguments })
        break
      case "custom": {
        done = customCallItem(this.extra, item.id, call())
        const input = freeformInput(item.text)
        w.push({ type: "response.output_item.added", output_index: item.index, item: customCallItem(this.extra, item.id, item.call!, false) })
        if (input !== "") w.push({ type: "response.custom_tool_call_input.delta", ...this.at(item), delta: input })
        w.push({ type: "response.custom_tool_call_input.done", ...this.at(item), input })
        break
      }
      case "web_search":
      case "code_exec":
        done = hostedItem(item.kind, item.id, item.call!, outcome)
        w.push({ type: item.kind === "web_search" ? "response.web_search_call.completed" : "response.code_interpreter_call.completed", ...this.at(item) })
    }
    w.push({ type: "response.output_item.done", output_index: item.index, item: done })
    item.done = done
  }

  private at(item: Item) {
    return { item_id: item.id, output_index: item.index }
  }

  private part(item: Item) {
    return { ...this.at(item), content_index: 0 }
  }

  private summary(item: Item) {
    return { ...this.at(item), summary_index: 0 }
  }
}
