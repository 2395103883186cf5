/** The Messages API as clients speak it (Claude Code, the Anthropic SDKs): see ../wire.ts. */
import type { Conversation } from "../../ir/conversation.ts"
import type { ClientFormat } from "../wire.ts"
import { estimateTokens } from "./count-tokens.ts"
import { errorEnvelope } from "./errors.ts"
import { relayed } from "./relayed.ts"
import { type AnthropicExtra, decodeMessagesRequest } from "./request.ts"
import { encodeMessage } from "./response.ts"
import { encodeStream } from "./stream.ts"

/** Whether any part, system block or tool carries `cache_control`. */
const hasCacheControl = (c: Conversation): boolean =>
  c.system.some((p) => p.cacheControl !== undefined) || c.tools.some((t) => t.cacheControl !== undefined) ||
  c.messages.some((m) => m.content.some((p) => p.type !== "thinking" && p.cacheControl !== undefined))

export const anthropicClient: ClientFormat<AnthropicExtra> = {
  name: "anthropic",
  nativeTo: ["anthropic"],
  decodeRequest: decodeMessagesRequest,
  encodeAnswer: (completion, _, meta) => encodeMessage(completion, { model: meta.model }),
  encodeStream: (events, request, meta) =>
    encodeStream(events, {
      model: meta.model,
      progress: meta.progress,
      inputEstimate: estimateTokens(request.conversation),
      pingEveryMs: meta.keepAliveMs
    }),
  relayed,
  errorEnvelope,
  onlyHere: (c) => [...Object.keys(c.extensions["anthropic"] ?? {}), ...(hasCacheControl(c) ? ["cache_control"] : [])]
}
