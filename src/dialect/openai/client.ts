/** Chat Completions as clients speak it (the `openai` SDKs, the AI SDK, LangChain…): see ../wire.ts. */
import type { ClientFormat } from "../wire.ts"
import { errorEnvelope } from "./errors.ts"
import { relayed } from "./relayed.ts"
import { decodeChatRequest, type OpenAIExtra } from "./request.ts"
import { encodeCompletion } from "./response.ts"
import { encodeStream } from "./stream.ts"

const now = () => Math.floor(Date.now() / 1000)

export const openaiClient: ClientFormat<OpenAIExtra> = {
  name: "openai",
  nativeTo: ["openai", "azure-openai"],
  decodeRequest: decodeChatRequest,
  encodeAnswer: (completion, _, meta) => encodeCompletion(completion, { model: meta.model, created: now() }),
  encodeStream: (events, request, meta) =>
    encodeStream(events, { model: meta.model, created: now(), includeUsage: request.extra.includeUsage, progress: meta.progress }),
  relayed,
  errorEnvelope,
  onlyHere: (c) => Object.keys(c.extensions["openai"] ?? {})
}
