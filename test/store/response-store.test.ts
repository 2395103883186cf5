/**
 * The response store's contract, run against both layers: memory always, Redis on a real
 * redis-server (skipped, loudly, without one). Then what only one of them does: the memory layer's
 * size bound; Redis shared by two replicas, and a Redis that goes away (fails fast with a 503, logs
 * once, never the URL's password, and works again once it is back).
 */
import { randomUUID } from "node:crypto"
import { Cause, Context, Effect, Exit, Layer, Logger, References, Schedule, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GatewayConfig } from "../../src/config.ts"
import { GatewayError, statusOfKind } from "../../src/errors.ts"
import { ResponseStore, type ResponseStoreShape, type StoredResponse } from "../../src/store/response-store.ts"
import { testConfig } from "../support/config.ts"
import { type RealRedis, redisMissing, startRedis } from "../support/redis.ts"

if (redisMissing !== undefined) {
  console.warn(`\n*** SKIPPING the response store's Redis tier: ${redisMissing}. The Redis layer is not checked in this run. ***\n`)
}

const alice = "alice\nuid-1"
const mallory = "mallory\nuid-2"

/** A response with one input and one output item; ids unique per call, so tests sharing a Redis never meet. */
const stored = (text = "hello"): StoredResponse => {
  const id = `resp_${randomUUID()}`
  return {
    response: { id, object: "response", status: "completed", output: [{ id: `msg_out_${id}`, type: "message", role: "assistant", content: [{ type: "output_text", text: "hi" }] }] },
    input: [{ id: `msg_in_${id}`, type: "message", role: "user", content: text }]
  }
}
const inputId = (s: StoredResponse) => s.input[0]!["id"] as string
const outputId = (s: StoredResponse) => s.response.output[0]!["id"] as string

/** Log lines as JSON text: message, annotations and cause, everything a sink could write. */
const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ cause, fiber, logLevel, message }) => {
    lines.push(JSON.stringify({ level: logLevel, message, annotations: fiber.getRef(References.CurrentLogAnnotations), cause: Cause.pretty(cause) }))
  })
  return { lines, layer: Logger.layer([logger]) }
}

/** A built store; a Redis one once its connection is up (it connects in the background). */
const storeOf = (layer: Layer.Layer<ResponseStore>): Effect.Effect<ResponseStoreShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const store = Context.get(yield* Layer.build(layer), ResponseStore)
    yield* store.get(alice, "probe").pipe(Effect.retry({ schedule: Schedule.spaced(20), times: 150 }), Effect.orDie)
    return store
  })

const run = <A, E>(layer: Layer.Layer<ResponseStore>, f: (store: ResponseStoreShape) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(storeOf(layer), f)))

const failureOf = <A>(exit: Exit.Exit<A, GatewayError>) => (Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined)

const contract = (name: string, skip: boolean, layerWith: (ttl: number) => Layer.Layer<ResponseStore>) =>
  describe.skipIf(skip)(`the ${name} layer`, () => {
    const withStore = <A, E>(f: (store: ResponseStoreShape) => Effect.Effect<A, E>, ttl = 60_000) => run(layerWith(ttl), f)

    it("gives back what was put", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const s = stored()
          yield* store.put(alice, s)
          expect(yield* store.get(alice, s.response.id)).toEqual(s)
          expect(yield* store.get(alice, "resp_unknown")).toBeUndefined()
        })
      ))

    it("finds input and output items by their id", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const s = stored()
          yield* store.put(alice, s)
          expect(yield* store.item(alice, inputId(s))).toEqual(s.input[0])
          expect(yield* store.item(alice, outputId(s))).toEqual(s.response.output[0])
          expect(yield* store.item(alice, "msg_unknown")).toBeUndefined()
        })
      ))

    it("answers another owner as for an unknown id, and keeps the owner's entry", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const s = stored()
          yield* store.put(alice, s)
          expect(yield* store.get(mallory, s.response.id)).toBeUndefined()
          expect(yield* store.item(mallory, inputId(s))).toBeUndefined()
          expect(yield* store.item(mallory, outputId(s))).toBeUndefined()
          expect(yield* store.remove(mallory, s.response.id)).toBe(false)
          // the same identity with another uid is another owner
          expect(yield* store.get("alice\nuid-9", s.response.id)).toBeUndefined()
          expect(yield* store.get(alice, s.response.id)).toEqual(s)
          expect(yield* store.item(alice, inputId(s))).toEqual(s.input[0])
        })
      ))

    it("removes a response with its items", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const s = stored()
          yield* store.put(alice, s)
          expect(yield* store.remove(alice, s.response.id)).toBe(true)
          expect(yield* store.get(alice, s.response.id)).toBeUndefined()
          expect(yield* store.item(alice, inputId(s))).toBeUndefined()
          expect(yield* store.item(alice, outputId(s))).toBeUndefined()
          expect(yield* store.remove(alice, s.response.id)).toBe(false)
        })
      ))

    it("keeps an item a continuation shares while the older response is removed", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const first = stored()
          const next = stored("and then?")
          const continued: StoredResponse = { ...next, input: [...first.input, ...first.response.output, ...next.input] }
          yield* store.put(alice, first)
          yield* store.put(alice, continued)
          expect(yield* store.remove(alice, first.response.id)).toBe(true)
          expect(yield* store.item(alice, outputId(first))).toEqual(first.response.output[0])
          expect(yield* store.get(alice, continued.response.id)).toEqual(continued)
        })
      ))

    it("keeps a turn under each client call id, for its owner only, and forgets it after the TTL", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const turn = { calls: [{ type: "tool_call", id: "s1", name: "web_fetch", arguments: "{}" }], results: [{ text: "page", isError: false }] }
          yield* store.keepTurn(alice, ["c1", "c2"], turn)
          expect(yield* store.keptTurns(alice, ["c1", "c2", "c3"])).toEqual(new Map([["c1", turn], ["c2", turn]]))
          expect(yield* store.keptTurns(mallory, ["c1"])).toEqual(new Map())
          expect(yield* store.keptTurns(alice, [])).toEqual(new Map())
          yield* Effect.sleep(450)
          expect(yield* store.keptTurns(alice, ["c1"])).toEqual(new Map())
        }), 300))

    it("forgets a response after the TTL", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const s = stored()
          yield* store.put(alice, s)
          expect(yield* store.get(alice, s.response.id)).toEqual(s)
          yield* Effect.sleep(450)
          expect(yield* store.get(alice, s.response.id)).toBeUndefined()
          expect(yield* store.item(alice, inputId(s))).toBeUndefined()
          expect(yield* store.remove(alice, s.response.id)).toBe(false)
        }), 300))
  })

