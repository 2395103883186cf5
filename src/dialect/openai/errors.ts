/** Chat Completions' errors: OpenAI's envelope (../openai-envelope.ts), and an error chunk once the stream started. */
import type { GatewayError } from "../../errors.ts"
import { errorBody } from "../openai-envelope.ts"

export { errorBody, errorEnvelope, statusOf } from "../openai-envelope.ts"

/** A failure after the stream started: the `openai` SDKs raise an APIError for a chunk with `error`. */
export const errorFrame = (e: GatewayError): string => `data: ${JSON.stringify(errorBody(e))}\n\n`
