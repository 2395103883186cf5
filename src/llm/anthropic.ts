/**
 * The `anthropic` provider type: the neutral conversation as a Messages API request, and the
 * Messages API's JSON and SSE answers back as IR.
 */
import { Effect, Stream } from "effect"
import type { Sse } from "effect/encoding"
import { endedEarly, type GatewayError, gatewayError, malformedAnswer } from "../errors.ts"
import type { Conversation, Part } from "../ir/conversation.ts"
import type { Completion, FinishReason, StreamEvent, Usage } from "../ir/response.ts"
import type { BackendFactory } from "./backend.ts"
import { anthropicTarget } from "./targets.ts"

type Json = Record<string, unknown>

const block = (part: Part): Array<Json> =>
  part.type !== "thinking" && part.cacheControl !== undefined
    ? blockOf(part).map((b) => ({ ...b, cache_control: part.cacheControl }))
    : blockOf(part)

const blockOf = (part: Part): Array<Json> => {
  switch (part.type) {
    case "text":
      return part.text === "" ? [] : [{ type: "text", text: part.text }] // Anthropic rejects empty text blocks
    case "image":
      return [{
        type: "image",
        source: part.source.kind === "base64"
          ? { type: "base64", media_type: part.source.mediaType, data: part.source.data }
          : { type: "url", url: part.source.url }
      }]
    case "tool_call": {
      let input: unknown = {}
      try {
        input = JSON.parse(part.arguments === "" ? "{}" : part.arguments)
      } catch {
        // arguments a model cut short: an empty input is the only valid object to replay
      }
      return [{ type: "tool_use", id: part.id, name: part.name, input: typeof input === "object" && input !== null && !Array.isArray(input) ? input : {} }]
    }
    case "tool_result":
      return [{
        type: "tool_result",
        tool_use_id: part.callId,
        content: part.content.flatMap(block),
        ...(part.isError === true ? { is_error: true } : {})
      }]
    case "thinking":
      // Thinking can only be replayed with its signature.
      return part.signature === undefined ? [] : [{ type: "thinking", thinking: part.text, signature: part.signature }]
  }
}

const toolChoice = (c: Conversation): Json | undefined => {
  const base: Json | undefined = c.toolChoice === undefined
    ? undefined
    : c.toolChoice.type === "required"
    ? { type: "any" }
    : c.toolChoice.type === "tool"
    ? { type: "tool", name: c.toolChoice.name }
    : { type: c.toolChoice.type }
  if (c.parallelToolCalls === false && c.tools.length > 0) return { ...(base ?? { type: "auto" }), disable_parallel_tool_use: true }
  return base
}

/** The Messages API request body for a conversation. */
export const encodeRequest = (c: Conversation, defaultMaxTokens: number, stream: boolean): Json => {
  const messages = c.messages.map((m) => {
    // tool_result blocks must open their user turn
    const content = [...m.content].sort((a, b) => Number(b.type === "tool_result") - Number(a.type === "tool_result"))
    return { role: m.role, content: content.flatMap(block) }
  })
  const choice = toolChoice(c)
  return {
    ...c.extensions.anthropic,
    model: c.model,
    ...(c.system.length === 0 ? {} : {
      system: c.system.length === 1 && c.system[0]!.cacheControl === undefined ? c.system[0]!.text : c.system.flatMap(block)
    }),
    messages,
    max_tokens: c.maxTokens ?? defaultMaxTokens,
    ...(c.tools.length === 0 ? {} : {
      tools: c.tools.map((t) => ({
        name: t.name,
        ...(t.description === undefined ? {} : { description: t.description }),
        input_schema: t.parameters,
        ...(t.cacheControl === undefined ? {} : { cache_control: t.cacheControl })
      }))
    }),
    ...(choice === undefined ? {} : { tool_choice: choice }),
    ...(c.temperature === undefined ? {} : { temperature: c.temperature }),
    ...(c.topP === undefined ? {} : { top_p: c.topP }),
    ...(c.stop === undefined || c.stop.length === 0 ? {} : { stop_sequences: c.stop }),
    ...(c.user === undefined ? {} : { metadata: { ...(c.extensions.anthropic?.["metadata"] as Json | undefined), user_id: c.user } }),
    ...(stream ? { stream: true } : {})
  }
}

