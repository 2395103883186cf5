import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { createServer, request } from "node:http"
import { connect } from "node:net"
import { readJsonBody } from "../../src/http/body.ts"

const limit = 64 * 1024
let url = ""
let port = 0
let scope: Scope.Closeable
/** what the route's read ended as, the last first */
const reads: Array<string> = []

beforeAll(async () => {
  const route = HttpRouter.add("POST", "/read", Effect.gen(function*() {
    const read = yield* Effect.exit(readJsonBody(limit, 8).pipe(
      // the request's fiber is interrupted when its client goes away: noted on the way out
      Effect.onExit((exit) => Effect.sync(() => reads.unshift(Exit.isSuccess(exit) ? "read" : Exit.hasInterrupts(exit) ? "interrupted" : "failed")))
    ))
    return Exit.isSuccess(read)
      ? HttpServerResponse.jsonUnsafe(read.value)
      : HttpServerResponse.jsonUnsafe({ error: String(Exit.isFailure(read) ? read.cause : "") }, { status: 400 })
  }))
  const layer = HttpRouter.serve(route, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => createServer(), { host: "127.0.0.1", port: 0 }))
  )
  scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag === "UnixPathAddress") throw new Error("expected a TCP address")
  port = address.port
  url = `http://127.0.0.1:${port}/read`
})

afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

/** A POST whose body is written in `parts`, with the headers given (and no content-length unless given). */
const post = (parts: ReadonlyArray<Buffer | string>, headers: Record<string, string>) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method: "POST", headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString("utf8") }))
    })
    req.on("error", reject)
    const write = (i: number): void => {
      if (i === parts.length) return void req.end()
      req.write(parts[i]!)
      setTimeout(() => write(i + 1), 5)
    }
    if (headers.expect === undefined) write(0)
    else req.on("continue", () => write(0))
  })

describe("readJsonBody", () => {
  it("reads a body of declared length that arrives in pieces, a character split between them, to its value and length", async () => {
    const text = JSON.stringify({ messages: [{ role: "user", content: "héllo ✓ wörld" }] })
    const bytes = Buffer.from(text)
    const cut = bytes.indexOf(Buffer.from("✓")) + 1
    const answer = await post([bytes.subarray(0, cut), bytes.subarray(cut)], { "content-type": "application/json", "content-length": String(bytes.length) })
    expect(answer.status).toBe(200)
    expect(JSON.parse(answer.body)).toEqual({ value: JSON.parse(text), text, chars: text.length })
  })

  it("reads a chunked body, and refuses one past the limit as too large", async () => {
    const small = await post(["{\"a\":", "1}"], { "content-type": "application/json", "transfer-encoding": "chunked" })
    expect(small).toMatchObject({ status: 200, body: JSON.stringify({ value: { a: 1 }, text: "{\"a\":1}", chars: 7 }) })
    const big = await post([`{"a":"${"x".repeat(limit)}`, "\"}"], { "content-type": "application/json", "transfer-encoding": "chunked" })
    expect(big.status).toBe(400)
    expect(big.body).toContain("larger than the limit")
  })

  it("answers a client that waits for 100 Continue before it sends the body", async () => {
    const answer = await post(["{\"b\":2}"], { "content-type": "application/json", "content-length": "7", expect: "100-continue" })
    expect(answer).toMatchObject({ status: 200, body: JSON.stringify({ value: { b: 2 }, text: "{\"b\":2}", chars: 7 }) })
  })

  it("a declared length past the limit is refused before it is read", async () => {
    const answer = await post(["{}"], { "content-type": "application/json", "content-length": String(limit + 1) }).catch(() => ({ status: 0, body: "" }))
    expect(reads[0]).toBe("failed")
    if (answer.status !== 0) expect(answer.body).toContain("larger than the limit")
  })

  it("a client that goes away halfway through its body leaves no read waiting", async () => {
    const before = reads.length
    const socket = connect(port, "127.0.0.1")
    await new Promise((resolve) => socket.once("connect", resolve))
    socket.write("POST /read HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"half\":")
    await new Promise((r) => setTimeout(r, 50))
    // still waiting for the rest
    expect(reads.length).toBe(before)
    socket.destroy()
    for (let waited = 0; reads.length === before && waited < 2000; waited += 10) await new Promise((r) => setTimeout(r, 10))
    expect(reads.length).toBe(before + 1)
    expect(["failed", "interrupted"]).toContain(reads[0])
  })
})
