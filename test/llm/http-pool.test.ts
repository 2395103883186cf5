import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { makeHttpPool } from "../../src/llm/http-pool.ts"

/** A provider that streams `events` frames, `gapMs` apart, and counts the connections it was opened. */
const provider = (events: number, gapMs: number) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ server: Server; url: string; connections: () => number; closed: () => number }>((resolve) => {
        let connections = 0
        let closed = 0
        const server = createServer((req, res) => {
          req.resume()
          res.writeHead(200, { "content-type": "text/event-stream" })
          let sent = 0
          const next = () => {
            if (res.destroyed) return
            if (sent === events) return void res.end()
            res.write(`data: ${sent++}\n\n`)
            setTimeout(next, gapMs)
          }
          res.on("close", () => void (res.writableFinished || closed++))
          next()
        })
        server.on("connection", () => void connections++)
        server.listen(0, "127.0.0.1", () =>
          resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, connections: () => connections, closed: () => closed }))
      })
    ),
    ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  )

const text = (chunk: Uint8Array) => Buffer.from(chunk).toString()

/** A provider answering every request with `body` after `delayMs`, telling each request it saw closed before its answer. */
const answering = (body: Buffer, delayMs = 0) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ server: Server; url: string; abandoned: () => number }>((resolve) => {
        let abandoned = 0
        const server = createServer((req, res) => {
          req.resume()
          res.on("close", () => void (res.writableFinished || abandoned++))
          setTimeout(() => res.destroyed || res.end(body), delayMs)
        })
        server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, abandoned: () => abandoned }))
      })
    ),
    ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  )

describe("HttpPool", () => {
  it.live("a stream left after its last event keeps its connection for the next request", () =>
    Effect.gen(function*() {
      const up = yield* provider(3, 0)
      const pool = yield* makeHttpPool({ headersTimeout: 2000, bodyTimeout: 2000 })
      for (let i = 0; i < 5; i++) {
        const response = yield* pool.post(up.url, {}, "{}")
        // as a decoder does: it stops at the answer's last event, before the body's end is read
        yield* Stream.runDrain(Stream.takeUntil(response.stream, (chunk) => text(chunk).includes("data: 2")))
        yield* Effect.sleep(20)
      }
      expect(up.connections()).toBe(1)
      expect(up.closed()).toBe(0)
    }).pipe(Effect.scoped))

  it.live("a stream left midway is dropped, which stops the provider", () =>
    Effect.gen(function*() {
      const up = yield* provider(1000, 50)
      const pool = yield* makeHttpPool({ headersTimeout: 2000, bodyTimeout: 2000 })
      const response = yield* pool.post(up.url, {}, "{}")
      yield* Stream.runDrain(Stream.take(response.stream, 1))
      yield* Effect.sleep(500)
      expect(up.closed()).toBe(1)
    }).pipe(Effect.scoped))

  it.live("the body-idle limit fails a silent stream", () =>
    Effect.gen(function*() {
      const up = yield* provider(3, 1000)
      const pool = yield* makeHttpPool({ headersTimeout: 2000, bodyTimeout: 300 })
      const response = yield* pool.post(up.url, {}, "{}")
      const failure = yield* Effect.flip(Stream.runDrain(response.stream))
      expect(failure.reason).toBe("body_timeout")
    }).pipe(Effect.scoped))

  it.live("a whole body is read intact, small or larger than what is held before a reader comes", () =>
    Effect.gen(function*() {
      const large = Buffer.alloc(1024 * 1024, "abcdefgh")
      const up = yield* answering(large)
      const pool = yield* makeHttpPool({ headersTimeout: 2000, bodyTimeout: 2000 })
      const whole = yield* Effect.flatMap(pool.post(up.url, {}, "{}"), (response) => response.whole)
      expect(whole.equals(large)).toBe(true)
      // read late: the body waited, paused, and arrives whole as a stream
      const response = yield* pool.post(up.url, {}, "{}")
      yield* Effect.sleep(100)
      const chunks = yield* Stream.runCollect(response.stream)
      expect(Buffer.concat(chunks).equals(large)).toBe(true)
    }).pipe(Effect.scoped))

  it.live("a provider that cannot be reached fails with the connection's code", () =>
    Effect.gen(function*() {
      const pool = yield* makeHttpPool({ headersTimeout: 2000, bodyTimeout: 2000 })
      const failure = yield* Effect.flip(pool.post("http://127.0.0.1:1/v1", {}, "{}"))
      expect([failure.reason, failure.detail]).toEqual(["transport", "ECONNREFUSED"])
    }).pipe(Effect.scoped))

  it.live("a request interrupted before its answer, or while its body is read, is dropped at the provider", () =>
    Effect.gen(function*() {
      const up = yield* answering(Buffer.from("{}"), 300)
      const pool = yield* makeHttpPool({ headersTimeout: 2000, bodyTimeout: 2000 })
      yield* Effect.timeoutOption(pool.post(up.url, {}, "{}"), 50)
      yield* Effect.sleep(100)
      expect(up.abandoned()).toBe(1)
      const streaming = yield* provider(1000, 50)
      const response = yield* pool.post(streaming.url, {}, "{}")
      yield* Effect.timeoutOption(response.whole, 100)
      yield* Effect.sleep(100)
      expect(streaming.closed()).toBe(1)
    }).pipe(Effect.scoped))
})
