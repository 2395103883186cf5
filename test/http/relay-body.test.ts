import { describe, expect, it } from "vitest"
import { createServer, get } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Readable, Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { relayed as anthropicRelay } from "../../src/dialect/anthropic/relayed.ts"
import { gatewayError } from "../../src/errors.ts"
import { RelayBody, type RelayOutcome } from "../../src/http/relay-body.ts"
import { eventRewriter } from "../../src/http/sse-rewrite.ts"
import { byteMask } from "../../src/mask-bytes.ts"

const end = { onError: anthropicRelay.errorFrame, onEnd: anthropicRelay.onEnd("claude"), tailBytes: anthropicRelay.tailBytes }
const event = (i: number) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"w${i} "}}\n\n`
const whole = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-test\"}}\n\n" + event(0) +
  "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\n" +
  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

/** A provider's body pushed by the test, and how often the relay let it go. */
const source = (read: () => void = () => {}) => {
  const readable = new Readable({ read })
  const body = { readable, failure: () => gatewayError("upstream", "the connection to provider claude broke mid-response"), release: () => void body.released++, released: 0 }
  return body
}

const relayOf = (body: ReturnType<typeof source>, options: { rewrite?: boolean; secrets?: Array<string>; anyEnd?: boolean } = {}) => {
  const relay = new RelayBody(body, options.anyEnd === true ? { ...end, onEnd: () => undefined } : end, options.rewrite === true ? eventRewriter(anthropicRelay.echoModel("claude/claude-test")) : undefined, undefined)
  if (options.secrets !== undefined) relay.maskWith(byteMask(options.secrets))
  const outcomes: Array<RelayOutcome> = []
  relay.whenOver((outcome) => outcomes.push(outcome))
  return { relay, outcomes }
}

/** A client that writes down each write it gets. */
const client = () => {
  const writes: Array<Buffer> = []
  const sink = new Writable({ write: (chunk: Buffer, _, done) => (writes.push(chunk), done()) })
  return { sink, writes, text: () => Buffer.concat(writes).toString("utf8") }
}

const turn = () => new Promise((r) => setImmediate(r))

describe("RelayBody", () => {
  it("relays a whole stream with the client's model id, and is over once, completed, before its end is written", async () => {
    const body = source()
    const { relay, outcomes } = relayOf(body, { rewrite: true })
    const to = client()
    const overBeforeFinish: Array<boolean> = []
    relay.whenOver(() => overBeforeFinish.push(!to.sink.writableFinished))
    const done = pipeline(relay, to.sink)
    body.readable.push(whole)
    body.readable.push(null)
    await done
    expect(to.text()).toBe(whole.replace('"claude-test"', '"claude/claude-test"'))
    expect(outcomes).toEqual(["completed"])
    expect(overBeforeFinish).toEqual([true])
    expect(body.released).toBe(0)
  })

  it("what the provider wrote in a burst, read together, leaves in one write", async () => {
    const body = source()
    const { relay } = relayOf(body, { rewrite: true })
    const to = client()
    const events = Array.from({ length: 50 }, (_, i) => event(i))
    for (const e of events) body.readable.push(e)
    const done = pipeline(relay, to.sink)
    await turn()
    expect(to.writes).toHaveLength(1)
    expect(to.text()).toBe(events.join(""))
    body.readable.push(null)
    await done
  })

  it("a stream cut short ends with an error event; one that fails midway with the failure's, after its last whole event", async () => {
    const cut = source()
    const first = relayOf(cut)
    const toCut = client()
    const cutDone = pipeline(first.relay, toCut.sink)
    cut.readable.push(whole.slice(0, whole.indexOf("event: message_stop")))
    cut.readable.push(null)
    await cutDone
    expect(toCut.text().slice(toCut.text().lastIndexOf("event: "))).toMatch(/^event: error\ndata: \{"type":"error","error":\{[^\n]*ended before/)
    expect(first.outcomes).toEqual(["completed"])

    const broken = source()
    const second = relayOf(broken)
    const toBroken = client()
    const brokenDone = pipeline(second.relay, toBroken.sink)
    const cutAt = whole.indexOf("event: message_delta")
    broken.readable.push(whole.slice(0, cutAt + 40))
    await turn()
    broken.readable.destroy(new Error("socket hang up"))
    await brokenDone
    // the half event never reached the client: it would read it as an event whose data is not JSON
    expect(toBroken.text().slice(0, cutAt)).toBe(whole.slice(0, cutAt))
    expect(toBroken.text().slice(cutAt)).toMatch(/^event: error\ndata: \{"type":"error","error":\{[^\n]*broke mid-response[^\n]*\}\}\n\n$/)
    expect(second.outcomes).toEqual(["completed"])
  })

  it("an event leaves once its blank line has come, whatever the line endings and however the bytes are cut", async () => {
    for (const ending of ["\n", "\r\n", "\r"]) {
      const events = [event(1), event(2), event(3)].map((e) => e.replaceAll("\n", ending)).join("")
      for (const size of [1, 2, 3, 7, 40]) {
        const body = source()
        const { relay } = relayOf(body, { anyEnd: true })
        const to = client()
        const done = pipeline(relay, to.sink)
        for (let at = 0; at < events.length; at += size) {
          body.readable.push(events.slice(at, at + size))
          await turn()
          // what the client has is whole events, the last ending with its blank line (a CR may wait for an LF)
          const text = to.text()
          expect(events.startsWith(text)).toBe(true)
          if (text !== "") expect(text.endsWith(ending + ending) || (ending === "\r\n" && text.endsWith("\r\n\r"))).toBe(true)
        }
        body.readable.push(null)
        await done
        expect(to.text()).toBe(events)
      }
    }
  })

  it("an event longer than a megabyte without its blank line passes as it comes", async () => {
    const body = source()
    const { relay } = relayOf(body, { anyEnd: true })
    const to = client()
    const done = pipeline(relay, to.sink)
    const huge = `data: ${"x".repeat(1024 * 1024)}`
    body.readable.push(huge.slice(0, 600_000))
    await turn()
    expect(to.text()).toBe("")
    body.readable.push(huge.slice(600_000))
    await turn()
    expect(to.text()).toBe(huge)
    body.readable.push("\n\n")
    body.readable.push(null)
    await done
  })

  it("a provider that fails before the client reads anything: its error waits for the client, nothing is thrown", async () => {
    const body = source()
    const { relay } = relayOf(body)
    body.readable.destroy(new Error("went silent"))
    await turn()
    const to = client()
    await pipeline(relay, to.sink)
    expect(to.text()).toMatch(/^event: error\n/)
  })

  it("a client that leaves: the provider's body is let go, and the stream is over as the client's closing", async () => {
    const body = source()
    const { relay, outcomes } = relayOf(body)
    const to = client()
    const done = pipeline(relay, to.sink).catch((e: unknown) => e)
    body.readable.push(event(1))
    await turn()
    to.sink.destroy()
    expect(await done).toBeInstanceOf(Error)
    expect(outcomes).toEqual(["client_closed"])
    expect(body.released).toBe(1)
    body.readable.push(event(2)) // read by the release, not relayed
    await turn()
    expect(to.text()).toBe(event(1))
  })

  it("a client slower than its provider holds the provider back, then gets every byte in order", async () => {
    const chunk = (i: number) => Buffer.from(`data: ${String(i).padStart(6, "0")}${"x".repeat(16_370)}\n\n`)
    let made = 0
    const body = source(() => {
      if (made < 200) body.readable.push(chunk(made++))
      else body.readable.push(null)
    })
    const { relay } = relayOf(body, { anyEnd: true })
    // a client that takes nothing until told to
    let go: () => void = () => {}
    const started = new Promise<void>((r) => (go = r))
    const got: Array<Buffer> = []
    const sink = new Writable({
      highWaterMark: 1,
      write: (data: Buffer, _, done) => {
        got.push(data)
        void started.then(() => done())
      }
    })
    const done = pipeline(relay, sink)
    for (let i = 0; i < 20; i++) await turn()
    // the client holds one write; the relay and the provider's body hold at most their buffers' worth
    expect(made).toBeLessThan(20)
    go()
    await done
    expect(made).toBe(200)
    expect(Buffer.concat(got).equals(Buffer.concat(Array.from({ length: 200 }, (_, i) => chunk(i))))).toBe(true)
  })

  it("masks a secret split across the provider's chunks", async () => {
    const body = source()
    const { relay } = relayOf(body, { secrets: ["sk-ant-secret-1234"] })
    const to = client()
    const done = pipeline(relay, to.sink)
    body.readable.push("data: {\"echo\":\"sk-ant-se")
    await turn()
    body.readable.push("cret-1234\"}\n\n")
    body.readable.push(null)
    await done
    expect(to.text()).not.toContain("sk-ant")
    expect(to.text()).not.toContain("secret-1234")
  })

  it("over HTTP: a read's bytes leave in one write, with the response's end when the provider ended with them", async () => {
    /** the system calls' worth of writes the server's socket made, and what the client got */
    const serve = (feed: (body: ReturnType<typeof source>) => void) =>
      new Promise<{ writes: number; text: string }>((resolve) => {
        let writes = 0
        const server = createServer((req, res) => {
          // what the socket hands the kernel, a batch at a time (Writable's implementer methods)
          const socket = req.socket as Socket & { _write: Function; _writev: Function }
          const [write, writev] = [socket._write, socket._writev]
          socket._write = function(...args: Array<unknown>) { writes++; return write.apply(this, args) }
          socket._writev = function(...args: Array<unknown>) { writes++; return writev.apply(this, args) }
          res.writeHead(200, { "content-type": "text/event-stream" })
          const body = source()
          void pipeline(relayOf(body, { anyEnd: true }).relay, res)
          feed(body)
        })
        server.listen(0, "127.0.0.1", () => {
          get({ port: (server.address() as AddressInfo).port, host: "127.0.0.1" }, (res) => {
            let text = ""
            res.on("data", (d: Buffer) => (text += d.toString()))
            res.on("end", () => server.close(() => resolve({ writes, text })))
          })
        })
      })
    const events = [event(1), event(2), event(3)]
    const atOnce = await serve((body) => {
      for (const e of events) body.readable.push(e)
      body.readable.push(null)
    })
    expect(atOnce.text).toBe(events.join(""))
    expect(atOnce.writes).toBe(1)
    // a body that ends a turn later: its last bytes have left by then, and the end goes on its own
    const later = await serve((body) => {
      for (const e of events) body.readable.push(e)
      setTimeout(() => body.readable.push(null), 20)
    })
    expect(later.text).toBe(events.join(""))
    expect(later.writes).toBe(2)
  })
})
