/**
 * JSON read with a bound on nesting. `JSON.parse` accepts any depth, but the code that later walks or
 * re-serialises a value (the codecs, `JSON.stringify`) recurses, and 10,000 levels overflow the stack
 * outside any handler. So depth is checked on the text first, in one pass that skips strings.
 */

export type JsonRead =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly problem: "depth" | "syntax"; readonly message: string }

/** Whether `text` opens more than `max` objects or arrays inside each other. */
export const nestedDeeperThan = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > max) return true
    } else if (c === 125 || c === 93) depth--
  }
  return false
}

export const readJson = (text: string, maxDepth: number): JsonRead => {
  if (nestedDeeperThan(text, maxDepth)) {
    return { ok: false, problem: "depth", message: `nested deeper than ${maxDepth} levels` }
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch (e) {
    // V8 quotes a piece of the text ("Unexpected token 'x', "…{"key": x…" is not valid JSON"), which may be
    // a piece of a secret: the quote is left out
    const message = (e instanceof Error ? e.message : String(e)).replace(/,\s*(\.\.\.)?".*"(\.\.\.)?\s*is not valid JSON$/s, "")
    return { ok: false, problem: "syntax", message }
  }
}

/** A JSON object (not an array, not null). */
export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The JSON object `text` holds, or undefined when it holds something else or is not JSON. */
export const parseJsonObject = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return isJsonObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** `encode`'s JSON text of each key, written once per key object (definitions made once, sent with every request). */
export const textOnce = <K extends object>(encode: (key: K) => unknown): (key: K) => string => {
  const texts = new WeakMap<K, string>()
  return (key) => {
    let text = texts.get(key)
    if (text === undefined) texts.set(key, text = JSON.stringify(encode(key)))
    return text
  }
}

/** The JSON text of `object` with one more member whose value is JSON text already (written last). */
export const stringifyWithMember = (object: Record<string, unknown>, name: string, valueText: string): string => {
  const text = JSON.stringify(object)
  return `${text.slice(0, -1)}${text.length > 2 ? "," : ""}${JSON.stringify(name)}:${valueText}}`
}
