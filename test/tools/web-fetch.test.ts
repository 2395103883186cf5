import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { htmlToText } from "../../src/tools/html-text.ts"
import { addressPolicy, type Resolver } from "../../src/tools/ssrf.ts"
import { defaultLimits, webFetch } from "../../src/tools/web-fetch.ts"

// The test site lives on 127.0.0.1, so that one address is allowed; the rest of loopback is not.
const policy = addressPolicy({ allowed: ["127.0.0.1/32"], blocked: ["10.96.0.0/12"] })
const resolver: Resolver = (hostname, callback) => {
  const table: Record<string, string> = { "site.test": "127.0.0.1", "internal.test": "10.0.0.5", "svc.test": "10.96.0.10", "sneaky.test": "::ffff:127.0.0.2" }
  const address = table[hostname]
  if (address === undefined) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), [])
  callback(null, [{ address, family: address.includes(":") ? 6 : 4 }])
}
const limits = { ...defaultLimits, resolve: resolver, maxBytes: 64 * 1024 }

const withSite = <A, E>(use: (base: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => {
      const server = createServer((req, res) => {
        if (req.url === "/page") {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" })
          return res.end(`<html><head><title>A &amp; B</title><script>evil()</script></head><body><nav>menu</nav><h1>Hello</h1><p>First&nbsp;para with <a href="https://x.test/doc">a link</a>.</p><ul><li>one</li><li>two</li></ul></body></html>`)
        }
        if (req.url?.startsWith("/to")) {
          res.writeHead(302, { location: decodeURIComponent(req.url.slice(4)) })
          return res.end()
        }
        if (req.url === "/big") {
          res.writeHead(200, { "content-type": "text/plain" })
          return res.end("x".repeat(200 * 1024))
        }
        res.writeHead(404).end()
      })
      return new Promise<typeof server>((r) => server.listen(0, "127.0.0.1", () => r(server)))
    }),
    (server) => use(`http://site.test:${(server.address() as AddressInfo).port}`),
    (server) => Effect.promise(() => new Promise<void>((r) => server.close(() => r())))
  )

const refused = (url: string) => Effect.flip(webFetch({ url }, policy, limits)).pipe(Effect.map((e) => e.message))

describe("web_fetch", () => {
  it.live("returns readable text with the title, following redirects", () =>
    withSite((base) =>
      Effect.gen(function*() {
        const page = yield* webFetch({ url: `${base}/to/${encodeURIComponent(`${base}/page`)}` }, policy, limits)
        expect(page).toMatchObject({ status: 200, title: "A & B", truncated: false, url: `${base}/page` })
        expect(page.content).toBe("Hello\n\nFirst para with a link (https://x.test/doc).\n\none\n\ntwo")
        const raw = yield* webFetch({ url: `${base}/page`, raw: true, max_chars: 20 }, policy, limits)
        expect(raw).toMatchObject({ content: "<html><head><title>A", truncated: true })
        const big = yield* webFetch({ url: `${base}/big`, max_chars: 1_000_000 }, policy, limits)
        expect(big.content.length).toBe(64 * 1024)
        expect(big.truncated).toBe(true)
      })))

  it.live("refuses every form of a refused address, names that resolve to one, and redirects to one", () =>
    withSite((base) =>
      Effect.gen(function*() {
        const strict = addressPolicy()
        const deny = (url: string) => Effect.flip(webFetch({ url }, strict, limits)).pipe(Effect.map((e) => e.message))
        for (const url of ["http://127.0.0.1/", "http://[::1]/", "http://2130706433/", "http://0x7f.0.0.1/", "http://017700000001/", "http://169.254.169.254/latest/meta-data", "http://[::ffff:127.0.0.1]/", "http://10.1.2.3/"]) {
          expect(yield* deny(url), url).toMatch(/may not reach/)
        }
        expect(yield* refused("http://internal.test/")).toContain("internal.test resolves to 10.0.0.5")
        expect(yield* refused("http://svc.test/")).toContain("10.96.0.10") // the cluster's service range
        expect(yield* refused("http://sneaky.test/")).toContain("may not reach")
        expect(yield* refused(`${base}/to/${encodeURIComponent("http://internal.test/secret")}`)).toContain("10.0.0.5")
        expect(yield* refused(`${base}/to/${encodeURIComponent("http://127.0.0.2:1/")}`)).toContain("may not reach")
        expect(yield* refused("file:///etc/passwd")).toContain("only http and https")
        expect(yield* refused("http://user:pw@site.test/")).toContain("credentials")
      })))
})

describe("htmlToText", () => {
  it("decodes entities and keeps table cells apart", () => {
    expect(htmlToText("<table><tr><td>a</td><td>&#x263A;</td></tr></table>").text).toBe("| a | ☺")
  })
})
