/**
 * The Redis of --redis-url over TLS (`rediss://`), as managed Redis services offer it: a redis-server
 * that speaks only TLS, with a password, its certificate (for `localhost`) signed by a CA made for
 * the test. Two `orka-gateway serve` processes trusting that CA (NODE_EXTRA_CA_CERTS) share limits
 * and stored responses through it; a third, which does not, says why once and serves without it
 * (the default --limits-on-store-failure, allow).
 */
import OpenAI from "openai"
import { readFileSync } from "node:fs"
import { connect } from "node:tls"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type Command, encodeCommands, type Reply, ReplyParser } from "../../src/store/resp.ts"
import { demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { type GatewayProcess, startGatewayProcess } from "../support/gateway-process.ts"
import { type RealRedis, redisMissing, startRedis } from "../support/redis.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

if (redisMissing !== undefined) {
  console.warn(`\n*** SKIPPING the TLS Redis tier: ${redisMissing}. rediss:// is not checked in this run. ***\n`)
}

// characters a URL must encode, sent in AUTH only once TLS is up
const password = "tls p@ss/word"
const limitsDown = "the limit counters (Redis) are unavailable"

describe.skipIf(redisMissing !== undefined)("a Redis reached over TLS", () => {
  let redis: RealRedis
  let upstream: ScriptedUpstream
  let manifests: RunningGateway
  let one: GatewayProcess
  let two: GatewayProcess
  let untrusted: GatewayProcess
  const client = (gateway: GatewayProcess) => new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0 })
  const ask = (gateway: GatewayProcess, model: string) =>
    client(gateway).chat.completions.create({ model, max_tokens: 5, messages: [{ role: "user", content: "hi" }] })

  /** commands sent to the TLS Redis directly (trusting its CA), their replies in order */
  const inRedis = (commands: ReadonlyArray<Command>) =>
    new Promise<ReadonlyArray<Reply>>((resolve, reject) => {
      const replies: Array<Reply> = []
      const socket = connect({ host: "localhost", port: Number(new URL(redis.url).port), ca: readFileSync(redis.caFile!) }, () =>
        socket.write(encodeCommands([["AUTH", password], ...commands])))
      const parser = new ReplyParser((reply) => {
        replies.push(reply)
        if (replies.length <= commands.length) return
        socket.end()
        resolve(replies.slice(1))
      })
      socket.on("data", (chunk: Buffer) => parser.feed(chunk))
      socket.on("error", reject)
    })

  beforeAll(async () => {
    redis = await startRedis({ tls: true, password })
    upstream = await startScriptedUpstream()
    // writes the manifests and tokens the processes read; it takes no requests itself
    manifests = await startGateway({
      manifests: scriptedProviders(upstream.url, {
        gated: { type: "anthropic", secretRef: { name: "keys" }, baseURL: upstream.url, defaultModel: "claude-test", rateLimit: { requestsPerMinute: 2 } }
      })
    })
    // an hour's window: the test's requests never straddle two
    const flags = ["--chat-provider", "claude", "--tools-default", "disabled", "--upstream-retries", "0", "--redis-url", redis.url, "--limits-window", "3600", "--log-level", "warn"]
    ;[one, two, untrusted] = await Promise.all([
      startGatewayProcess(manifests, flags, { NODE_EXTRA_CA_CERTS: redis.caFile }),
      startGatewayProcess(manifests, flags, { NODE_EXTRA_CA_CERTS: redis.caFile }),
      startGatewayProcess(manifests, flags, { NODE_EXTRA_CA_CERTS: undefined })
    ])
  })
  afterAll(async () => {
    for (const gateway of [one, two, untrusted]) gateway?.child.kill("SIGKILL")
    await manifests?.close()
    await upstream?.close()
    await redis?.close()
  })
  beforeEach(() => {
    upstream.requests.length = 0
  })

  it("holds one limit across the replicas that trust it, with the counters in that Redis", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    await ask(one, "gated/claude-test")
    await ask(two, "gated/claude-test")
    expect(await ask(one, "gated/claude-test").catch((e) => e)).toMatchObject({ status: 429 })
    expect(upstream.requests).toHaveLength(2)
    const [keys] = await inRedis([["KEYS", "orka:limit:*"]])
    expect((keys as ReadonlyArray<string>).length).toBeGreaterThan(0)
  })

  it("continues, on one replica, a response the other stored there", async () => {
    upstream.script({ answer: { text: ["First answer."] } }, { answer: { text: ["Second answer."] } })
    const first = await client(one).responses.create({ model: "claude/claude-test", input: "First question", store: true })
    const second = await client(two).responses.create({ model: "claude/claude-test", previous_response_id: first.id, input: "Second question" })
    expect(second.output_text).toBe("Second answer.")
    expect(upstream.requests[1]!.body.messages).toHaveLength(3)
  })

  it("a replica that does not trust its certificate says so once, without the password, and serves without limits", async () => {
    upstream.script({ answer: { text: ["ok"] } })
    // past `gated`'s two a minute: nothing can count them
    for (let i = 0; i < 3; i++) expect((await ask(untrusted, "gated/claude-test")).choices[0]!.message.content).toBe("ok")
    expect((await client(untrusted).responses.create({ model: "claude/claude-test", input: "Keep", store: true })).output_text).toBe("ok")

    const output = untrusted.output()
    // it has retried a few times by now (within a second each): still one warning
    const warnings = output.split("\n").filter((line) => line.includes(limitsDown)).map((line) => JSON.parse(line))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ level: "warn", redis: `rediss://localhost:${new URL(redis.url).port}` })
    expect(warnings[0].error).toMatch(/certificate/)
    for (const gateway of [one, two, untrusted]) {
      expect(gateway.output()).not.toContain(password)
      expect(gateway.output()).not.toContain(encodeURIComponent(password))
    }
    // those that trust it never lost it
    expect(one.output() + two.output()).not.toMatch(/\(Redis\) (is|are) unavailable/)
  })
})
