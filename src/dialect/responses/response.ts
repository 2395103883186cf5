/**
 * A Completion as a Responses API `Response` object, and the output items it is made of. The stream
 * encoder (stream.ts) builds its items and its final response with the same functions, so a client
 * gets the same answer whether it streamed it or not.
 *
 * Output items follow the model's order: each thinking part a `reasoning` item (Anthropic's signature
 * in `encrypted_content`, behind its marker), consecutive text one `message`, each tool call a
 * `function_call` (a `custom_tool_call` for freeform tools). The gateway's calls of hosted tools
 * (`web_search`, `code_interpreter`) are items too, where they ran; its other calls are not shown.
 */
import type { ErrorKind, GatewayError } from "../../errors.ts"
import type { ToolCallPart } from "../../ir/conversation.ts"
import type { Completion, ServerCall } from "../../ir/response.ts"
import { anthropicSignature, freeformArgument, itemId, type ResponsesExtra, statusOf, usageJson } from "./vocabulary.ts"

export interface OutputItem {
  readonly type: string
  readonly id: string
  readonly [field: string]: unknown
}

export interface ResponseMeta {
  readonly id: string
  readonly model: string
  /** seconds since the epoch */
  readonly createdAt: number
}

export interface ResponseObject {
  readonly id: string
  readonly object: "response"
  readonly created_at: number
  readonly status: "in_progress" | "completed" | "incomplete" | "failed"
  readonly background: false
  readonly error: { readonly code: string; readonly message: string } | null
  readonly incomplete_details: { readonly reason: string } | null
  readonly model: string
  readonly output: ReadonlyArray<OutputItem>
  readonly usage: ReturnType<typeof usageJson> | null
  /** the request's fields echoed back (`instructions`, `tools`, `temperature`…) */
  readonly [echoed: string]: unknown
}

/** The Response object around `output`; the request's fields cannot replace the answer's own. */
export const responseObject = (
  meta: ResponseMeta,
  echo: Readonly<Record<string, unknown>>,
  fields: Pick<ResponseObject, "status" | "output" | "usage"> & Partial<Pick<ResponseObject, "error" | "incomplete_details">>
): ResponseObject => ({
  id: meta.id,
  object: "response",
  created_at: meta.createdAt,
  status: fields.status,
  background: false,
  error: fields.error ?? null,
  incomplete_details: fields.incomplete_details ?? null,
  ...echo,
  model: meta.model,
  output: fields.output,
  usage: fields.usage
})

export const outputText = (text: string) => ({ type: "output_text", text, annotations: [], logprobs: [] })

/** A message item: in progress (no content yet) until its text is known. */
export const messageItem = (id: string, text?: string): OutputItem =>
  text === undefined
    ? { type: "message", id, status: "in_progress", role: "assistant", content: [] }
    : { type: "message", id, status: "completed", role: "assistant", content: [outputText(text)] }

/** A reasoning item: in progress (no summary yet) until its text is known. */
export const reasoningItem = (id: string, text?: string, signature?: string): OutputItem =>
  text === undefined ? { type: "reasoning", id, summary: [] } : {
    type: "reasoning",
    id,
    summary: [{ type: "summary_text", text }],
    ...(signature === undefined ? {} : { encrypted_content: anthropicSignature + signature })
  }

/** A call without arguments still has an object of them: clients parse the text as JSON. */
const argumentsText = (text: string) => (text === "" ? "{}" : text)

/** A tool's name as the client knows it: a tool inside a `namespace` by its own name, with the namespace. */
export const calledAs = (extra: ResponsesExtra, name: string): { readonly name: string; readonly namespace?: string } => {
  const inNamespace = extra.namespaced.get(name)
  return inNamespace === undefined ? { name } : { name: inNamespace.name, namespace: inNamespace.namespace }
}

export const functionCallItem = (extra: ResponsesExtra, id: string, call: ToolCallPart, done = true): OutputItem => ({
  type: "function_call",
  id,
  status: done ? "completed" : "in_progress",
  call_id: call.id,
  ...calledAs(extra, call.name),
  arguments: done ? argumentsText(call.arguments) : ""
})

/** A freeform tool's input: its one string argument, or the model's text as it is when it gave none. */
export const freeformInput = (args: string): string => {
  const value = parsed(args)[freeformArgument]
  return typeof value === "string" ? value : args
}

export const customCallItem = (extra: ResponsesExtra, id: string, call: ToolCallPart, done = true): OutputItem => ({
  type: "custom_tool_call",
  id,
  status: done ? "completed" : "in_progress",
  call_id: call.id,
  ...calledAs(extra, call.name),
  input: done ? freeformInput(call.arguments) : ""
})

