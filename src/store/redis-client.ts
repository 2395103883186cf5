/**
 * One connection to the Redis of --redis-url, for one use (stored responses, limit counters): one
 * socket speaking RESP (./resp.ts), commands pipelined and answered in order. A limit check's
 * command is written to the socket in the call that issues it.
 *
 * Making it neither waits for Redis nor fails without it: it connects in the background (AUTH and
 * SELECT from the URL, TLS for `rediss://`, then a PING) and reconnects by itself. A request never
 * waits on a Redis that is away: while disconnected, commands fail at once (but those sent during
 * the first attempt wait for it); on a live connection, they time out after `commandTimeout`, and a
 * reply that comes later is read and dropped, so the next ones stay in order; a connection whose
 * oldest command has gone unanswered for `deadAfter` is closed and made anew, and so is one on which
 * Redis refuses a write as a read-only replica (a failover). The log says when an
 * outage starts and when it ends, once each, naming the server without its credentials.
 */
import { createHash } from "node:crypto"
import { connect as netConnect, isIP, type Socket } from "node:net"
import { connect as tlsConnect } from "node:tls"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Redactor } from "../redact.ts"
import { type Command, encodeCommands, type Reply, ReplyError, ReplyParser } from "./resp.ts"
import { redisTargetOf, withoutCredentials } from "../redis-url.ts"

export { withoutCredentials }

export interface RedisConnectionOptions {
  /** `redis://[[user]:password@]host:port[/db]`, `rediss://` for TLS */
  readonly url: string
  /** milliseconds a command may take before it fails */
  readonly commandTimeout: number
  /**
   * milliseconds a command may go unanswered before the connection is taken for dead and made anew
   * (default 5 s, at least four timeouts): a Redis gone without closing it (a failed-over host, a
   * dropped network) would otherwise hold every command to its timeout until TCP gives up
   */
  readonly deadAfter?: number
  /** the warning logged when an outage starts, and the line when it ends */
  readonly down: string
  readonly back: string
}

/** Redis gave no answer: away, too slow, or the connection dropped meanwhile. */
export class RedisUnavailable extends Error {
  override readonly name = "RedisUnavailable"
}

export type RedisFailure = RedisUnavailable | ReplyError

export interface RedisConnection {
  /** commands written together; their replies in order, error replies among them as `ReplyError`s */
  readonly send: (commands: ReadonlyArray<Command>) => Effect.Effect<ReadonlyArray<Reply>, RedisUnavailable>
  /** one command; an error reply fails it */
  readonly command: (command: Command) => Effect.Effect<Reply, RedisFailure>
  /** a Lua script, called by its digest (EVALSHA), sent whole when the server does not have it yet */
  readonly script: (lua: string) => (keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) => Effect.Effect<Reply, RedisFailure>
}

const connectTimeoutMs = 5000
const reconnectDelayMs = (attempt: number) => Math.min(attempt * 100, 1000)

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!

/** Commands written together, waiting for their replies. */
interface Pending {
  readonly count: number
  readonly replies: Array<Reply>
  /** when it times out (ms since the epoch); the handshake has the connect timeout instead */
  readonly deadline: number
  /** called once, with the replies or why they will not come; cleared then (and when its caller left) */
  done: ((result: ReadonlyArray<Reply> | RedisUnavailable) => void) | undefined
}

interface Link {
  readonly socket: Socket
  readonly queue: Array<Pending>
  /** the handshake answered: commands may be sent */
  ready: boolean
}

const readOnly = "Redis answered as a read-only replica"
const isReadOnly = (reply: Reply) => reply instanceof ReplyError && reply.message.startsWith("READONLY")

const settle = (pending: Pending, result: ReadonlyArray<Reply> | RedisUnavailable) => {
  const done = pending.done
  pending.done = undefined
  done?.(result)
}

