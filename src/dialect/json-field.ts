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

/** The index just after the string that starts (with its quote) at `i`, or -1 when it does not end. */
const stringEnd = (text: string, i: number): number => {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j)
    if (c === 92) j++
    else if (c === 34) return j + 1
  }
  return -1
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

/** Where the value at `path` is in the object that starts at `i`: [start, end), or undefined. */
const locate = (text: string, i: number, path: ReadonlyArray<string>): readonly [number, number] | undefined => {
  if (text.charCodeAt(i) !== 123) return undefined
  let j = skipSpace(text, i + 1)
  while (j < text.length && text.charCodeAt(j) !== 125) {
    if (text.charCodeAt(j) !== 34) return undefined
    const keyEnd = stringEnd(text, j)
    if (keyEnd < 0) return undefined
    const key = keyOf(text.slice(j, keyEnd))
    j = skipSpace(text, keyEnd)
    if (text.charCodeAt(j) !== 58) return undefined
    const start = skipSpace(text, j + 1)
    const end = valueEnd(text, start)
    if (end < 0) return undefined
    if (key === path[0]) return path.length === 1 ? [start, end] : locate(text, start, path.slice(1))
    j = skipSpace(text, end)
    if (text.charCodeAt(j) === 44) j = skipSpace(text, j + 1)
  }
  return undefined
}

/** Where the string at `path` is, quotes included, from the first `{` on: [start, end), or undefined. */
export const stringFieldAt = (json: string, path: ReadonlyArray<string>): readonly [number, number] | undefined => {
  const at = locate(json, json.indexOf("{"), path)
  return at === undefined || json.charCodeAt(at[0]) !== 34 ? undefined : at
}

/**
 * `json` with the string at `path` replaced by `value`, from the first `{` on (so an SSE event's
 * `data: ` prefix may come before it); undefined when there is no such string field.
 */
export const replaceStringField = (json: string, path: ReadonlyArray<string>, value: string): string | undefined => {
  const at = stringFieldAt(json, path)
  if (at === undefined) return undefined
  const [start, end] = at
  const replacement = JSON.stringify(value)
  return json.slice(start, end) === replacement ? json : json.slice(0, start) + replacement + json.slice(end)
}
