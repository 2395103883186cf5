/**
 * RESP2 as the gateway writes and reads it: commands with multi-byte text, every kind of reply, and
 * replies cut at every byte (a socket hands over whatever arrived).
 */
import { describe, expect, it } from "vitest"
import { encodeCommands, type Reply, ReplyError, ReplyParser } from "../../src/store/resp.ts"

const readAll = (chunks: ReadonlyArray<Buffer>): Array<Reply> => {
  const replies: Array<Reply> = []
  const parser = new ReplyParser((reply) => replies.push(reply))
  for (const chunk of chunks) parser.feed(chunk)
  return replies
}

/** A reply for every kind, one after another, as one connection would send them. */
const wire = Buffer.from(
  "+OK\r\n" +
    "-NOSCRIPT No matching script. Please use EVAL.\r\n" +
    ":-42\r\n" +
    "$5\r\nhé\r\n\r\n" + // 5 bytes: "hé" is 3, then a CRLF inside the value
    "$0\r\n\r\n" +
    "$-1\r\n" +
    "*-1\r\n" +
    "*0\r\n" +
    "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+QUEUED\r\n"
)
const expected: ReadonlyArray<Reply> = [
  "OK",
  new ReplyError("NOSCRIPT No matching script. Please use EVAL."),
  -42,
  "hé\r\n",
  "",
  null,
  null,
  [],
  [1, ["a", null], "QUEUED"]
]

describe("RESP", () => {
  it("writes a command as an array of bulk strings, lengths in bytes", () => {
    expect(encodeCommands([["SET", "k", "héllo", "PX", 1500], ["GET", "k"]])).toBe(
      "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nhéllo\r\n$2\r\nPX\r\n$4\r\n1500\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    )
  })

  it("reads every kind of reply, in order", () => {
    const replies = readAll([wire])
    expect(replies).toEqual(expected)
    expect(replies[1]).toBeInstanceOf(ReplyError)
  })

  it("reads the same replies however the bytes are cut", () => {
    for (let cut = 1; cut < wire.length; cut++) {
      expect(readAll([wire.subarray(0, cut), wire.subarray(cut)])).toEqual(expected)
    }
    expect(readAll([...wire].map((byte) => Buffer.from([byte])))).toEqual(expected)
  })

  it("puts a long value together from many chunks", () => {
    const value = "é".repeat(3_000_000)
    const bytes = Buffer.from(`$${Buffer.byteLength(value)}\r\n${value}\r\n:7\r\n`)
    const chunks = Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536))
    const replies = readAll(chunks)
    expect(replies).toHaveLength(2)
    expect(replies[0] === value).toBe(true)
    expect(replies[1]).toBe(7)
  })

  it("gives up on bytes that are not RESP", () => {
    const parser = new ReplyParser(() => {})
    expect(() => parser.feed(Buffer.from("HTTP/1.1 400 Bad Request\r\n"))).toThrow(/not a RESP reply/)
  })
})