contract("memory", false, (ttl) => ResponseStore.layerMemory({ ttl, maxBytes: 1 << 20 }))

/** one server for most tests; one with a password for the outage, which stops it */
const password = `pw-${randomUUID()}`
let plain: RealRedis
let guarded: RealRedis
beforeAll(async () => {
  if (redisMissing === undefined) [plain, guarded] = await Promise.all([startRedis(), startRedis({ password })])
})
afterAll(async () => {
  await Promise.all([plain?.close(), guarded?.close()])
})

contract("Redis", redisMissing !== undefined, (ttl) => ResponseStore.layerRedis({ url: plain.url, ttl, maxBytes: 1 << 20 }))

describe("the memory layer's size bound", () => {
  const bytesOf = (s: StoredResponse) => Buffer.byteLength(JSON.stringify(s))

  it("evicts the oldest responses, with their items", () => {
    const [a, b, c] = [stored(), stored(), stored()]
    return run(ResponseStore.layerMemory({ ttl: 60_000, maxBytes: Math.floor(bytesOf(a) * 2.5) }), (store) =>
      Effect.gen(function*() {
        for (const s of [a, b, c]) yield* store.put(alice, s)
        expect(yield* store.get(alice, a.response.id)).toBeUndefined()
        expect(yield* store.item(alice, inputId(a))).toBeUndefined()
        expect(yield* store.get(alice, b.response.id)).toEqual(b)
        expect(yield* store.get(alice, c.response.id)).toEqual(c)
      }))
  })

  it("does not keep a response larger than the bound, and says so once", () => {
    const logs = captureLogs()
    const [small, large] = [stored(), stored("x".repeat(4000))]
    const layer = ResponseStore.layerMemory({ ttl: 60_000, maxBytes: bytesOf(small) + 1000 })
    return run(layer, (store) =>
      Effect.gen(function*() {
        yield* store.put(alice, small)
        yield* store.put(alice, large)
        expect(yield* store.get(alice, large.response.id)).toBeUndefined()
        expect(yield* store.item(alice, inputId(large))).toBeUndefined()
        expect(yield* store.get(alice, small.response.id)).toEqual(small)
        expect(logs.lines.filter((l) => l.includes("not stored"))).toHaveLength(1)
      }).pipe(Effect.provide(logs.layer)))
  })
})

