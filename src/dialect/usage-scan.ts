/**
 * The usage a provider reported, read from an answer's text without decoding it: for answers that
 * are passed through, whole or streamed (the first and last bytes of a stream). Every wire format
 * names it `usage`: Chat Completions `prompt_tokens` / `completion_tokens`, Anthropic and the
 * Responses API `input_tokens` / `output_tokens`, each with its cached count; an Anthropic stream
 * has its input count in `message_start` and its output count in `message_delta`, so the largest of
 * each over every `usage` object is the answer's.
 */
import type { Usage } from "../ir/response.ts"

/** The index just after the JSON object that starts at `i` (a `{`), or -1 when it does not end there. */
const objectEnd = (text: string, i: number): number => {
  let depth = 0
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j)
    if (c === 34) {
      for (j++; j < text.length && text.charCodeAt(j) !== 34; j++) if (text.charCodeAt(j) === 92) j++
    } else if (c === 123) depth++
    else if (c === 125 && --depth === 0) return j + 1
  }
  return -1
}

type Json = Record<string, unknown>

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0)
const nested = (value: unknown, key: string): unknown => (typeof value === "object" && value !== null ? (value as Json)[key] : undefined)

export const usageIn = (text: string): Usage | undefined => {
  let found: { input: number; output: number; cached: number; reasoning: number } | undefined
  for (let at = text.indexOf("\"usage\""); at >= 0; at = text.indexOf("\"usage\"", at + 7)) {
    const open = text.indexOf("{", at + 7)
    // `"usage": null`, or a `usage` key that is not followed by an object
    if (open < 0 || text.slice(at + 7, open).trim() !== ":") continue
    const end = objectEnd(text, open)
    if (end < 0) continue
    let usage: Json
    try {
      usage = JSON.parse(text.slice(open, end)) as Json
    } catch {
      continue
    }
    const input = count(usage["input_tokens"] ?? usage["prompt_tokens"])
    const output = count(usage["output_tokens"] ?? usage["completion_tokens"])
    const cached = count(usage["cache_read_input_tokens"] ?? nested(usage["prompt_tokens_details"], "cached_tokens") ?? nested(usage["input_tokens_details"], "cached_tokens"))
    const reasoning = count(nested(usage["completion_tokens_details"], "reasoning_tokens") ?? nested(usage["output_tokens_details"], "reasoning_tokens"))
    found = found === undefined ? { input, output, cached, reasoning } : {
      input: Math.max(found.input, input),
      output: Math.max(found.output, output),
      cached: Math.max(found.cached, cached),
      reasoning: Math.max(found.reasoning, reasoning)
    }
  }
  return found === undefined ? undefined : {
    inputTokens: found.input,
    outputTokens: found.output,
    ...(found.cached > 0 ? { cacheReadTokens: found.cached } : {}),
    ...(found.reasoning > 0 ? { reasoningTokens: found.reasoning } : {})
  }
}

/** The first `model` an answer names, as the provider sent it. */
export const modelIn = (text: string): string | undefined => /"model"\s*:\s*"((?:[^"\\]|\\.){1,200})"/.exec(text)?.[1]
