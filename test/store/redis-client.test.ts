/**
 * The Redis connection against a real redis-server (skipped, loudly, without one): what the URL
 * names (an ACL user, a database), scripts by digest that survive a SCRIPT FLUSH, replies kept in
 * order past a timeout or a caller that left, and failures that come at once when the connection
 * drops. Outages and their log lines are in the stores' own tests.
 */
import { Cause, Effect, Exit, Fiber, Logger, References, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectRedis, type RedisConnection, RedisUnavailable } from "../../src/store/redis-client.ts"
import { ReplyError } from "../../src/store/resp.ts"
import { freePort } from "../support/host.ts"
import { type RealRedis, redisMissing, startRedis } from "../support/redis.ts"

if (redisMissing !== undefined) {
  console.warn(`\n*** SKIPPING the Redis connection's tests: ${redisMissing}. ***\n`)
}

const password = "conn-secret-31"

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ cause, fiber, logLevel, message }) => {
    lines.push(JSON.stringify({ level: logLevel, message, annotations: fiber.getRef(References.CurrentLogAnnotations), cause: Cause.pretty(cause) }))
  })
  return { lines, layer: Logger.layer([logger]) }
}

/** A connection in a scope that stays open until `close`. */
const open = async (url: string, commandTimeout = 1000, logs = captureLogs(), deadAfter?: number) => {
  const scope = Effect.runSync(Scope.make())
  const options = { url, commandTimeout, ...(deadAfter === undefined ? {} : { deadAfter }), down: "test redis down", back: "test redis back" }
  const redis = await Effect.runPromise(Scope.provide(connectRedis(options), scope).pipe(Effect.provide(logs.layer)))
  return { redis, logs, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const failure = async <A, E>(effect: Effect.Effect<A, E>) => {
  const started = performance.now()
  const exit = await Effect.runPromise(Effect.exit(effect))
  return { error: Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined, ms: performance.now() - started }
}

describe.skipIf(redisMissing !== undefined)("the Redis connection", () => {
  let server: RealRedis
  let admin: RedisConnection
  let closeAdmin: () => Promise<void>
  beforeAll(async () => {
    server = await startRedis({ password })
    ;({ redis: admin, close: closeAdmin } = await open(server.url))
  })
  afterAll(async () => {
    await closeAdmin?.()
    await server?.close()
  })
  const at = (path: string, credentials = `:${password}`) => server.url.replace(/\/\/.*@/, `//${credentials}@`) + path

  it("serves the commands sent while it first connects, in order, errors among them", async () => {
    const { redis, close } = await open(server.url)
    try {
      const replies = await run(redis.send([["SET", "conn:order", "1"], ["INCR", "conn:order"], ["HGET", "conn:order", "x"], ["GET", "conn:order"]]))
      expect(replies.slice(0, 2)).toEqual(["OK", 2])
      expect(replies[2]).toBeInstanceOf(ReplyError)
      expect(String(replies[2])).toContain("WRONGTYPE")
      expect(replies[3]).toBe("2")
      expect((await failure(redis.command(["HGET", "conn:order", "x"]))).error).toBeInstanceOf(ReplyError)
    } finally {
      await close()
    }
  })

  it("logs in as the URL's ACL user and uses its database", async () => {
    await run(admin.command(["ACL", "SETUSER", "orka-conn", "on", ">user-secret-5", "~*", "+@all"]))
    const { redis, close } = await open(at("/3", "orka-conn:user-secret-5"))
    try {
      expect(await run(redis.command(["ACL", "WHOAMI"]))).toBe("orka-conn")
      await run(redis.command(["SET", "conn:db", "three"]))
      expect(await run(admin.command(["GET", "conn:db"]))).toBeNull()
      await run(admin.send([["SELECT", 3]]))
      expect(await run(admin.command(["GET", "conn:db"]))).toBe("three")
    } finally {
      await run(admin.send([["SELECT", 0]]))
      await close()
    }
  })

  it("refused credentials: commands fail at once, the log says why once, never the password", async () => {
    const { redis, logs, close } = await open(at("", ":wrong-pass-77"))
    try {
      await new Promise((r) => setTimeout(r, 400)) // several attempts
      const { error, ms } = await failure(redis.command(["PING"]))
      expect(error).toBeInstanceOf(RedisUnavailable)
      expect(String(error)).toContain("WRONGPASS")
      expect(ms).toBeLessThan(50)
    } finally {
      await close()
    }
    expect(logs.lines.filter((l) => l.includes("test redis down"))).toHaveLength(1)
    expect(logs.lines.join("\n")).toContain("WRONGPASS")
    expect(logs.lines.join("\n")).not.toContain("wrong-pass-77")
  })

  it("calls a script by its digest, and sends it again when the server lost it", async () => {
    const incr = admin.script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    expect(await run(incr(["conn:script"], [2]))).toBe(2)
    await run(admin.command(["SCRIPT", "FLUSH"]))
    expect(await run(incr(["conn:script"], [3]))).toBe(5)
    const failing = admin.script("return redis.error_reply('NOPE not today')")
    expect(String((await failure(failing([], []))).error)).toContain("NOPE not today")
  })

  it("a reply that comes after its command timed out is dropped: the next command gets its own", async () => {
    const { redis, close } = await open(server.url, 200)
    try {
      await run(redis.command(["SET", "conn:late", "before"]))
      server.pause()
      const late = await failure(redis.command(["SET", "conn:late", "after"])).finally(() => server.resume())
      expect(late.error).toBeInstanceOf(RedisUnavailable)
      expect(late.ms).toBeGreaterThanOrEqual(190)
      // the SET still ran once the server thawed; its "OK" is not taken for the GET's answer
      expect(await run(redis.command(["GET", "conn:late"]))).toBe("after")
    } finally {
      await close()
    }
  })

  it("a caller that left does not take the next command's reply", async () => {
    server.pause()
    const waiting = Effect.runFork(admin.command(["SET", "conn:left", "x"]))
    await run(Fiber.interrupt(waiting)).finally(() => server.resume())
    expect(await run(admin.command(["GET", "conn:left"]))).toBe("x")
    expect(await run(admin.command(["PING"]))).toBe("PONG")
  })

  it("a connection that stays silent is taken for dead: commands then fail at once, until Redis answers again", async () => {
    // a server of its own: frozen, it keeps its socket open and answers nothing, as a host gone without a word
    const silent = await startRedis()
    const { redis, logs, close } = await open(silent.url, 50, captureLogs(), 300)
    try {
      await run(redis.command(["PING"]))
      silent.pause()
      const timedOut = await failure(redis.command(["PING"]))
      expect(String(timedOut.error)).toContain("did not answer within 50 ms")
      // before the connection is given up, each command waits for its own timeout, no longer
      const next = await failure(redis.command(["PING"]))
      expect(next.ms).toBeGreaterThanOrEqual(45)
      expect(next.ms).toBeLessThan(200)
      await new Promise((r) => setTimeout(r, 300))
      const atOnce = await failure(redis.command(["PING"]))
      expect(atOnce.error).toBeInstanceOf(RedisUnavailable)
      expect(String(atOnce.error)).toContain("no reply for 300 ms")
      expect(atOnce.ms).toBeLessThan(20)
      silent.resume()
      const deadline = Date.now() + 5000
      while ((await failure(redis.command(["PING"]))).error !== undefined) {
        expect(Date.now()).toBeLessThan(deadline)
        await new Promise((r) => setTimeout(r, 20))
      }
      expect(logs.lines.filter((line) => line.includes("test redis down"))).toHaveLength(1)
      expect(logs.lines.filter((line) => line.includes("test redis back"))).toHaveLength(1)
    } finally {
      silent.resume()
      await close()
      await silent.close()
    }
  })

  it("a server made a read-only replica (a failover) is unavailable, and its connection is made anew until it is a primary again", async () => {
    const failedOver = await startRedis()
    const { redis: adminOfIt, close: closeAdminOfIt } = await open(failedOver.url)
    const logs = captureLogs()
    const { redis, close } = await open(failedOver.url, 1000, logs)
    try {
      await run(redis.command(["SET", "conn:role", "primary"]))
      const before = await run(redis.command(["CLIENT", "ID"]))
      // a replica of a primary that is not there: it refuses every write
      await run(adminOfIt.command(["REPLICAOF", "127.0.0.1", String(await freePort())]))
      for (let i = 0; i < 3; i++) {
        const refused = await failure(redis.command(["SET", "conn:role", "replica"]))
        expect(refused.error).toBeInstanceOf(RedisUnavailable)
        expect(String(refused.error)).toContain("read-only replica")
        await new Promise((r) => setTimeout(r, 150))
      }
      await run(adminOfIt.command(["REPLICAOF", "NO", "ONE"]))
      const deadline = Date.now() + 3000
      while ((await failure(redis.command(["SET", "conn:role", "primary again"]))).error !== undefined) {
        expect(Date.now()).toBeLessThan(deadline)
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(await run(redis.command(["CLIENT", "ID"]))).not.toBe(before)
      // reconnected three times meanwhile, to a server that answered PING: one outage all the same
      expect(logs.lines.filter((line) => line.includes("test redis down"))).toHaveLength(1)
      expect(logs.lines.filter((line) => line.includes("test redis back"))).toHaveLength(1)
    } finally {
      await close()
      await closeAdminOfIt()
      await failedOver.close()
    }
  })

  it("a command waiting when the connection drops fails then, not at its timeout, and the connection comes back", async () => {
    const { redis, close } = await open(server.url, 5000)
    try {
      await run(redis.command(["PING"]))
      server.pause()
      const pending = failure(redis.command(["PING"]))
      await new Promise((r) => setTimeout(r, 50))
      await server.stop()
      const { error, ms } = await pending
      expect(error).toBeInstanceOf(RedisUnavailable)
      expect(ms).toBeLessThan(1000)
      await server.start()
      const deadline = Date.now() + 5000
      while ((await failure(redis.command(["PING"]))).error !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(await run(redis.command(["PING"]))).toBe("PONG")
    } finally {
      await close()
    }
    // the admin connection of the other tests reconnects too
    const deadline = Date.now() + 5000
    while ((await failure(admin.command(["PING"]))).error !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  })
})
