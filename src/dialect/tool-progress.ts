/**
 * Server-side tool progress as both dialects show it. By default an SSE comment line
 * (`: orka_tool {...}`), which every parser skips: strict clients (the AI SDK validates event types
 * against a closed list, opencode exits on an unknown one) see nothing they do not know. On request
 * (`X-Orka-Tool-Progress: events`) as structured events: an `orka_tool` field on an OpenAI chunk
 * with an empty delta, an `orka_tool_progress` event on the Anthropic stream. Progress is never
 * content, so the conversation a client sends back holds only what the model said.
 */
import type { ServerToolEvent } from "../ir/response.ts"

/** A result longer than this is cut in the progress (the model still gets all of it). */
export const previewChars = 2000

export interface ToolProgress {
  readonly id: string
  readonly name: string
  readonly status: "running" | "succeeded" | "failed"
  /** the call's arguments (JSON text), with `running` */
  readonly arguments?: string
  /** the start of the result (JSON text), with `succeeded` or `failed` */
  readonly result?: string
  readonly truncated?: boolean
}

export const toolProgress = (event: Extract<ServerToolEvent, { readonly call: unknown }>): ToolProgress => {
  const { id, name } = event.call
  if (event.type === "server_tool_call") return { id, name, status: "running", arguments: event.call.arguments }
  const truncated = event.result.length > previewChars
  return {
    id,
    name,
    status: event.isError ? "failed" : "succeeded",
    result: truncated ? event.result.slice(0, previewChars) : event.result,
    ...(truncated ? { truncated } : {})
  }
}

export type ProgressStyle = "comments" | "events"

/** The comment line, for either dialect. */
export const progressComment = (progress: ToolProgress): string => `: orka_tool ${JSON.stringify(progress)}\n\n`
