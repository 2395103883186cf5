/**
 * `web_search` (Orka's schema: `{query, limit = 5}`) over a pluggable backend chosen by the operator:
 * SearXNG's JSON API, Brave Search, Tavily, or Orka's generic `GET <url>?q=&limit=` with a bearer key.
 * Every backend answers the same shape: `{results: [{title, url, snippet}]}`.
 * The backend is the operator's own choice of endpoint, so it is not subject to the address policy.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { SearchBackendName } from "../config.ts"
import type { Builtin } from "./builtin.ts"
import { ToolFailure } from "./failure.ts"

export const webSearchTool = {
  name: "web_search",
  description: "Search the web and return the top results (title, URL, snippet).",
  params: Schema.Struct({
    query: Schema.NonEmptyString.annotate({ description: "What to search for" }),
    limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 })).annotate({ description: "How many results (default 5)" }))
  })
} satisfies Builtin<Schema.Top>


export interface SearchBackendConfig {
  readonly backend: SearchBackendName
  /** the API endpoint (defaults for Brave and Tavily) */
  readonly url: string | undefined
  readonly apiKey: string | undefined
  readonly timeoutMs: number
}

export interface SearchResult {
  readonly title: string
  readonly url: string
  readonly snippet: string
}

type Json = Record<string, unknown>

interface Request {
  readonly url: string
  readonly init: RequestInit
  readonly results: (body: Json) => ReadonlyArray<Json>
  readonly map: (item: Json) => SearchResult
}

const str = (v: unknown) => (typeof v === "string" ? v : "")

const request = (config: SearchBackendConfig, query: string, limit: number): Request => {
  const key = config.apiKey ?? ""
  switch (config.backend) {
    case "searxng": {
      const url = new URL(`${(config.url ?? "").replace(/\/+$/, "")}/search`)
      url.search = new URLSearchParams({ q: query, format: "json" }).toString()
      return {
        url: url.toString(),
        init: { headers: key === "" ? {} : { authorization: `Bearer ${key}` } },
        results: (b) => (Array.isArray(b["results"]) ? b["results"] as Array<Json> : []),
        map: (r) => ({ title: str(r["title"]), url: str(r["url"]), snippet: str(r["content"]) })
      }
    }
    case "brave": {
      const url = new URL(config.url ?? "https://api.search.brave.com/res/v1/web/search")
      url.search = new URLSearchParams({ q: query, count: String(limit) }).toString()
      return {
        url: url.toString(),
        init: { headers: { "x-subscription-token": key, accept: "application/json" } },
        results: (b) => (((b["web"] ?? {}) as Json)["results"] as Array<Json> | undefined) ?? [],
        map: (r) => ({ title: str(r["title"]), url: str(r["url"]), snippet: str(r["description"]) })
      }
    }
    case "tavily":
      return {
        url: config.url ?? "https://api.tavily.com/search",
        init: {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: JSON.stringify({ query, max_results: limit })
        },
        results: (b) => (Array.isArray(b["results"]) ? b["results"] as Array<Json> : []),
        map: (r) => ({ title: str(r["title"]), url: str(r["url"]), snippet: str(r["content"]) })
      }
    case "generic": {
      const url = new URL(config.url ?? "")
      url.searchParams.set("q", query)
      url.searchParams.set("limit", String(limit))
      return {
        url: url.toString(),
        init: { headers: key === "" ? {} : { authorization: `Bearer ${key}` } },
        results: (b) => (Array.isArray(b["results"]) ? b["results"] as Array<Json> : Array.isArray(b) ? b as Array<Json> : []),
        map: (r) => ({ title: str(r["title"]), url: str(r["url"] ?? r["link"]), snippet: str(r["snippet"] ?? r["content"] ?? r["description"]) })
      }
    }
  }
}

export const webSearch = (
  config: SearchBackendConfig,
  args: typeof webSearchTool.params.Type
): Effect.Effect<{ readonly results: ReadonlyArray<SearchResult> }, ToolFailure> => {
  const limit = Math.min(Math.max(args.limit ?? 5, 1), 20)
  const req = request(config, args.query, limit)
  return Effect.tryPromise({
    try: async (signal) => {
      const res = await fetch(req.url, { ...req.init, signal: AbortSignal.any([signal, AbortSignal.timeout(config.timeoutMs)]) })
      // the key never goes back to the model, even in an error
      if (!res.ok) throw new ToolFailure(`the ${config.backend} search backend answered HTTP ${res.status}`)
      const body = (await res.json()) as Json
      return { results: req.results(body).slice(0, limit).map(req.map) }
    },
    catch: (e) => e instanceof ToolFailure ? e : new ToolFailure(`the ${config.backend} search backend could not be reached`)
  })
}