const finishReasons: Record<string, FinishReason> = {
  end_turn: "end_turn",
  stop_sequence: "stop_sequence",
  max_tokens: "max_tokens",
  tool_use: "tool_use",
  refusal: "refusal",
  pause_turn: "end_turn",
  model_context_window_exceeded: "max_tokens"
}

const usage = (u: Json | undefined, base: Usage = { inputTokens: 0, outputTokens: 0 }): Usage => {
  const num = (k: string) => (typeof u?.[k] === "number" ? (u[k] as number) : undefined)
  const cacheRead = num("cache_read_input_tokens") ?? base.cacheReadTokens
  const cacheWrite = num("cache_creation_input_tokens") ?? base.cacheWriteTokens
  return {
    inputTokens: Math.max(num("input_tokens") ?? 0, base.inputTokens),
    outputTokens: num("output_tokens") ?? base.outputTokens,
    ...(cacheRead === undefined ? {} : { cacheReadTokens: cacheRead }),
    ...(cacheWrite === undefined ? {} : { cacheWriteTokens: cacheWrite })
  }
}


export const decodeMessage = (provider: string, json: unknown): Effect.Effect<Completion, GatewayError> => {
  const m = json as Json
  if (typeof m !== "object" || m === null || !Array.isArray(m["content"])) return Effect.fail(malformedAnswer(provider))
  const content = (m["content"] as Array<Json>).flatMap((b): Array<Part> => {
    if (b["type"] === "text" && typeof b["text"] === "string") return [{ type: "text", text: b["text"] }]
    if (b["type"] === "tool_use") {
      return [{ type: "tool_call", id: String(b["id"]), name: String(b["name"]), arguments: JSON.stringify(b["input"] ?? {}) }]
    }
    if (b["type"] === "thinking" && typeof b["thinking"] === "string") {
      return [{ type: "thinking", text: b["thinking"], ...(typeof b["signature"] === "string" ? { signature: b["signature"] } : {}) }]
    }
    return []
  })
  return Effect.succeed({
    id: String(m["id"] ?? ""),
    model: String(m["model"] ?? ""),
    content,
    finishReason: finishReasons[String(m["stop_reason"])] ?? "end_turn",
    ...(typeof m["stop_sequence"] === "string" ? { stopSequence: m["stop_sequence"] } : {}),
    usage: usage(m["usage"] as Json | undefined)
  })
}

/** An `event: error` from Anthropic, as the error the client should see. */
export const streamError = (provider: string, data: Json): GatewayError => {
  const error = (data["error"] ?? {}) as Json
  const message = `provider ${provider}: ${typeof error["message"] === "string" ? error["message"] : "stream error"}`
  switch (error["type"]) {
    case "overloaded_error":
      return gatewayError("overloaded", message)
    case "rate_limit_error":
      return gatewayError("rate_limit", message)
    case "invalid_request_error":
      return gatewayError("invalid_request", message)
    case "not_found_error":
      return gatewayError("not_found", message)
    default:
      return gatewayError("upstream", message)
  }
}

interface StreamState {
  /** Anthropic block index → IR tool-call index */
  readonly tools: Map<number, number>
  usage: Usage
  reason: FinishReason
  stopSequence: string | undefined
  finished: boolean
}

