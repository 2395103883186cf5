import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import type { SearchBackendName } from "../../src/config.ts"
import { webSearch } from "../../src/tools/web-search.ts"

/** One fake per backend, answering in that backend's real response shape. */
const answers: Record<SearchBackendName, unknown> = {
  searxng: { query: "q", results: [{ title: "S1", url: "https://s/1", content: "searx snippet", engine: "ddg" }, { title: "S2", url: "https://s/2", content: "two" }] },
  brave: { type: "search", web: { type: "search", results: [{ title: "B1", url: "https://b/1", description: "brave snippet" }] } },
  tavily: { query: "q", results: [{ title: "T1", url: "https://t/1", content: "tavily snippet", score: 0.9 }] },
  generic: { results: [{ title: "G1", link: "https://g/1", snippet: "generic snippet" }] }
}

type Seen = Array<{ req: IncomingMessage; body: string }>

const withServer = <A, E>(status: number, use: (url: string, seen: Seen, reply: (body: unknown) => void) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => {
      const seen: Array<{ req: IncomingMessage; body: string }> = []
      let reply: unknown = {}
      const server = createServer((req, res) => {
        let body = ""
        req.on("data", (c: Buffer) => (body += c.toString()))
        req.on("end", () => {
          seen.push({ req, body })
          res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(reply))
        })
      })
      return new Promise<{ server: typeof server; seen: typeof seen; set: (r: unknown) => void }>((r) =>
        server.listen(0, "127.0.0.1", () => r({ server, seen, set: (x) => (reply = x) })))
    }),
    ({ seen, server, set }) => Effect.suspend(() => use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, set)),
    ({ server }) => Effect.promise(() => new Promise<void>((r) => server.close(() => r())))
  )

describe("web_search backends", () => {
  it.live("speak each backend's API and normalize its answer", () =>
    withServer(200, (base, seen, setReply) =>
      Effect.gen(function*() {
        const cases: Array<[SearchBackendName, string]> = [["searxng", base], ["brave", `${base}/res/v1/web/search`], ["tavily", `${base}/search`], ["generic", `${base}/api/search`]]
        for (const [backend, url] of cases) {
          setReply(answers[backend])
          const out = yield* webSearch({ backend, url, apiKey: "secret-key", timeoutMs: 2000 }, { query: "effect 4", limit: 1 })
          expect(out.results, backend).toHaveLength(1)
          expect(out.results[0]!.snippet).toContain("snippet")
          expect(out.results[0]!.url).toMatch(/^https:\/\//)
        }
        const [searx, brave, tavily, generic] = seen
        expect(searx!.req.url).toBe("/search?q=effect+4&format=json")
        expect(brave!.req.url).toBe("/res/v1/web/search?q=effect+4&count=1")
        expect(brave!.req.headers["x-subscription-token"]).toBe("secret-key")
        expect(tavily!.req.method).toBe("POST")
        expect(JSON.parse(tavily!.body)).toEqual({ query: "effect 4", max_results: 1 })
        expect(generic!.req.url).toBe("/api/search?q=effect+4&limit=1")
        expect(generic!.req.headers["authorization"]).toBe("Bearer secret-key")
      })))

  it.live("reports a failing backend without its key", () =>
    withServer(401, (base) =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(webSearch({ backend: "generic", url: base, apiKey: "secret-key", timeoutMs: 2000 }, { query: "x" }))
        expect(e.message).toBe("the generic search backend answered HTTP 401")
        const down = yield* Effect.flip(webSearch({ backend: "searxng", url: "http://127.0.0.1:1", apiKey: undefined, timeoutMs: 2000 }, { query: "x" }))
        expect(down.message).not.toContain("secret")
      })))
})
