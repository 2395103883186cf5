/**
 * A loopback server that answers `POST <path>` with one canned answer, for feeding what the gateway
 * writes to an official SDK's own parser; it records the request bodies. Scoped: closed with the test.
 */
import { Effect } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface Served {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

/** `base` is what the SDK's `baseURL` must be (the path up to where the SDK adds its own). */
export const serveCanned = (path: string, base: string, answer: Served) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly baseURL: string; readonly requests: Array<unknown>; readonly close: () => void }>((resume) => {
      const requests: Array<unknown> = []
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          if (req.method !== "POST" || req.url !== path) {
            res.writeHead(404).end()
            return
          }
          requests.push(JSON.parse(Buffer.concat(chunks).toString("utf8")))
          res.writeHead(answer.status, answer.headers).end(answer.body)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ baseURL: `http://127.0.0.1:${port}${base}`, requests, close: () => server.close() }))
      })
    }),
    (server) => Effect.sync(server.close)
  )
