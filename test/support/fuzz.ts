/**
 * A seeded generator of hostile HTTP requests for a front door: valid requests mutated in every way
 * a careless or malicious client can (wrong types, huge numbers, deep nesting, long strings, unknown
 * roles, `__proto__` keys, invalid UTF-8, truncated JSON, odd methods, paths, content types and
 * encodings). The same seed gives the same requests, so a failure can be replayed.
 */

/** mulberry32: small, fast, good enough to drive a fuzzer. */
export const random = (seed: number) => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(items: ReadonlyArray<T>): T => items[int(items.length)]!
  const chance = (p: number) => next() < p
  return { next, int, pick, chance }
}
export type Random = ReturnType<typeof random>

const strings = (r: Random): string =>
  r.pick([
    () => "",
    () => "hi",
    () => "x".repeat(r.pick([1000, 70_000])),
    () => "🦜 ünïcødé \u0000 \u2028 \ud800",
    () => "<script>alert(1)</script>",
    () => "../../etc/passwd",
    () => "%ZZ%00",
    () => String.fromCharCode(...Array.from({ length: 20 }, () => r.int(0xffff)))
  ])()

/** Any JSON value, biased towards the ones parsers and codecs get wrong. */
export const anyJson = (r: Random, depth = 0): unknown => {
  const kinds = depth > 3 ? 6 : 9
  switch (r.int(kinds)) {
    case 0:
      return null
    case 1:
      return r.chance(0.5)
    case 2:
      return r.pick([0, -0, 1, -1, 1.5, 2 ** 53 + 1, 1e308, -1e308, 5e-324, 4096, 1e21])
    case 3:
    case 4:
      return strings(r)
    case 5:
      return r.pick([[], {}, "user", "assistant", "system", "tool", "text", "image", "function"])
    case 6:
      return Array.from({ length: r.int(4) }, () => anyJson(r, depth + 1))
    default: {
      const out: Record<string, unknown> = {}
      for (let i = r.int(4); i > 0; i--) out[r.pick(["type", "text", "role", "content", "__proto__", "constructor", "name", "x"])] = anyJson(r, depth + 1)
      return out
    }
  }
}

const setAt = (r: Random, target: unknown, value: unknown): void => {
  // walk down a random path of objects and arrays, then replace, add or delete something there
  let node = target
  for (let i = r.int(4); i > 0; i--) {
    const children = node !== null && typeof node === "object" ? Object.values(node).filter((v) => v !== null && typeof v === "object") : []
    if (children.length === 0) break
    node = r.pick(children)
  }
  if (node === null || typeof node !== "object") return
  const keys = Object.keys(node)
  const key = keys.length > 0 && r.chance(0.7) ? r.pick(keys) : r.pick(["__proto__", "constructor", "extra", "0", "max_tokens", "stream"])
  if (r.chance(0.2)) delete (node as Record<string, unknown>)[key]
  else if (key === "__proto__") Object.defineProperty(node, key, { value, enumerable: true, configurable: true, writable: true })
  else (node as Record<string, unknown>)[key] = value
}

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth)

/** The body bytes: `valid` as it is (then `intact`), a mutation of it, or something that is not JSON at all. */
export const body = (r: Random, valid: () => Record<string, unknown>): { readonly bytes: Buffer; readonly intact: boolean } => {
  const roll = r.next()
  if (roll < 0.3) return { bytes: Buffer.from(JSON.stringify(valid())), intact: true }
  return { bytes: mutated(r, valid, roll), intact: false }
}

const mutated = (r: Random, valid: () => Record<string, unknown>, roll: number): Buffer => {
  if (roll < 0.65) {
    const b = valid()
    for (let i = 1 + r.int(3); i > 0; i--) setAt(r, b, anyJson(r))
    return Buffer.from(JSON.stringify(b))
  }
  const text = JSON.stringify(valid())
  return r.pick([
    () => Buffer.from(text.slice(0, r.int(text.length))), // truncated
    () => Buffer.from(text.replace(`"messages"`, `"messages":${nested(r.pick([65, 500, 10_000]))},"x"`)), // deep where it is checked
    () => Buffer.from(`{"extra":${nested(r.pick([65, 10_000, 100_000]))},${text.slice(1)}`), // deep where nothing looks
    () => Buffer.concat([Buffer.from(text.slice(0, 20)), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0]), Buffer.from(text.slice(20))]), // invalid UTF-8
    () => Buffer.from(JSON.stringify(anyJson(r))), // any JSON, probably not an object
    () => Buffer.from(""),
    () => Buffer.from("   \n"),
    () => Buffer.from(`{"model": "mock-1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e400}`),
    () => Buffer.from(text.replace(`"user"`, JSON.stringify(strings(r)))), // unknown role
    () => Buffer.from(`{"__proto__": {"admin": true}, "constructor": {"prototype": {}}, ${text.slice(1)}`),
    () => Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3]) // a gzip header, with content-encoding: gzip sometimes
  ])()
}

export interface FuzzRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: Buffer
  /** a well-formed request any client could send: it must be answered with a 2xx */
  readonly valid: boolean
}

/** One request for the door at `path`, whose valid bodies `valid` makes. */
export const request = (r: Random, door: string, valid: () => Record<string, unknown>, token: string): FuzzRequest => {
  const method = r.chance(0.9) ? "POST" : r.pick(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"])
  const path = r.chance(0.85) ? door : r.pick([
    `${door}/`,
    `${door}?x=%ZZ&y=${"a".repeat(3000)}`,
    `${door.replace("/v1/", "//v1/")}`,
    `${door}/%ZZ`,
    `${door}%00`,
    `${door.toUpperCase()}`,
    `/${"a".repeat(2000)}`,
    `${door}/../../metrics`
  ])
  const headers: Record<string, string> = {}
  const auth = r.next()
  if (auth < 0.45) headers["authorization"] = `Bearer ${token}`
  else if (auth < 0.9) headers["x-api-key"] = token
  else if (auth < 0.95) headers["authorization"] = r.pick([`Basic ${token}`, "Bearer", "Bearer a b", `Bearer ${"x".repeat(5000)}`])
  if (r.chance(0.9)) {
    headers["content-type"] = r.pick(["application/json", "application/json", "text/plain", "application/json; charset=latin1", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"])
  }
  const encoded = r.chance(0.05)
  if (encoded) headers["content-encoding"] = r.pick(["gzip", "br", "identity"])
  const tools = r.chance(0.1) ? r.pick(["enabled", "DISABLED", "maybe", ""]) : undefined
  if (tools !== undefined) headers["x-orka-tools"] = tools
  if (r.chance(0.05)) headers["anthropic-version"] = r.pick(["2023-06-01", "bogus", "9999-99-99"])
  if (r.chance(0.05)) headers["x-request-id"] = r.pick(["abc", "x".repeat(500), "é"])
  const sent = method === "GET" || method === "OPTIONS" ? { bytes: Buffer.alloc(0), intact: false } : body(r, valid)
  const valid_ = sent.intact && method === "POST" && path === door && auth < 0.9 && !encoded && tools !== "maybe"
  return { method, path, headers, body: sent.bytes, valid: valid_ }
}