export const connectRedis = (options: RedisConnectionOptions): Effect.Effect<RedisConnection, never, Scope.Scope> =>
  Effect.gen(function*() {
    const target = redisTargetOf(options.url)
    const redis = withoutCredentials(options.url)
    const redactor = yield* Effect.serviceOption(Redactor)
    if (Option.isSome(redactor)) redactor.value.register("redis", [target.password])
    const run = Effect.runForkWith(yield* Effect.context<never>())

    let down = false
    const wentDown = (error: unknown) => {
      if (down) return
      down = true
      run(Effect.logWarning(options.down).pipe(Effect.annotateLogs({ redis, error: describe(error) })))
    }
    const cameBack = () => {
      if (!down) return
      down = false
      run(Effect.logInfo(options.back).pipe(Effect.annotateLogs({ redis })))
    }

    let current: Link | undefined
    /** until the first connection attempt ends, commands queue behind its handshake */
    let firstAttempt = true
    let attempts = 0
    let lastError: unknown
    let closing = false
    let reconnect: ReturnType<typeof setTimeout> | undefined

    const deadAfter = options.deadAfter ?? Math.max(5000, 4 * options.commandTimeout)
    // one timer per connection: commands share one timeout, so they expire in the order they were sent
    let expiry: ReturnType<typeof setTimeout> | undefined
    let expiryAt = Infinity
    const expire = () => {
      expiry = undefined
      expiryAt = Infinity
      const link = current
      if (link === undefined) return
      const now = Date.now()
      // the oldest command, answered or not by its timeout, is the first whose reply is awaited
      const oldest = link.queue[0]
      const deadAt = oldest === undefined || oldest.deadline === Infinity ? Infinity : oldest.deadline - options.commandTimeout + deadAfter
      if (deadAt <= now) return void link.socket.destroy(new Error(`Redis gave no reply for ${deadAfter} ms`))
      for (const pending of link.queue) {
        if (pending.done === undefined || pending.deadline === Infinity) continue
        if (pending.deadline > now) return armExpiry(Math.min(pending.deadline, deadAt))
        settle(pending, new RedisUnavailable(`Redis did not answer within ${options.commandTimeout} ms`))
      }
      if (deadAt !== Infinity) armExpiry(deadAt)
    }
    /** the timer fires at the earliest time asked for (ms since the epoch) */
    const armExpiry = (at: number) => {
      if (expiry !== undefined && expiryAt <= at) return
      clearTimeout(expiry)
      expiryAt = at
      expiry = setTimeout(expire, Math.max(0, at - Date.now())).unref()
    }

    const enqueue = (link: Link, commands: ReadonlyArray<Command>, deadline: number, done: Pending["done"]): Pending => {
      const pending: Pending = { count: commands.length, replies: [], deadline, done }
      link.queue.push(pending)
      link.socket.write(encodeCommands(commands))
      if (deadline !== Infinity) armExpiry(deadline)
      return pending
    }

    const onReply = (link: Link, reply: Reply) => {
      const pending = link.queue[0]
      if (pending === undefined) return link.socket.destroy(new Error("Redis sent a reply to no command"))
      pending.replies.push(reply)
      if (pending.replies.length < pending.count) return
      link.queue.shift()
      // a primary made a replica by a failover that kept its connections cannot serve what the gateway asks:
      // unavailable, as when it is away, and connected anew, since its name may lead to the new primary now
      if (!pending.replies.some(isReadOnly)) return settle(pending, pending.replies)
      settle(pending, new RedisUnavailable(readOnly))
      link.socket.destroy(new Error(readOnly))
    }

    const open = () => {
      reconnect = undefined
      const { host, port } = target
      const socket = target.tls
        ? tlsConnect({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}) })
        : netConnect({ host, port })
      socket.setNoDelay(true)
      socket.setKeepAlive(true, 30_000)
      const link: Link = { socket, queue: [], ready: false }
      current = link
      const parser = new ReplyParser((reply) => onReply(link, reply))
      socket.on("data", (chunk: Buffer) => {
        try {
          parser.feed(chunk)
        } catch (e) {
          socket.destroy(e as Error)
        }
      })
      socket.on("error", (e) => void (lastError = e))
      const connecting = setTimeout(() => socket.destroy(new Error(`no answer within ${connectTimeoutMs} ms of connecting`)), connectTimeoutMs).unref()
      socket.on("close", () => {
        clearTimeout(connecting)
        link.ready = false
        if (current === link) current = undefined
        firstAttempt = false
        const reason = new RedisUnavailable(`the connection to Redis closed${lastError === undefined ? "" : `: ${describe(lastError)}`}`)
        for (const pending of link.queue.splice(0)) settle(pending, reason)
        if (closing) return
        wentDown(lastError ?? reason)
        reconnect = setTimeout(open, reconnectDelayMs(++attempts)).unref()
      })

      // written before the socket connects, so that commands sent during the first attempt queue behind it
      const handshake: Array<Command> = []
      if (target.password !== undefined) handshake.push(target.username === undefined ? ["AUTH", target.password] : ["AUTH", target.username, target.password])
      if (target.db !== 0) handshake.push(["SELECT", target.db])
      handshake.push(["PING"])
      enqueue(link, handshake, Infinity, (result) => {
        clearTimeout(connecting)
        if (result instanceof RedisUnavailable) return
        const refused = result.find((reply) => reply instanceof ReplyError)
        if (refused !== undefined) {
          lastError = refused
          return void socket.destroy()
        }
        // back once a command is answered: a replica answers a PING too
        link.ready = true
        firstAttempt = false
        attempts = 0
        lastError = undefined
      })
    }

    yield* Effect.acquireRelease(
      Effect.sync(open),
      () =>
        Effect.sync(() => {
          closing = true
          clearTimeout(reconnect)
          clearTimeout(expiry)
          current?.socket.destroy()
        })
    )

    const submit = (commands: ReadonlyArray<Command>, done: NonNullable<Pending["done"]>): Pending | undefined => {
      const link = current
      if (link !== undefined && (link.ready || firstAttempt)) return enqueue(link, commands, Date.now() + options.commandTimeout, done)
      done(new RedisUnavailable(`Redis is not connected${lastError === undefined ? "" : `: ${describe(lastError)}`}`))
      return undefined
    }

    // while disconnected, the connection's own errors say why; a command failing on a live connection
    // (timed out, refused) is the news
    const failed = (error: unknown) => {
      if (current?.ready === true) wentDown(error)
    }

    const send = (commands: ReadonlyArray<Command>): Effect.Effect<ReadonlyArray<Reply>, RedisUnavailable> =>
      Effect.callback<ReadonlyArray<Reply>, RedisUnavailable>((resume) => {
        const pending = submit(commands, (answer) => {
          if (answer instanceof RedisUnavailable) {
            failed(answer)
            resume(Effect.fail(answer))
          } else {
            cameBack()
            resume(Effect.succeed(answer))
          }
        })
        // a caller that left: its replies are still read, in their turn, and dropped
        if (pending !== undefined) return Effect.sync(() => void (pending.done = undefined))
      })

    const firstReply = (replies: ReadonlyArray<Reply>): Effect.Effect<Reply, ReplyError> => {
      const reply = replies[0]!
      if (!(reply instanceof ReplyError)) return Effect.succeed(reply)
      failed(reply)
      return Effect.fail(reply)
    }
    const command = (command: Command) => Effect.flatMap(send([command]), firstReply)

    const script = (lua: string) => {
      const digest = createHash("sha1").update(lua).digest("hex")
      return (keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) => {
        const tail = [keys.length, ...keys, ...args]
        return Effect.flatMap(send([["EVALSHA", digest, ...tail]]), (replies) => {
          const reply = replies[0]
          // a server new since the last call (restarted, failed over) has no scripts yet
          if (reply instanceof ReplyError && reply.message.startsWith("NOSCRIPT")) return command(["EVAL", lua, ...tail])
          return firstReply(replies)
        })
      }
    }

    return { send, command, script }
  })
