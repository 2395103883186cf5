/**
 * RESP2, Redis's wire format, for what the gateway sends and reads: a command is an array of bulk
 * strings; a reply is a simple string, an error, an integer, a bulk string (null when absent) or an
 * array of replies.
 */

/** An error reply (`-ERR …`): the command failed, the connection is fine. */
export class ReplyError extends Error {
  override readonly name = "ReplyError"
}

export type Reply = string | number | null | ReplyError | ReadonlyArray<Reply>

export type Command = ReadonlyArray<string | number>

/** The commands as they are written to the socket, in one piece. */
export const encodeCommands = (commands: ReadonlyArray<Command>): string => {
  let out = ""
  for (const command of commands) {
    out += `*${command.length}\r\n`
    for (const arg of command) {
      const text = typeof arg === "string" ? arg : String(arg)
      out += `$${Buffer.byteLength(text)}\r\n${text}\r\n`
    }
  }
  return out
}

const CR = 13

/** Returned by `parse` when the data ends before the reply does. */
const incomplete = Symbol("incomplete")

/**
 * Reads replies from a connection's chunks, in order. A reply split across chunks waits for the rest;
 * a long bulk string is put together once it has all arrived, not copied chunk by chunk.
 */
export class ReplyParser {
  private chunks: Array<Buffer> = []
  private buffered = 0
  /** bytes needed before the reply at the front can be complete */
  private needed = 0
  /** where the reply being read ends; set by `parse` */
  private end = 0

  private readonly onReply: (reply: Reply) => void

  constructor(onReply: (reply: Reply) => void) {
    this.onReply = onReply
  }

  feed(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    if (this.buffered < this.needed) return
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered)
    let at = 0
    while (at < data.length) {
      this.needed = data.length - at + 1
      const reply = this.parse(data, at, at)
      if (reply === incomplete) break
      at = this.end
      this.onReply(reply)
    }
    const rest = data.subarray(at)
    this.chunks = rest.length === 0 ? [] : [rest]
    this.buffered = rest.length
    if (rest.length === 0) this.needed = 0
  }

  /** The reply starting at `at` (its end in `this.end`), or `incomplete`; `start` is where the front reply began. */
  private parse(data: Buffer, at: number, start: number): Reply | typeof incomplete {
    const lineEnd = data.indexOf(CR, at + 1)
    if (lineEnd === -1 || lineEnd + 1 >= data.length) return incomplete
    const line = data.toString("latin1", at + 1, lineEnd)
    const next = lineEnd + 2
    switch (data[at]) {
      case 43: // +
        this.end = next
        return line
      case 45: // -
        this.end = next
        return new ReplyError(data.toString("utf8", at + 1, lineEnd))
      case 58: // :
        this.end = next
        return Number(line)
      case 36: { // $
        const length = Number(line)
        if (length < 0) {
          this.end = next
          return null
        }
        if (next + length + 2 > data.length) {
          this.needed = next + length + 2 - start
          return incomplete
        }
        this.end = next + length + 2
        return data.toString("utf8", next, next + length)
      }
      case 42: { // *
        const count = Number(line)
        if (count < 0) {
          this.end = next
          return null
        }
        const items: Array<Reply> = []
        let item = next
        for (let i = 0; i < count; i++) {
          if (item >= data.length) return incomplete
          const reply = this.parse(data, item, start)
          if (reply === incomplete) return incomplete
          items.push(reply)
          item = this.end
        }
        this.end = item
        return items
      }
      default:
        throw new ReplyError(`not a RESP reply: ${JSON.stringify(data.toString("latin1", at, Math.min(lineEnd, at + 40)))}`)
    }
  }
}