/** The item of a client's tool call: freeform tools' calls are custom tool calls. */
export const toolCallItem = (extra: ResponsesExtra, call: ToolCallPart): OutputItem =>
  extra.freeform.has(call.name) ? customCallItem(extra, itemId("ctc"), call) : functionCallItem(extra, itemId("fc"), call)

/** Which item a hosted tool's call is, by the gateway tool serving it; undefined for any other tool. */
export const hostedKind = (extra: ResponsesExtra, name: string): "web_search" | "code_exec" | undefined =>
  extra.hosted.has(name) && (name === "web_search" || name === "code_exec") ? name : undefined

export const hostedIdPrefix = { web_search: "ws", code_exec: "ci" } as const

/** A hosted tool's call as its item: in progress until its outcome is known. */
export const hostedItem = (
  kind: "web_search" | "code_exec",
  id: string,
  call: ToolCallPart,
  outcome?: Pick<ServerCall, "result" | "isError">
): OutputItem => {
  const args = parsed(call.arguments)
  const status = outcome === undefined ? "in_progress" : outcome.isError ? "failed" : "completed"
  if (kind === "web_search") {
    return { type: "web_search_call", id, status, action: { type: "search", query: stringOr(args.query) } }
  }
  return {
    type: "code_interpreter_call",
    id,
    status,
    code: stringOr(args.code),
    container_id: "orka",
    outputs: outcome === undefined ? null : [{ type: "logs", logs: programLogs(outcome.result) }]
  }
}

/**
 * What a program printed: code_exec's result is `{output, error, exit_code, timed_out}` (stdout and
 * stderr), a failed call's `{success: false, error}`; a traceback belongs in the logs as it would on a terminal.
 */
const programLogs = (result: string): string => {
  const r = parsed(result)
  return stringOr(r.output) + stringOr(r.error)
}

const stringOr = (value: unknown): string => (typeof value === "string" ? value : "")

const parsed = (json: string): Record<string, unknown> => {
  try {
    const value: unknown = JSON.parse(json)
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

export const encodeResponse = (completion: Completion, extra: ResponsesExtra, meta: ResponseMeta): ResponseObject => {
  const output: Array<OutputItem> = []
  let text: string | undefined
  const endMessage = () => {
    if (text !== undefined) output.push(messageItem(itemId("msg"), text))
    text = undefined
  }
  // a server call ends the message before it, as it ends the streamed one
  const calls = [...(completion.serverCalls ?? [])].sort((a, b) => a.at - b.at)
  let next = 0
  const callsBefore = (at: number) => {
    for (; next < calls.length && calls[next]!.at <= at; next++) {
      const { call, isError, result } = calls[next]!
      endMessage()
      const kind = hostedKind(extra, call.name)
      if (kind !== undefined) output.push(hostedItem(kind, itemId(hostedIdPrefix[kind]), call, { result, isError }))
    }
  }
  completion.content.forEach((part, at) => {
    callsBefore(at)
    if (part.type === "text") {
      if (part.text !== "") text = (text ?? "") + part.text
    } else if (part.type === "thinking") {
      if (part.text === "" && part.signature === undefined) return
      endMessage()
      output.push(reasoningItem(itemId("rs"), part.text, part.signature))
    } else if (part.type === "tool_call") {
      endMessage()
      output.push(toolCallItem(extra, part))
    }
  })
  callsBefore(Infinity)
  endMessage()
  return responseObject(meta, extra.echo, { ...statusOf(completion.finishReason), output, usage: usageJson(completion.usage) })
}

/**
 * `ResponseError.code` by kind, for errors that carry no code of their own. Codex retries a failed
 * response unless its code says retrying cannot help: the request's own faults are `invalid_prompt`.
 */
const codes: Record<ErrorKind, string> = {
  invalid_request: "invalid_prompt",
  authentication: "invalid_prompt",
  permission: "invalid_prompt",
  not_found: "invalid_prompt",
  method_not_allowed: "invalid_prompt",
  request_too_large: "invalid_prompt",
  headers_too_large: "invalid_prompt",
  rate_limit: "rate_limit_exceeded",
  // not in the SDK's list of codes, but what the API sends when it is, and Codex backs off on it
  overloaded: "server_is_overloaded",
  internal: "server_error",
  upstream: "server_error",
  timeout: "server_error"
}

export const responseError = (error: GatewayError) => ({ code: error.code ?? codes[error.kind], message: error.message })

/** The Response of `response.failed`: what was whole before the failure, and why it failed. */
export const failedResponse = (
  error: GatewayError,
  meta: ResponseMeta,
  output: ReadonlyArray<OutputItem> = [],
  echo: Readonly<Record<string, unknown>> = {}
): ResponseObject => responseObject(meta, echo, { status: "failed", error: responseError(error), output, usage: null })