/** One SSE event as IR events, or a failure for `event: error` and unreadable data. */
const decodeEvent = (provider: string, state: StreamState, event: Sse.Event): Effect.Effect<ReadonlyArray<StreamEvent>, GatewayError> => {
  let data: Json
  try {
    data = JSON.parse(event.data) as Json
  } catch {
    return Effect.fail(malformedAnswer(provider))
  }
  const type = typeof data["type"] === "string" ? data["type"] : event.event
  switch (type) {
    case "message_start": {
      const message = (data["message"] ?? {}) as Json
      state.usage = usage(message["usage"] as Json | undefined)
      return Effect.succeed([{ type: "start", id: String(message["id"] ?? ""), model: String(message["model"] ?? ""), usage: state.usage }])
    }
    case "content_block_start": {
      const b = (data["content_block"] ?? {}) as Json
      if (b["type"] === "tool_use") {
        const index = state.tools.size
        state.tools.set(Number(data["index"]), index)
        return Effect.succeed([{ type: "tool_call_start", index, id: String(b["id"]), name: String(b["name"]) }])
      }
      if (b["type"] === "text" && typeof b["text"] === "string" && b["text"] !== "") return Effect.succeed([{ type: "text", text: b["text"] }])
      return Effect.succeed([])
    }
    case "content_block_delta": {
      const d = (data["delta"] ?? {}) as Json
      if (d["type"] === "text_delta") return Effect.succeed([{ type: "text", text: String(d["text"] ?? "") }])
      if (d["type"] === "input_json_delta") {
        const index = state.tools.get(Number(data["index"]))
        const fragment = String(d["partial_json"] ?? "")
        return Effect.succeed(index === undefined || fragment === "" ? [] : [{ type: "tool_call_delta", index, arguments: fragment }])
      }
      if (d["type"] === "thinking_delta") return Effect.succeed([{ type: "thinking", text: String(d["thinking"] ?? "") }])
      if (d["type"] === "signature_delta") return Effect.succeed([{ type: "thinking", text: "", signature: String(d["signature"] ?? "") }])
      return Effect.succeed([])
    }
    case "message_delta": {
      const d = (data["delta"] ?? {}) as Json
      if (typeof d["stop_reason"] === "string") state.reason = finishReasons[d["stop_reason"]] ?? "end_turn"
      if (typeof d["stop_sequence"] === "string") state.stopSequence = d["stop_sequence"]
      state.usage = usage(data["usage"] as Json | undefined, state.usage) // cumulative counts
      return Effect.succeed([])
    }
    case "message_stop":
      state.finished = true
      return Effect.succeed([{
        type: "finish",
        reason: state.reason,
        ...(state.stopSequence === undefined ? {} : { stopSequence: state.stopSequence }),
        usage: state.usage
      }])
    case "error":
      return Effect.fail(streamError(provider, data))
    default: // ping, content_block_stop, and event types newer than this code
      return Effect.succeed([])
  }
}

export const anthropicBackend: BackendFactory = (upstream, options) => {
  const call = (c: Conversation, provider: { name: string }, target: ReturnType<typeof anthropicTarget>, stream: boolean) =>
    upstream.send({
      provider: provider.name,
      ...target,
      body: JSON.stringify(encodeRequest(c, options.defaultMaxTokens, stream)),
      expect: stream ? "sse" : "json"
    })

  return {
    complete: (c, provider) =>
      call(c, provider, anthropicTarget(provider, "/v1/messages", { beta: c.extensions.anthropicBeta }), false).pipe(
        Effect.flatMap((response) => upstream.json(provider.name, response)),
        Effect.flatMap((json) => decodeMessage(provider.name, json))
      ),
    stream: (c, provider) =>
      Stream.unwrap(Effect.map(call(c, provider, anthropicTarget(provider, "/v1/messages", { beta: c.extensions.anthropicBeta }), true), (response) => {
        const state: StreamState = { tools: new Map(), usage: { inputTokens: 0, outputTokens: 0 }, reason: "end_turn", stopSequence: undefined, finished: false }
        return upstream.events(provider.name, response).pipe(
          Stream.mapEffect((event) => decodeEvent(provider.name, state, event)),
          Stream.flatMap((events) => Stream.fromIterable(events)),
          Stream.takeUntil((event) => event.type === "finish"),
          Stream.concat(Stream.suspend(() =>
            state.finished
              ? Stream.empty
              : Stream.fail(endedEarly(provider.name))
          ))
        )
      }))
  }
}
