/**
 * One string field of a JSON text replaced, every other byte kept: how a passed-through answer gets
 * the model id the client asked for without being re-encoded. The field is found by its path of
 * object keys from the root (`["model"]`, `["message", "model"]`), so a `model` key inside a tool's
 * arguments or any nested value is never touched.
 */

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13

const skipSpace = (text: string, i: number): number => {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++
  return i
}

/**
 * The index just after the string that starts (with its quote) at `i`, or -1 when it does not end.
 * Found with `indexOf`: a long text costs by its quotes, not its characters.
 */
const stringEnd = (text: string, i: number): number => {
  let j = i
  for (;;) {
    j = text.indexOf("\"", j + 1)
    if (j === -1) return -1
    let backslashes = 0
    while (text.charCodeAt(j - 1 - backslashes) === 92) backslashes++
    if (backslashes % 2 === 0) return j + 1
  }
}

/** The index just after the value that starts at `i`, or -1 when it does not end. */
const valueEnd = (text: string, i: number): number => {
  const first = text.charCodeAt(i)
  if (first === 34) return stringEnd(text, i)
  if (first !== 123 && first !== 91) {
    let j = i
    while (j < text.length) {
      const c = text.charCodeAt(j)
      if (c === 44 || c === 125 || c === 93 || isSpace(c)) break
      j++
    }
    return j
  }
  let depth = 0
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j)
    if (c === 34) {
      j = stringEnd(text, j) - 1
      if (j < 0) return -1
    } else if (c === 123 || c === 91) depth++
    else if ((c === 125 || c === 93) && --depth === 0) return j + 1
  }
  return -1
}

const keyOf = (raw: string): string => (raw.includes("\\") ? (JSON.parse(raw) as string) : raw.slice(1, -1))

/**
 * Each member of the object that starts at `i`, in order, until `visit` says to stop: true when the
 * object was read to its end or stopped, false when the text is not such an object.
 */
const eachMember = (text: string, i: number, visit: (key: string, start: number, end: number) => boolean): boolean => {
  if (text.charCodeAt(i) !== 123) return false
  let j = skipSpace(text, i + 1)
  while (j < text.length && text.charCodeAt(j) !== 125) {
    if (text.charCodeAt(j) !== 34) return false
    const keyEnd = stringEnd(text, j)
    if (keyEnd < 0) return false
    const key = keyOf(text.slice(j, keyEnd))
    j = skipSpace(text, keyEnd)
    if (text.charCodeAt(j) !== 58) return false
    const start = skipSpace(text, j + 1)
    const end = valueEnd(text, start)
    if (end < 0) return false
    if (visit(key, start, end)) return true
    j = skipSpace(text, end)
    if (text.charCodeAt(j) === 44) j = skipSpace(text, j + 1)
    else if (text.charCodeAt(j) !== 125) return false
  }
  return j < text.length
}

/** Where the value at `path` is in the object that starts at `i`: [start, end), or undefined. */
const locate = (text: string, i: number, path: ReadonlyArray<string>): readonly [number, number] | undefined => {
  let found: readonly [number, number] | undefined
  eachMember(text, i, (key, start, end) => {
    if (key !== path[0]) return false
    found = path.length === 1 ? [start, end] : locate(text, start, path.slice(1))
    return true
  })
  return found
}

/**
 * Where the string of the top-level member `key` is in a JSON object's text, quotes included, when the
 * object has that member once and reads to its end: JSON.parse reads the last of several, so a text
 * with several is not one to change in place.
 */
export const soleStringFieldAt = (json: string, key: string): readonly [number, number] | undefined => {
  let found: readonly [number, number] | undefined
  let twice = false
  const whole = eachMember(json, skipSpace(json, 0), (name, start, end) => {
    if (name !== key) return false
    twice = found !== undefined
    found = [start, end]
    return twice
  })
  return !whole || twice || found === undefined || json.charCodeAt(found[0]) !== 34 ? undefined : found
}

/** Where the string at `path` is, quotes included, from the first `{` on: [start, end), or undefined. */
export const stringFieldAt = (json: string, path: ReadonlyArray<string>): readonly [number, number] | undefined => {
  const at = locate(json, json.indexOf("{"), path)
  return at === undefined || json.charCodeAt(at[0]) !== 34 ? undefined : at
}

/** `json` with the string at `at` replaced by `value` (itself when it is that already), or undefined. */
const replacedAt = (json: string, at: readonly [number, number] | undefined, value: string): string | undefined => {
  if (at === undefined) return undefined
  const [start, end] = at
  const replacement = JSON.stringify(value)
  return json.slice(start, end) === replacement ? json : json.slice(0, start) + replacement + json.slice(end)
}

/**
 * `json` with the string at `path` replaced by `value`, from the first `{` on (so an SSE event's
 * `data: ` prefix may come before it); undefined when there is no such string field.
 */
export const replaceStringField = (json: string, path: ReadonlyArray<string>, value: string): string | undefined =>
  replacedAt(json, stringFieldAt(json, path), value)

/** `json` with the string of its sole top-level member `key` replaced by `value` (`soleStringFieldAt`), or undefined. */
export const replaceSoleStringField = (json: string, key: string, value: string): string | undefined =>
  replacedAt(json, soleStringFieldAt(json, key), value)