describe.skipIf(redisMissing !== undefined)("the Redis layer, shared and failing", () => {
  const layerFor = (url: string, commandTimeout?: number) =>
    ResponseStore.layerRedis({ url, ttl: 60_000, maxBytes: 1 << 20, ...(commandTimeout === undefined ? {} : { commandTimeout }) })

  /** How long `effect` took, and its failure. */
  const timed = <A>(effect: Effect.Effect<A, GatewayError>) =>
    Effect.gen(function*() {
      const started = Date.now()
      const exit = yield* Effect.exit(effect)
      return { ms: Date.now() - started, error: failureOf(exit) }
    })

  const expectUnavailable = (error: unknown) => {
    expect(error).toBeInstanceOf(GatewayError)
    const e = error as GatewayError
    expect([e.kind, e.retryable, statusOfKind[e.kind], e.message]).toEqual(["overloaded", true, 503, "the response store is unavailable; try again"])
  }

  it("is shared by two replicas", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const [one, two] = [yield* storeOf(layerFor(plain.url)), yield* storeOf(layerFor(plain.url))]
      const s = stored()
      yield* one.put(alice, s)
      expect(yield* two.get(alice, s.response.id)).toEqual(s)
      expect(yield* two.item(alice, outputId(s))).toEqual(s.response.output[0])
      expect(yield* two.remove(alice, s.response.id)).toBe(true)
      expect(yield* one.get(alice, s.response.id)).toBeUndefined()
    }))))

  it("is what ResponseStore.layer builds with --redis-url (memory without)", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const configured = (redisUrl?: string) =>
        ResponseStore.layer.pipe(Layer.provide(GatewayConfig.layer(testConfig(redisUrl === undefined ? {} : { redisUrl }))))
      const [shared, local, other] = [yield* storeOf(configured(plain.url)), yield* storeOf(configured()), yield* storeOf(layerFor(plain.url))]
      const [s, t] = [stored(), stored()]
      yield* shared.put(alice, s)
      yield* local.put(alice, t)
      expect(yield* other.get(alice, s.response.id)).toEqual(s)
      expect(yield* other.get(alice, t.response.id)).toBeUndefined()
      expect(yield* local.get(alice, t.response.id)).toEqual(t)
    }))))

  it("does not store a response larger than --response-store-max-bytes, and says so", () => {
    const logs = captureLogs()
    const layer = ResponseStore.layerRedis({ url: plain.url, ttl: 60_000, maxBytes: 2000 })
    return run(layer, (store) =>
      Effect.gen(function*() {
        const large = stored("x".repeat(4000))
        yield* store.put(alice, large)
        expect(yield* store.get(alice, large.response.id)).toBeUndefined()
        expect(logs.lines.filter((l) => l.includes("not stored"))).toHaveLength(1)
      }).pipe(Effect.provide(logs.layer)))
  })

  it("starts without Redis, and then fails fast with a 503", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const started = Date.now()
      const store = Context.get(yield* Layer.build(layerFor("redis://127.0.0.1:1")), ResponseStore)
      // far below the 5 s connect timeout and the command timeout: nothing waited for Redis (bounds loose for a loaded machine)
      expect(Date.now() - started).toBeLessThan(1500)
      const { ms, error } = yield* timed(store.get(alice, "resp_x"))
      expectUnavailable(error)
      expect(ms).toBeLessThan(1200)
    }))))

  it("fails a command to a Redis that does not answer after the command timeout", async () => {
    const logs = captureLogs()
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const store = yield* storeOf(layerFor(plain.url, 300))
      plain.pause()
      const { ms, error } = yield* timed(store.get(alice, "resp_x")).pipe(Effect.ensuring(Effect.sync(() => plain.resume())))
      expectUnavailable(error)
      expect(ms).toBeGreaterThanOrEqual(250)
      expect(ms).toBeLessThan(2500)
      yield* store.get(alice, "resp_x")
    })).pipe(Effect.provide(logs.layer)))
    expect(logs.lines.filter((l) => l.includes("unavailable"))).toHaveLength(1)
    expect(logs.lines.filter((l) => l.includes("available again"))).toHaveLength(1)
  })

  it("fails fast while Redis is away, logs the outage once without the password, and recovers by itself", async () => {
    const logs = captureLogs()
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const store = yield* storeOf(layerFor(guarded.url))
      const s = stored()
      yield* store.put(alice, s)
      expect(yield* store.get(alice, s.response.id)).toEqual(s)

      yield* Effect.promise(() => guarded.stop())
      for (const op of [store.get(alice, s.response.id), store.put(alice, stored()), store.item(alice, inputId(s)), store.remove(alice, s.response.id)]) {
        const { ms, error } = yield* timed(op)
        expectUnavailable(error)
        expect(ms).toBeLessThan(2000)
      }
      yield* Effect.sleep(400) // several reconnect attempts, each a connection error

      yield* Effect.promise(() => guarded.start())
      const again = stored()
      yield* store.put(alice, again).pipe(Effect.retry({ schedule: Schedule.spaced(50), times: 60 }))
      expect(yield* store.get(alice, again.response.id)).toEqual(again)
    })).pipe(Effect.provide(logs.layer)))

    const said = (text: string) => logs.lines.filter((l) => l.includes(text))
    expect(said("unavailable")).toHaveLength(1)
    expect(said("available again")).toHaveLength(1)
    expect(said("unavailable")[0]).toContain(guarded.url.replace(/\/\/.*@/, "//"))
    for (const line of logs.lines) expect(line).not.toContain(password)
  })
})
