/**
 * JSON read with a bound on nesting. `JSON.parse` accepts any depth (V8's parser does not recurse), but
 * the code that later walks or re-serialises a value (the codecs, `JSON.stringify`) does, and 10,000
 * levels overflow the stack outside any handler. So the parsed value's depth is checked before any of
 * that code sees it: a walk over its objects and arrays, without recursion, which costs by value, not by
 * character (a 100 KB conversation is mostly text: about 20 µs, where a scan of the text took 250).
 */

export type JsonRead =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly problem: "depth" | "syntax"; readonly message: string }

/** Whether `value` holds more than `max` objects or arrays inside each other (itself the first). */
export const nestedDeeperThan = (value: unknown, max: number): boolean => {
  if (typeof value !== "object" || value === null) return false
  const containers: Array<object> = [value]
  const depths: Array<number> = [1]
  while (containers.length > 0) {
    const container = containers.pop()!
    const depth = depths.pop()!
    if (depth > max) return true
    const items: ArrayLike<unknown> = Array.isArray(container) ? container : Object.values(container)
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (typeof item === "object" && item !== null) {
        containers.push(item)
        depths.push(depth + 1)
      }
    }
  }
  return false
}

export const readJson = (text: string, maxDepth: number): JsonRead => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    // V8 quotes a piece of the text ("Unexpected token 'x', "…{"key": x…" is not valid JSON"), which may be
    // a piece of a secret: the quote is left out
    const message = (e instanceof Error ? e.message : String(e)).replace(/,\s*(\.\.\.)?".*"(\.\.\.)?\s*is not valid JSON$/s, "")
    return { ok: false, problem: "syntax", message }
  }
  return nestedDeeperThan(value, maxDepth) ? { ok: false, problem: "depth", message: `nested deeper than ${maxDepth} levels` } : { ok: true, value }
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

/** Where the string that starts at `open` (its opening quote) ends: the index of its closing quote (-1: none). */
const stringEnd = (text: string, open: number): number => {
  let at = open
  for (;;) {
    at = text.indexOf("\"", at + 1)
    if (at === -1) return -1
    let backslashes = 0
    while (text.charCodeAt(at - 1 - backslashes) === 92) backslashes++
    if (backslashes % 2 === 0) return at
  }
}

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9

/** Where the value that starts at `start` ends (the index after it), in valid JSON. */
const valueEnd = (text: string, start: number): number => {
  const first = text.charCodeAt(start)
  if (first === 34) {
    const end = stringEnd(text, start)
    return end === -1 ? text.length : end + 1
  }
  if (first !== 123 && first !== 91) {
    let at = start
    while (at < text.length) {
      const c = text.charCodeAt(at)
      if (c === 44 || c === 125 || c === 93 || isSpace(c)) break
      at++
    }
    return at
  }
  let depth = 0
  for (let at = start; at < text.length; at++) {
    const c = text.charCodeAt(at)
    if (c === 34) {
      at = stringEnd(text, at)
      if (at === -1) return text.length
    } else if (c === 123 || c === 91) depth++
    else if ((c === 125 || c === 93) && --depth === 0) return at + 1
  }
  return text.length
}

/**
 * Where the string value of the top-level member `key` is in `text`, which JSON.parse has read (so
 * it is valid): `[start, end)` with its quotes. Undefined when there is no such member or several,
 * its value is no string, or a top-level key is written with escapes (JSON.parse could then read a
 * member this reading does not see). Strings are skipped with `indexOf`, so a body that is mostly
 * text costs by its structure, not its length.
 */
export const topLevelStringAt = (text: string, key: string): { readonly start: number; readonly end: number } | undefined => {
  let at = 0
  const skipSpace = () => {
    while (isSpace(text.charCodeAt(at))) at++
  }
  skipSpace()
  if (text.charCodeAt(at) !== 123) return undefined
  at++
  let found: { start: number; end: number } | undefined
  for (;;) {
    skipSpace()
    if (text.charCodeAt(at) === 125) return found
    // not JSON after all (it is meant to have been parsed): nothing found, rather than a wrong place
    if (text.charCodeAt(at) !== 34) return undefined
    const keyEnd = stringEnd(text, at)
    if (keyEnd === -1) return undefined
    const name = text.slice(at + 1, keyEnd)
    if (name.includes("\\")) return undefined
    at = keyEnd + 1
    skipSpace()
    if (text.charCodeAt(at) !== 58) return undefined
    at++
    skipSpace()
    const end = valueEnd(text, at)
    if (name === key) {
      if (found !== undefined || text.charCodeAt(at) !== 34) return undefined
      found = { start: at, end }
    }
    at = end
    skipSpace()
    const next = text.charCodeAt(at)
    if (next === 44) at++
    else if (next !== 125) return undefined
  }
}
