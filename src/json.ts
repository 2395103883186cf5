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
