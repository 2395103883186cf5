/**
 * A provider's event stream relayed to its client as Node streams relay bytes: the whole events of
 * each chunk the provider's body gives are handed on as they come, with no Effect stage per chunk,
 * and backpressure is the client socket's. What changes on the way is what `rewrite` changes of its
 * events (the model id) and the secrets the boundary masks (`maskWith`). Its last few KiB are kept
 * (references to the chunks, no copy) so that how it ended can be checked when it ends: a stream cut
 * short must not reach the client as a clean finish, and one that fails midway ends with the
 * failure's event. With a `watch`, its chunks are looked at until the first that holds output, and
 * its ends are read once the request ends.
 */
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Readable, type Writable } from "node:stream"
import type { GatewayError } from "../errors.ts"
import type { NodeBody } from "../llm/upstream.ts"
import { type ByteMask, chunkMasker, type ChunkMasker } from "../mask-bytes.ts"
import { sseOptions } from "./sse.ts"
import { type ChunkRewriter, longestHeldEvent } from "./sse-rewrite.ts"

export interface RelayEnd {
  /** the last event for a stream that failed midway, in the client's dialect */
  readonly onError: (error: GatewayError) => string
  /**
   * What to append to a stream that ended, given its last bytes (and whether they are the whole
   * stream): nothing when it ended whole, else an error event (or a missing terminator).
   */
  readonly onEnd: (tail: string, fromStart: boolean) => string | undefined
  /** how many of the stream's last bytes `onEnd` needs (more than its last events take) */
  readonly tailBytes: number
}

/** What a relayed stream tells its request's note, read from its bytes. */
export interface RelayWatch {
  /** whether a chunk (latin1 text) holds the model's output, not only the stream's opening events */
  readonly holdsContent: (text: string) => boolean
  /** the first chunk that does */
  readonly firstContent: () => void
  /** `read` once the request ends, however (the client may have gone) */
  readonly atEnd: (read: () => void) => void
  /** the stream's first chunk ("" when the last bytes hold it) and its last bytes */
  readonly ended: (head: string, tail: string) => void
}

/** How a relayed stream was over: read to its end (an error event included), or left by its client. */
export type RelayOutcome = "completed" | "client_closed"

const LF = 10
const CR = 13

/** Where the line ending that ends at `end` starts (CRLF, LF or CR), or -1 when `end` follows no line ending. */
const lineEndingBefore = (bytes: Uint8Array, end: number): number => {
  const last = bytes[end - 1]
  if (last === LF) return end >= 2 && bytes[end - 2] === CR ? end - 2 : end - 1
  return last === CR ? end - 1 : -1
}

/**
 * Where the last whole event in `bytes` ends (just after its blank line), 0 when none does: usually
 * found at once, at the end. None ends at or before `after` (the bytes held before).
 */
const lastEventEnd = (bytes: Uint8Array, after: number): number => {
  for (let end = bytes.length; end > after && end >= 2; end--) {
    const start = lineEndingBefore(bytes, end)
    if (start > 0 && lineEndingBefore(bytes, start) >= 0) return end
  }
  return 0
}

const textOf = (bytes: Uint8Array, encoding: "utf8" | "latin1") => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding)

/** The relayed stream itself, as the response's body: the boundary masks it and hears when it is over. */
export class RelayBody extends Readable {
  /** the last chunks sent, by reference */
  private readonly tail: Array<Uint8Array> = []
  private kept = 0
  /** whether chunks from the start were let go */
  private dropped = false
  private head: Uint8Array | undefined
  private seenContent: boolean
  /** whether the client's side wants more (since `_read`, until a push says its buffer is full) */
  private wanted = false
  private reading = false
  private finished = false
  private masker: ChunkMasker | undefined
  /** the start of an event whose blank line has not come yet: a client cannot use half an event, nor be sent one cut short */
  private partial: Uint8Array | undefined
  /** the client's connection, once piped to a response */
  private socket: Writable | undefined
  private corked = false
  private readonly overListeners: Array<(outcome: RelayOutcome) => void> = []
  private readonly source: NodeBody
  private readonly end: RelayEnd
  private readonly rewrite: ChunkRewriter | undefined
  private readonly watch: RelayWatch | undefined

  constructor(source: NodeBody, end: RelayEnd, rewrite: ChunkRewriter | undefined, watch: RelayWatch | undefined) {
    super()
    this.source = source
    this.end = end
    this.rewrite = rewrite
    this.watch = watch
    this.seenContent = watch === undefined
    watch?.atEnd(() => {
      // a tail that holds the stream from its start holds its first chunk too: read once
      const head = this.head === undefined || !this.dropped ? "" : textOf(this.head.subarray(0, end.tailBytes), "utf8")
      watch.ended(head, Buffer.concat(this.tail).toString("utf8"))
    })
    // listened to at once: a body may fail (gone silent, cut) before the client reads anything
    source.readable.on("error", this.failed)
    source.readable.on("end", this.ended)
  }

  /** Secrets masked out of every byte sent (set before the body is read). */
  maskWith(mask: ByteMask): void {
    if (mask.secrets.length > 0) this.masker = chunkMasker(mask)
  }

  /** `listener` once, when the stream is over: before the last of it is written, or when its client left. */
  whenOver(listener: (outcome: RelayOutcome) => void): void {
    this.overListeners.push(listener)
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    this.socket = (destination as { readonly socket?: Writable | null }).socket ?? undefined
    return super.pipe(destination, options)
  }

