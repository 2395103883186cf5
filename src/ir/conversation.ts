/**
 * The neutral conversation every dialect decodes into and every backend encodes from.
 *
 * Shapes follow the Anthropic Messages model (content blocks, tool results inside user turns) because
 * it is the richer of the two; OpenAI's flat `tool` messages map onto it losslessly.
 * Plain readonly data: no classes, so parts can be built in tests with object literals.
 */

/**
 * Anthropic's prompt-caching breakpoint (`cache_control`), as the client sent it: kept for Anthropic
 * providers, ignored by the others.
 */
export type CacheControl = Readonly<Record<string, unknown>>

export interface TextPart {
  readonly type: "text"
  readonly text: string
  readonly cacheControl?: CacheControl
}

export type ImageSource =
  | { readonly kind: "base64"; readonly mediaType: string; readonly data: string }
  | { readonly kind: "url"; readonly url: string }

export interface ImagePart {
  readonly type: "image"
  readonly source: ImageSource
  /** OpenAI's `image_url.detail`, kept for OpenAI-shaped providers */
  readonly detail?: string
  readonly cacheControl?: CacheControl
}

export interface ToolCallPart {
  readonly type: "tool_call"
  readonly id: string
  readonly name: string
  /** the arguments as JSON text, exactly as the model produced them */
  readonly arguments: string
  readonly cacheControl?: CacheControl
}

export interface ToolResultPart {
  readonly type: "tool_result"
  readonly callId: string
  readonly content: ReadonlyArray<TextPart | ImagePart>
  readonly isError?: boolean
  readonly cacheControl?: CacheControl
}

export interface ThinkingPart {
  readonly type: "thinking"
  readonly text: string
  readonly signature?: string
}

export type Part = TextPart | ImagePart | ToolCallPart | ToolResultPart | ThinkingPart

/**
 * A turn. `system` turns are instructions given mid-conversation (Claude Code sends them inside
 * `messages`): text only, kept at their position for providers that take them there.
 */
export interface Message {
  readonly role: "user" | "assistant" | "system"
  readonly content: ReadonlyArray<Part>
}

export interface ToolDefinition {
  readonly name: string
  readonly description?: string
  /** JSON Schema of the arguments object */
  readonly parameters: Record<string, unknown>
  /** OpenAI's `strict`: the arguments must follow the schema exactly */
  readonly strict?: boolean
  readonly cacheControl?: CacheControl
}

export type ToolChoice =
  | { readonly type: "auto" }
  | { readonly type: "none" }
  | { readonly type: "required" }
  | { readonly type: "tool"; readonly name: string }

/** A dialect's fields the IR does not model, forwarded untouched to a provider of the same dialect. */
export interface Extensions {
  readonly openai?: Readonly<Record<string, unknown>>
  readonly anthropic?: Readonly<Record<string, unknown>>
  /** the Responses API's top-level fields the IR does not model: no provider gets them, they are named in the left-out log */
  readonly responses?: Readonly<Record<string, unknown>>
}

export interface Conversation {
  /** the model id sent upstream (the part after `provider/`) */
  readonly model: string
  readonly system: ReadonlyArray<TextPart>
  readonly messages: ReadonlyArray<Message>
  readonly tools: ReadonlyArray<ToolDefinition>
  readonly toolChoice?: ToolChoice
  readonly parallelToolCalls?: boolean
  readonly maxTokens?: number
  readonly temperature?: number
  readonly topP?: number
  readonly stop?: ReadonlyArray<string>
  /** an end-user id for abuse tracking (OpenAI `user`, Anthropic `metadata.user_id`) */
  readonly user?: string
  /** how hard the model should think (the Responses API's `reasoning.effort`): `minimal`, `low`, `medium`, `high`… */
  readonly reasoningEffort?: string
  readonly extensions: Extensions
}

export const textOf = (parts: ReadonlyArray<Part>): string =>
  parts.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("")

/**
 * The conversation with its system turns moved to the end of the system prompt, for a provider that
 * takes instructions only there; `folded` says whether there were any.
 */
export const foldSystemTurns = (c: Conversation): { readonly conversation: Conversation; readonly folded: boolean } => {
  const turns = c.messages.filter((m) => m.role === "system")
  if (turns.length === 0) return { conversation: c, folded: false }
  const text = turns.flatMap((m) => m.content.flatMap((p) => (p.type === "text" ? [{ type: "text" as const, text: p.text }] : [])))
  // the turns around a removed one are merged, so user and assistant still alternate
  const messages: Array<Message> = []
  for (const m of c.messages) {
    if (m.role === "system") continue
    const last = messages.at(-1)
    if (last?.role === m.role) messages[messages.length - 1] = { role: m.role, content: [...last.content, ...m.content] }
    else messages.push(m)
  }
  return { conversation: { ...c, system: [...c.system, ...text], messages }, folded: true }
}
