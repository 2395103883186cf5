/**
 * An `Answer` (see scripted-upstream.ts) in the OpenAI Responses API's wire format, as api.openai.com
 * frames it: JSON, or SSE with `event:` lines, `sequence_number`s, output items added and done,
 * text and argument deltas, and `response.completed` with the usage (no `[DONE]`).
 */
import type { Answer } from "./scripted-upstream.ts"

const stop = (a: Answer) => a.stop ?? (a.toolCalls?.length ? "tool_use" : "end_turn")

const items = (a: Answer) => [
  ...(a.text?.length ? [{
    type: "message", id: "msg_up1", status: "completed", role: "assistant",
    content: [{ type: "output_text", text: a.text.join(""), annotations: [], logprobs: [] }]
  }] : []),
  ...(a.toolCalls ?? []).map((c, i) => ({
    type: "function_call", id: `fc_up${i}`, status: "completed", call_id: c.id, name: c.name, arguments: c.fragments.join("")
  }))
]

export const responsesObject = (a: Answer, status = "completed") => {
  const input = a.inputTokens ?? 10
  const output = a.outputTokens ?? 5
  const cut = stop(a) === "max_tokens"
  return {
    id: a.id ?? "resp_upstream1", object: "response", created_at: 1_700_000_000, status: cut ? "incomplete" : status,
    background: false, error: null, incomplete_details: cut ? { reason: "max_output_tokens" } : null,
    instructions: null, max_output_tokens: null, model: a.model ?? "gpt-test-2025", output: status === "in_progress" ? [] : items(a),
    parallel_tool_calls: true, previous_response_id: null, reasoning: { effort: null, summary: null }, store: true,
    temperature: 1, text: { format: { type: "text" } }, tool_choice: "auto", tools: [], top_p: 1, truncation: "disabled",
    usage: status === "in_progress" ? null : {
      input_tokens: input, input_tokens_details: { cached_tokens: 0 },
      output_tokens: output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: input + output
    },
    user: null, metadata: {}
  }
}

export const responsesEvents = (a: Answer, failAfter?: number): string => {
  const frames: Array<Record<string, unknown>> = []
  frames.push({ type: "response.created", response: responsesObject(a, "in_progress") })
  frames.push({ type: "response.in_progress", response: responsesObject(a, "in_progress") })
  items(a).forEach((item, output_index) => {
    if (item.type === "message") {
      frames.push({ type: "response.output_item.added", output_index, item: { ...item, status: "in_progress", content: [] } })
      frames.push({ type: "response.content_part.added", item_id: item.id, output_index, content_index: 0, part: { type: "output_text", text: "", annotations: [], logprobs: [] } })
      for (const delta of a.text ?? []) frames.push({ type: "response.output_text.delta", item_id: item.id, output_index, content_index: 0, delta, logprobs: [] })
      const text = (a.text ?? []).join("")
      frames.push({ type: "response.output_text.done", item_id: item.id, output_index, content_index: 0, text, logprobs: [] })
      frames.push({ type: "response.content_part.done", item_id: item.id, output_index, content_index: 0, part: { type: "output_text", text, annotations: [], logprobs: [] } })
    } else {
      const call = a.toolCalls![output_index - (a.text?.length ? 1 : 0)]!
      frames.push({ type: "response.output_item.added", output_index, item: { ...item, status: "in_progress", arguments: "" } })
      for (const delta of call.fragments) frames.push({ type: "response.function_call_arguments.delta", item_id: item.id, output_index, delta })
      frames.push({ type: "response.function_call_arguments.done", item_id: item.id, output_index, arguments: call.fragments.join("") })
    }
    frames.push({ type: "response.output_item.done", output_index, item })
  })
  const final = responsesObject(a)
  frames.push({ type: final.status === "incomplete" ? "response.incomplete" : "response.completed", response: final })
  const sent = failAfter === undefined ? frames : frames.slice(0, failAfter)
  return sent.map((f, sequence_number) => `event: ${f["type"]}\ndata: ${JSON.stringify({ ...f, sequence_number })}\n\n`).join("")
}
