/**
 * The Responses API's own vocabulary, shared by its request decoder and its answer encoders: what a
 * decoded request carries for the encoders (`ResponsesExtra`), item ids, statuses and usage.
 */
import { randomFillSync } from "node:crypto"
import type { FinishReason, Usage } from "../../ir/response.ts"

/** Hosted tools (`{type: "web_search"}`, `{type: "code_interpreter"}`) and the gateway tool serving each. */
export const hostedTools = { web_search: "web_search", web_search_preview: "web_search", code_interpreter: "code_exec" } as const
export type HostedTool = keyof typeof hostedTools

/** What only the Responses encoders (and the door's store) need of a request. */
export interface ResponsesExtra {
  /** the request's fields that a Response object echoes back (`instructions`, `tools`, `tool_choice`, `temperature`, `metadata`…) */
  readonly echo: Readonly<Record<string, unknown>>
  /** tools of type `custom` (freeform, as Codex's `apply_patch`): their calls go back as `custom_tool_call` items with their `input` */
  readonly freeform: ReadonlySet<string>
  /** tools inside a `namespace` tool, by the name the model knows them by (`namespaced`): their namespace and own name */
  readonly namespaced: ReadonlyMap<string, NamespacedName>
  /** the gateway tools asked for as hosted tools, by the gateway tool's name (`web_search`, `code_exec`): their calls are output items */
  readonly hosted: ReadonlySet<string>
  /** `store` (true unless the client sent false): the response is kept for `previous_response_id` */
  readonly store: boolean
  /** the whole input as items, each with an id (the stored history first): what a stored response keeps */
  readonly input: ReadonlyArray<Readonly<Record<string, unknown>>>
}

export interface NamespacedName {
  readonly namespace: string
  readonly name: string
}

/**
 * A tool of a `namespace` tool (Codex groups its sub-agent tools so) by one name that every provider
 * accepts (letters, digits, `_` and `-`): the namespace and the tool's name joined by `__`.
 */
export const namespaced = ({ name, namespace }: NamespacedName): string => `${namespace}__${name}`

/** A freeform tool's call, as a function call: one string argument. */
export const freeformArgument = "input"

// drawn from the system's random source 256 ids at a time: a draw costs a few µs, and a Codex
// conversation's input is a hundred items that each get an id
const idBytes = Buffer.alloc(24 * 256)
let idBytesUsed = idBytes.length

/** An id of the Responses API's shape: `prefix_` and 48 hex digits (`resp_…`, `msg_…`, `fc_…`, `rs_…`). */
export const itemId = (prefix: string): string => {
  if (idBytesUsed === idBytes.length) {
    randomFillSync(idBytes)
    idBytesUsed = 0
  }
  const id = idBytes.toString("hex", idBytesUsed, idBytesUsed += 24)
  return `${prefix}_${id}`
}

/**
 * Anthropic's signed thinking, carried in a reasoning item's `encrypted_content` behind this marker:
 * a client sends it back, and an Anthropic provider gets its thinking block again. Anything else in
 * `encrypted_content` is OpenAI's, for OpenAI providers only.
 */
export const anthropicSignature = "orka.anthropic.v1:"

export type ResponseStatus = "completed" | "incomplete"

/** How a Response ended, and why when it is incomplete. */
export const statusOf = (reason: FinishReason): { readonly status: ResponseStatus; readonly incomplete_details: { readonly reason: string } | null } => {
  switch (reason) {
    case "max_tokens":
      return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } }
    case "content_filter":
    case "refusal":
      return { status: "incomplete", incomplete_details: { reason: "content_filter" } }
    default:
      return { status: "completed", incomplete_details: null }
  }
}

export const usageJson = (usage: Usage) => ({
  input_tokens: usage.inputTokens,
  input_tokens_details: { cached_tokens: usage.cacheReadTokens ?? 0 },
  output_tokens: usage.outputTokens,
  output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
  total_tokens: usage.inputTokens + usage.outputTokens
})