  /**
   * The client's connection corked until this turn's ticks are done: what a turn sends leaves in one
   * write, together with the response's end when the provider's body ended with it (the pipe
   * ends the response a tick later, and that uncorks it). Each write to a socket is a system call,
   * dear next to a chunk's relay. The socket, not the response: a response corked while it ends
   * writes its last chunk after its terminator.
   */
  private corkForThisTurn(): void {
    if (this.corked || this.socket === undefined) return
    this.corked = true
    this.socket.cork()
    queueMicrotask(this.uncork)
  }

  private readonly uncork = (): void => {
    this.corked = false
    // once the response ended, its end has uncorked the socket already: this does nothing
    if ((this.socket?.writableCorked ?? 0) > 0) this.socket!.uncork()
  }

  override _read(): void {
    this.wanted = true
    if (!this.reading) {
      this.reading = true
      this.source.readable.on("readable", this.readAvailable)
    }
    this.readAvailable()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.finished) {
      this.finished = true
      this.source.readable.off("readable", this.readAvailable)
      this.source.release()
      this.over("client_closed")
    }
    callback(error)
  }

  /**
   * What the provider's body holds, read while the client wants more: all that is buffered comes as
   * one chunk (a burst of events the provider wrote one by one, read together), and leaves in one write.
   */
  private readonly readAvailable = (): void => {
    while (this.wanted && !this.finished) {
      const chunk = this.source.readable.read() as Buffer | null
      if (chunk === null) return
      const sent = this.rewrite === undefined ? chunk : this.rewrite.chunk(chunk)
      const whole = sent === undefined ? undefined : this.wholeEvents(sent)
      if (whole !== undefined) this.send(this.keep(whole))
    }
  }

  /** The whole events of what came so far; the start of the next is held until its blank line comes. */
  private wholeEvents(chunk: Uint8Array): Uint8Array | undefined {
    const held = this.partial?.length ?? 0
    const bytes = this.partial === undefined ? chunk : Buffer.concat([this.partial, chunk])
    const end = lastEventEnd(bytes, held)
    this.partial = undefined
    if (end === bytes.length || bytes.length - end > longestHeldEvent) return bytes
    this.partial = bytes.subarray(end)
    return end === 0 ? undefined : bytes.subarray(0, end)
  }

  private readonly ended = (): void => {
    if (this.finished) return
    // an unfinished last event goes too: some clients use it, and the dialect's end says whether it is whole
    const rest = this.rewrite?.end()
    const last = rest === undefined ? this.partial : this.partial === undefined ? rest : Buffer.concat([this.partial, rest])
    this.partial = undefined
    if (last !== undefined) this.send(this.keep(last))
    const extra = this.end.onEnd(Buffer.concat(this.tail).toString("utf8"), !this.dropped)
    if (extra !== undefined) this.send(Buffer.from(extra, "utf8"))
    this.close()
  }

  private readonly failed = (error: unknown): void => {
    if (this.finished) return
    // the failure as the stream's last event, after the last whole one: what is held back is not one
    this.rewrite?.end()
    this.partial = undefined
    const frame = this.end.onError(this.source.failure(error))
    this.send(Buffer.from(this.endsEvent() ? frame : `\n\n${frame}`, "utf8"))
    this.close()
  }

  /** `chunk` kept in the tail (and looked at for the first output), as it is sent. */
  private keep(chunk: Uint8Array): Uint8Array {
    this.head ??= chunk
    if (!this.seenContent && this.watch!.holdsContent(textOf(chunk, "latin1"))) {
      this.seenContent = true
      this.watch!.firstContent()
    }
    this.tail.push(chunk)
    this.kept += chunk.length
    while (this.tail.length > 1 && this.kept - this.tail[0]!.length >= this.end.tailBytes) {
      this.kept -= this.tail.shift()!.length
      this.dropped = true
    }
    return chunk
  }

  private send(chunk: Uint8Array): void {
    this.corkForThisTurn()
    const out = this.masker === undefined ? chunk : this.masker.chunk(chunk)
    // the client reads slower than the provider writes: the provider waits until `_read`
    if (out !== undefined && !this.push(out)) this.wanted = false
  }

  private close(): void {
    this.corkForThisTurn()
    this.finished = true
    const rest = this.masker?.end()
    if (rest !== undefined) this.push(rest)
    this.over("completed")
    this.push(null)
  }

  private over(outcome: RelayOutcome): void {
    for (const listener of this.overListeners.splice(0)) listener(outcome)
  }

  /** Whether what was sent so far ends at the end of an event (a blank line), or nothing was. */
  private endsEvent(): boolean {
    if (this.tail.length === 0) return true
    const last = Buffer.concat(this.tail.slice(-4)).subarray(-4).toString("latin1")
    return last.endsWith("\n\n") || last.endsWith("\r\n\r\n") || last.endsWith("\r\r")
  }
}

/** A provider's event stream relayed to the client as a response (see RelayBody). */
export const relay = (
  source: NodeBody,
  end: RelayEnd,
  options: { readonly rewrite?: ChunkRewriter; readonly watch?: RelayWatch | undefined } = {}
): HttpServerResponse.HttpServerResponse => HttpServerResponse.raw(new RelayBody(source, end, options.rewrite, options.watch), sseOptions)
