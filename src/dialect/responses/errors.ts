/**
 * The Responses API's errors: before the stream starts, OpenAI's envelope (../openai-envelope.ts,
 * as for Chat Completions); once it started, a `response.failed` event, whose response says why.
 */
import type { GatewayError } from "../../errors.ts"
import { failedResponse, type OutputItem, type ResponseMeta } from "./response.ts"
import { itemId } from "./vocabulary.ts"

export { errorBody, errorEnvelope } from "../openai-envelope.ts"

/** One server-sent event as the Responses API frames it: `event: <type>`, `data: <json>`, a blank line. */
export const sseFrame = (type: string, data: unknown): string => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`

/**
 * The `response.failed` event for a failure midway. `sequence` follows the last event the client
 * got; without the response's own `meta` (a relayed stream), a response of its own stands in.
 */
export const failedFrame = (
  error: GatewayError,
  sequence = 0,
  meta: ResponseMeta = { id: itemId("resp"), model: "", createdAt: Math.floor(Date.now() / 1000) },
  output: ReadonlyArray<OutputItem> = [],
  echo: Readonly<Record<string, unknown>> = {}
): string =>
  sseFrame("response.failed", { type: "response.failed", sequence_number: sequence, response: failedResponse(error, meta, output, echo) })
