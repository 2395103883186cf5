/** The Responses API as clients speak it (Codex CLI, the OpenAI Agents SDK, the AI SDK's `openai(model)`): see ../wire.ts. */
import type { ClientFormat } from "../wire.ts"
import { errorEnvelope } from "./errors.ts"
import { relayed } from "./relayed.ts"
import { decodeResponsesRequest, type ResponsesPrepared } from "./request.ts"
import { encodeResponse } from "./response.ts"
import { encodeStream } from "./stream.ts"
import { itemId, type ResponsesExtra } from "./vocabulary.ts"

const now = () => Math.floor(Date.now() / 1000)

/** Chat Completions fields the decoder fills from Responses ones, by the Responses name a client knows. */
const chatNames: Readonly<Record<string, string>> = { response_format: "text.format", verbosity: "text.verbosity" }

export const responsesClient: ClientFormat<ResponsesExtra, ResponsesPrepared | undefined> = {
  name: "responses",
  nativeTo: ["openai", "azure-openai"],
  decodeRequest: decodeResponsesRequest,
  encodeAnswer: (completion, request, meta) => encodeResponse(completion, request.extra, { id: itemId("resp"), model: meta.model, createdAt: now() }),
  encodeStream: (events, request, meta) =>
    encodeStream(events, request.extra, {
      id: itemId("resp"),
      model: meta.model,
      createdAt: now(),
      progress: meta.progress,
      ...(meta.onComplete === undefined ? {} : { onComplete: meta.onComplete })
    }),
  relayed,
  errorEnvelope,
  // a Chat Completions provider gets the Chat equivalents; others get neither (reasoning becomes Anthropic's thinking)
  onlyHere: (c, towards) => [
    ...Object.keys(c.extensions.responses ?? {}),
    ...(towards === "openai" || towards === "azure-openai"
      ? []
      : Object.keys(c.extensions.openai ?? {}).filter((k) => k !== "reasoning_effort").map((k) => chatNames[k] ?? k))
  ]
}
