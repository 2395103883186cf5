/**
 * One limit across replicas: two gateway processes sharing one real Redis (`--redis-url`), as the
 * Deployment's two replicas do, enforce one requests-per-minute and one tokens-per-minute limit
 * whichever replica a request lands on. With Redis killed mid-run each honours its
 * --limits-on-store-failure (this one `allow`: served; the other `deny`: a clear 503), never a 500
 * or a hang, and the limits hold again once Redis is back. A check Redis is slow to answer holds
 * the Provider's call until it admits. Windows are 2 s (`--limits-window`).
 */
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, type RunningGateway } from "../support/gateway.ts"
import { type GatewayProcess, type Replicas, startReplicas } from "../support/gateway-process.ts"
import { type RealRedis, redisMissing } from "../support/redis.ts"
import type { ScriptedUpstream } from "../support/scripted-upstream.ts"

if (redisMissing !== undefined) {
  console.warn(`\n*** SKIPPING the shared-limits tier: ${redisMissing}. Limits held across replicas are not checked in this run. ***\n`)
}

const windowMs = 2000

describe.skipIf(redisMissing !== undefined)("limits shared by two gateway processes through one Redis", () => {
  let replicas: Replicas
  let redis: RealRedis
  let upstream: ScriptedUpstream
  let one: RunningGateway
  let two: GatewayProcess
  const client = (gateway: { readonly openaiURL: string }) => new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0 })
  const ask = (gateway: { readonly openaiURL: string }, model: string) =>
    client(gateway).chat.completions.create({ model, max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
  /** a settlement is sent as a request ends, not waited for: give it a moment */
  const settled = () => new Promise((r) => setTimeout(r, 60))
  /** a fresh window when this one is nearly over, so a test's requests share one */
  const inOneWindow = async () => {
    const left = windowMs - (Date.now() % windowMs)
    if (left < 800) await new Promise((r) => setTimeout(r, left + 20))
  }

  beforeAll(async () => {
    const anthropic = (url: string, rateLimit: Record<string, number>) => ({ type: "anthropic", secretRef: { name: "keys" }, baseURL: url, defaultModel: "claude-test", rateLimit })
    replicas = await startReplicas({
      providers: (url) => ({
        rpm: anthropic(url, { requestsPerMinute: 3 }),
        tpm: anthropic(url, { tokensPerMinute: 40 }),
        gated: anthropic(url, { requestsPerMinute: 2 }),
        abandoned: anthropic(url, { tokensPerMinute: 1000 }),
        single: anthropic(url, {}),
        outage: anthropic(url, { requestsPerMinute: 1000 })
      }),
      // one request at a time to `single`: a slot a check left behind would refuse the next
      manifests: {
        "policies.yaml": JSON.stringify({
          apiVersion: "gateway.orka.ai/v1alpha1",
          kind: "ClientPolicy",
          metadata: { name: "one-at-a-time" },
          spec: { subjects: [{ user: "alice" }], providers: ["single"], limits: { concurrentRequests: 1 } }
        })
      },
      config: { limitsWindow: windowMs },
      // this replica keeps the default store-failure policy, allow; the other denies
      flags: ["--limits-window", String(windowMs / 1000), "--limits-on-store-failure", "deny"]
    })
    ;({ one, redis, two, upstream } = replicas)
  })
  afterAll(() => replicas?.close())
  beforeEach(() => {
    upstream.requests.length = 0
  })

  it("one requests-per-minute limit, whichever replica serves", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    await inOneWindow()
    await ask(one, "rpm/claude-test")
    await ask(two, "rpm/claude-test")
    await ask(one, "rpm/claude-test")
    // each replica alone would allow three: together they have spent them
    expect(await ask(two, "rpm/claude-test").catch((e) => e)).toMatchObject({ status: 429 })
    expect(await ask(one, "rpm/claude-test").catch((e) => e)).toMatchObject({ status: 429 })
    expect(upstream.requests).toHaveLength(3)
    // the next window is whole again, on both
    await new Promise((r) => setTimeout(r, windowMs - (Date.now() % windowMs) + 20))
    await ask(two, "rpm/claude-test")
  })

  it("one tokens-per-minute limit, settled with the usage each replica saw", async () => {
    // 10 input + 5 output tokens per answer
    upstream.script({ answer: { text: ["ok"] } })
    await inOneWindow()
    await ask(one, "tpm/claude-test")
    await settled()
    await ask(two, "tpm/claude-test")
    await settled()
    // 30 of 40 used: still under
    await ask(one, "tpm/claude-test")
    await settled()
    const refused = await ask(two, "tpm/claude-test").catch((e) => e)
    expect(refused).toMatchObject({ status: 429 })
    expect(refused.message).toContain("Provider tpm allows 40 tokens per 2 s")
    expect(refused.headers.get("x-ratelimit-remaining-tokens")).toBe("0")
    expect(upstream.requests).toHaveLength(3)
  })

  it("the request is prepared while Redis checks it, but the Provider is called only once it has admitted it", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    await inOneWindow()
    const slowCheck = async <A>(request: Promise<A>) => {
      // Redis frozen for less than the check's timeout: the check waits for it
      redis.pause()
      await new Promise((r) => setTimeout(r, 120))
      const calledMeanwhile = upstream.requests.length
      redis.resume()
      return { calledMeanwhile, answer: await request.catch((e: unknown) => e) }
    }
    const admitted = await slowCheck(ask(one, "gated/claude-test"))
    expect(admitted.calledMeanwhile).toBe(0)
    expect(admitted.answer).toMatchObject({ choices: [{ message: { content: "ok" } }] })
    await ask(two, "gated/claude-test")
    expect(upstream.requests).toHaveLength(2)
    // refused: its Provider is never called
    const refused = await slowCheck(ask(two, "gated/claude-test"))
    expect(refused.answer).toMatchObject({ status: 429 })
    expect(upstream.requests).toHaveLength(2)
  })

  it("with Redis frozen past the check's timeout each replica does what its policy says, without waiting for Redis", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    redis.pause()
    try {
      const started = Date.now()
      const [allowed, denied] = await Promise.all([
        client(one).chat.completions.create({ model: "outage/claude-test", messages: [{ role: "user", content: "hi" }] }).withResponse(),
        ask(two, "outage/claude-test").catch((e) => e)
      ])
      expect(Date.now() - started).toBeLessThan(1500)
      expect(allowed.data.choices[0]!.message.content).toBe("ok")
      expect(allowed.response.headers.get("x-ratelimit-limit-requests")).toBeNull()
      expect(denied).toMatchObject({ status: 503 })
    } finally {
      redis.resume()
    }
  })

  it("a caller asking one request at a time is never refused by a one-at-a-time limit, whichever replica serves", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    for (let round = 0; round < 25; round++) {
      // a slot is let go before the answer's last byte: the next request, on the other replica, finds it free
      expect((await ask(round % 2 === 0 ? one : two, "single/claude-test")).choices[0]!.message.content).toBe("ok")
      const stream = await client(round % 2 === 0 ? two : one).chat.completions.create({ model: "single/claude-test", stream: true, messages: [{ role: "user", content: "hi" }] })
      let text = ""
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
      expect(text).toBe("ok")
    }
    expect(upstream.requests).toHaveLength(50)
  })

  it("a check that timed out and reached Redis later leaves no concurrency slot behind", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    redis.pause()
    try {
      // past the check's timeout: served without limits (this replica's policy, allow)
      expect((await ask(one, "single/claude-test")).choices[0]!.message.content).toBe("ok")
    } finally {
      redis.resume()
    }
    await settled()
    // the check ran in Redis once it thawed; had it kept its slot, this would be refused for a lease
    expect((await ask(two, "single/claude-test")).choices[0]!.message.content).toBe("ok")
    expect((await ask(one, "single/claude-test")).choices[0]!.message.content).toBe("ok")
  })

  it("a client gone while Redis checks its request gets its reserved tokens given back once the check answers", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    await inOneWindow()
    const remaining = async () => {
      const { response } = await client(one).chat.completions.create({ model: "abandoned/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).withResponse()
      return Number(response.headers.get("x-ratelimit-remaining-tokens"))
    }
    // what one request reserves, then settled at its usage (15)
    const estimate = 1000 - (await remaining())
    await settled()
    redis.pause()
    const gone = new AbortController()
    const abandoned = client(one).chat.completions
      .create({ model: "abandoned/claude-test", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }, { signal: gone.signal })
      .catch((e) => e)
    await new Promise((r) => setTimeout(r, 60))
    gone.abort()
    await abandoned
    await new Promise((r) => setTimeout(r, 60))
    redis.resume()
    await settled()
    expect(await remaining()).toBe(1000 - 15 - estimate)
    expect(upstream.requests).toHaveLength(2)
  })

  it("with Redis gone each replica does what its policy says, at once, and the limits come back with Redis", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    await redis.stop()
    try {
      const started = Date.now()
      // allow (this replica's default): served, without rate-limit headers
      const { data, response } = await client(one).chat.completions
        .create({ model: "outage/claude-test", messages: [{ role: "user", content: "hi" }] })
        .withResponse()
      expect(data.choices[0]!.message.content).toBe("ok")
      expect(response.headers.get("x-ratelimit-limit-requests")).toBeNull()
      // deny: a 503 that says why, not a 500
      const denied = await ask(two, "outage/claude-test").catch((e) => e)
      expect(denied).toMatchObject({ status: 503 })
      expect(denied.message).toContain("the limits that apply to this request cannot be checked now")
      expect(Date.now() - started).toBeLessThan(3000)
      // requests no limit applies to never touch Redis: served on both
      expect((await ask(two, "claude/claude-test")).choices[0]!.message.content).toBe("ok")
      const scrape = await (await fetch(`${one.url}/metrics`)).text()
      expect(scrape).toMatch(/orka_limit_store_failures_total\{decision="allow"\} [1-9]/)
    } finally {
      await redis.start()
    }
    const deadline = Date.now() + 5_000
    for (;;) {
      const answer = await client(two).chat.completions.create({ model: "outage/claude-test", messages: [{ role: "user", content: "hi" }] }).withResponse().catch(() => undefined)
      if (answer?.response.headers.get("x-ratelimit-limit-requests") === "1000") break
      if (Date.now() > deadline) throw new Error("the limits did not come back with Redis")
      await new Promise((r) => setTimeout(r, 100))
    }
  })
})
