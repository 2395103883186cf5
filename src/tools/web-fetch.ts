/**
 * `web_fetch` (Orka's schema: `{url, max_chars = 50000, raw}`): GET a URL and return readable text.
 * Bounded in size and time, and SSRF-safe: only http(s), every hop of a redirect re-checked, and the
 * address policy applied to the address actually dialed (see ssrf.ts).
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { request as httpRequest, type IncomingMessage } from "node:http"
import { request as httpsRequest } from "node:https"
import { type AddressPolicy, guardedLookup, RefusedAddress, type Resolver } from "./ssrf.ts"
import type { Builtin } from "./builtin.ts"
import { ToolFailure } from "./failure.ts"
import { htmlToText } from "./html-text.ts"

export const webFetchTool = {
  name: "web_fetch",
  description: "Fetch a web page or document by URL and return its readable text.",
  params: Schema.Struct({
    url: Schema.NonEmptyString.annotate({ description: "The http(s) URL to fetch" }),
    max_chars: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).annotate({ description: "Most characters to return (default 50000)" })),
    raw: Schema.optionalKey(Schema.Boolean.annotate({ description: "Return the body as received instead of readable text" }))
  })
} satisfies Builtin<Schema.Top>

export interface WebFetchLimits {
  /** the most bytes read from a response */
  readonly maxBytes: number
  readonly timeoutMs: number
  readonly maxRedirects: number
  readonly resolve?: Resolver
}

export const defaultLimits: WebFetchLimits = { maxBytes: 5 * 1024 * 1024, timeoutMs: 20_000, maxRedirects: 5 }

export interface WebFetchResult {
  readonly url: string
  readonly status: number
  readonly content_type: string
  readonly title?: string
  readonly content: string
  readonly truncated: boolean
}


interface RawResponse {
  readonly status: number
  readonly headers: IncomingMessage["headers"]
  readonly body: Buffer
  readonly truncated: boolean
}

const get = (url: URL, policy: AddressPolicy, limits: WebFetchLimits, signal: AbortSignal) =>
  new Promise<RawResponse>((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest
    const req = send(url, {
      method: "GET",
      lookup: guardedLookup(policy, limits.resolve) as never,
      signal,
      timeout: limits.timeoutMs,
      headers: { "user-agent": "orka-gateway web_fetch", accept: "text/html, text/plain, application/json, */*;q=0.5" }
    }, (res) => {
      const chunks: Array<Buffer> = []
      let size = 0
      let truncated = false
      res.on("data", (chunk: Buffer) => {
        if (truncated) return
        size += chunk.length
        if (size > limits.maxBytes) {
          truncated = true
          chunks.push(chunk.subarray(0, chunk.length - (size - limits.maxBytes)))
          res.destroy()
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated })
          return
        }
        chunks.push(chunk)
      })
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated }))
      res.on("error", reject)
    })
    req.on("timeout", () => req.destroy(new ToolFailure(`no answer from ${url.host} within ${limits.timeoutMs} ms`)))
    req.on("error", reject)
    req.end()
  })

/** Only http(s) URLs whose host is not a refused literal address (names are checked at lookup). */
const checkUrl = (raw: string, policy: AddressPolicy): URL => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ToolFailure(`not a valid URL: ${raw}`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ToolFailure(`only http and https URLs can be fetched, not ${url.protocol}`)
  if (url.username !== "" || url.password !== "") throw new ToolFailure("URLs with credentials are not fetched")
  // WHATWG URL parsing already turned decimal, octal and hex IPv4 forms into dotted quads
  const host = url.hostname.replace(/^\[|\]$/g, "")
  if (/^[\d.]+$/.test(host) || host.includes(":")) {
    if (policy.refuses(host)) throw new ToolFailure(`${host} is an address tools may not reach`)
  }
  return url
}

export const webFetch = (
  args: typeof webFetchTool.params.Type,
  policy: AddressPolicy,
  limits: WebFetchLimits = defaultLimits
): Effect.Effect<WebFetchResult, ToolFailure> =>
  Effect.tryPromise({
    try: async (signal) => {
      let url = checkUrl(args.url, policy)
      for (let hop = 0; ; hop++) {
        const res = await get(url, policy, limits, signal)
        const location = res.headers.location
        if (res.status >= 300 && res.status < 400 && location !== undefined) {
          if (hop >= limits.maxRedirects) throw new ToolFailure(`more than ${limits.maxRedirects} redirects`)
          url = checkUrl(new URL(location, url).toString(), policy)
          continue
        }
        const contentType = res.headers["content-type"] ?? ""
        const text = res.body.toString("utf8")
        const readable = !args.raw && /html/i.test(contentType) ? htmlToText(text) : { text, title: undefined }
        const max = args.max_chars ?? 50_000
        return {
          url: url.toString(),
          status: res.status,
          content_type: contentType,
          ...(readable.title === undefined ? {} : { title: readable.title }),
          content: readable.text.slice(0, max),
          truncated: res.truncated || readable.text.length > max
        }
      }
    },
    catch: (e) =>
      e instanceof ToolFailure
        ? e
        : e instanceof RefusedAddress || (e as { cause?: unknown }).cause instanceof RefusedAddress
        ? new ToolFailure((e as Error).message)
        : new ToolFailure(`fetching ${args.url} failed: ${e instanceof Error ? e.message : String(e)}`)
  })
