import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import type { Tool } from "../../src/kube/tool-resource.ts"
import { fillUrl, httpToolDefinition, parseDuration, runHttpTool } from "../../src/tools/http-tool.ts"

const tool = (http: NonNullable<Tool["spec"]["http"]>): Tool => ({
  apiVersion: "core.orka.ai/v1alpha1",
  kind: "Tool",
  metadata: { name: "ticket" },
  spec: { description: "Look up a ticket", parameters: { type: "object", properties: { id: { type: "string" } } }, http }
})

const withServer = <A, E>(use: (base: string, seen: Array<{ req: IncomingMessage; body: string }>) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => {
      const seen: Array<{ req: IncomingMessage; body: string }> = []
      const server = createServer((req, res) => {
        let body = ""
        req.on("data", (c: Buffer) => (body += c.toString()))
        req.on("end", () => {
          seen.push({ req, body })
          if (req.url?.startsWith("/slow")) return
          if (req.url?.startsWith("/fail")) return res.writeHead(500).end(`upstream said ${req.headers.authorization}`)
          if (req.url?.startsWith("/echo")) return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ headers: req.headers, body }))
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, url: req.url }))
        })
      })
      return new Promise<{ server: typeof server; seen: typeof seen }>((r) => server.listen(0, "127.0.0.1", () => r({ server, seen })))
    }),
    ({ seen, server }) => use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen),
    ({ server }) => Effect.promise(() => {
      server.closeAllConnections()
      return new Promise<void>((r) => server.close(() => r()))
    })
  )

describe("custom HTTP tools", () => {
  it("fills placeholders outside the host only, URL-encoded", () => {
    expect(fillUrl("https://api.test/tickets/{{id}}?q={{ q }}", { id: "a/b", q: "x y" })).toEqual({ url: "https://api.test/tickets/a%2Fb?q=x%20y", used: new Set(["id", "q"]) })
    // path values are escaped as Go's url.PathEscape does (Orka's behaviour); query values cannot add parameters
    expect(fillUrl("https://api.test/{{id}}?q={{q}}", { id: "a:b@c;d,e?f", q: "x&admin=1" }).url).toBe("https://api.test/a:b@c%3Bd%2Ce%3Ff?q=x%26admin%3D1")
    expect(() => fillUrl("https://{{host}}.test/x", { host: "evil" })).toThrow("host")
    expect(() => fillUrl("https://api.test/{{id}}", {})).toThrow("missing argument \"id\"")
    expect(parseDuration("2m", 1)).toBe(120_000)
    expect(parseDuration("1m30s", 1)).toBe(90_000)
    expect(parseDuration("1.5h", 1)).toBe(5_400_000)
    expect(parseDuration("soon", 7)).toBe(7)
    expect(httpToolDefinition(tool({ url: "https://x" }))).toMatchObject({ name: "ticket", description: "Look up a ticket" })
  })

  it.live("sends the arguments with the key in a header or the body", () =>
    withServer((base, seen) =>
      Effect.gen(function*() {
        const out = yield* runHttpTool(tool({ url: `${base}/tickets/{{id}}`, headers: { "x-team": "a" } }), { id: "T-1" }, "tool-secret")
        expect(out).toEqual({ ok: true, url: "/tickets/T-1" })
        expect(seen[0]!.req.method).toBe("POST")
        expect(seen[0]!.req.headers["authorization"]).toBe("Bearer tool-secret")
        expect(seen[0]!.req.headers["x-team"]).toBe("a")
        // what filled the URL is not sent again in the body
        expect(JSON.parse(seen[0]!.body)).toEqual({})

        yield* runHttpTool(tool({ url: `${base}/b`, authInject: "body", authBodyKey: "token" }), { id: "T-2" }, "tool-secret")
        expect(JSON.parse(seen[1]!.body)).toEqual({ id: "T-2", token: "tool-secret" })
        expect(seen[1]!.req.headers["authorization"]).toBeUndefined()

        yield* runHttpTool(tool({ url: `${base}/get?id={{id}}`, method: "GET" }), { id: "T-3" }, undefined)
        expect(seen[2]!.req.url).toBe("/get?id=T-3")

        // what the tool answers, an echo of the key included, is masked by the server tools (server-tools.test.ts)
        const failed = yield* Effect.flip(runHttpTool(tool({ url: `${base}/fail` }), {}, undefined))
        expect(failed.message).toBe("the tool answered HTTP 500: upstream said undefined")
        const slow = yield* Effect.flip(runHttpTool(tool({ url: `${base}/slow`, timeout: "200ms" }), {}, undefined))
        expect(slow.message).toBe("the tool did not answer within 200ms")
      })))
})
