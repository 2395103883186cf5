/**
 * What a backend answers: a whole `Completion`, or a stream of `StreamEvent`s.
 *
 * Stream contract (every backend keeps it, every dialect encoder relies on it):
 *   1. exactly one `start`, first;
 *   2. then any interleaving of `text`, `thinking`, `tool_call_start` / `tool_call_delta`;
 *      tool calls are numbered 0, 1, 2… by `index` in the order they start, and a call's deltas
 *      follow its own start;
 *   3. exactly one `finish`, last (unless the stream fails, which is a typed stream error).
 */
import type { Part, ToolCallPart } from "./conversation.ts"

export type FinishReason = "end_turn" | "stop_sequence" | "max_tokens" | "tool_use" | "content_filter" | "refusal"

export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens?: number
  readonly cacheWriteTokens?: number
  /** output tokens spent reasoning, when the provider says (they are counted in `outputTokens` too) */
  readonly reasoningTokens?: number
}

export const emptyUsage: Usage = { inputTokens: 0, outputTokens: 0 }

export const addUsage = (a: Usage, b: Usage): Usage => {
  const cacheRead = (a.cacheReadTokens ?? 0) + (b.cacheReadTokens ?? 0)
  const cacheWrite = (a.cacheWriteTokens ?? 0) + (b.cacheWriteTokens ?? 0)
  const reasoning = (a.reasoningTokens ?? 0) + (b.reasoningTokens ?? 0)
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    ...(cacheRead > 0 ? { cacheReadTokens: cacheRead } : {}),
    ...(cacheWrite > 0 ? { cacheWriteTokens: cacheWrite } : {}),
    ...(reasoning > 0 ? { reasoningTokens: reasoning } : {})
  }
}

export interface Completion {
  /** the upstream's response id */
  readonly id: string
  /** the model the upstream says answered */
  readonly model: string
  /** text, thinking and tool_call parts, in the order the model produced them */
  readonly content: ReadonlyArray<Part>
  readonly finishReason: FinishReason
  /** the stop sequence that ended the turn, when the upstream says which */
  readonly stopSequence?: string
  readonly usage: Usage
  /** the gateway's own tool calls on the way (the tool loop), each before the part at `at` of `content` */
  readonly serverCalls?: ReadonlyArray<ServerCall>
}

/** A call the gateway ran for the model, with its result (JSON text). */
export interface ServerCall {
  /** where it happened: before `content[at]` */
  readonly at: number
  readonly call: ToolCallPart
  readonly result: string
  readonly isError: boolean
}

export type StreamEvent =
  | { readonly type: "start"; readonly id: string; readonly model: string; readonly usage?: Usage }
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "thinking"; readonly text: string; readonly signature?: string }
  | { readonly type: "tool_call_start"; readonly index: number; readonly id: string; readonly name: string }
  | { readonly type: "tool_call_delta"; readonly index: number; readonly arguments: string }
  | {
    readonly type: "finish"
    readonly reason: FinishReason
    readonly stopSequence?: string
    readonly usage: Usage
  }

/**
 * Server-side tool progress, between the model's own events when the gateway runs tools for it:
 * a call as it starts, and its result (JSON text) when it ends. Dialects show them as progress;
 * they are not part of the answer.
 */
export type ServerToolEvent =
  | { readonly type: "server_tool_call"; readonly call: ToolCallPart }
  | { readonly type: "server_tool_result"; readonly call: ToolCallPart; readonly result: string; readonly isError: boolean }
  /** tools are still running: dialects send a keep-alive so that proxies keep the connection */
  | { readonly type: "server_tool_wait" }

/** What a chat answer streams: the model's events, and server-side tool progress when tools run. */
export type AnswerEvent = StreamEvent | ServerToolEvent
