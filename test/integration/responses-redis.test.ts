/**
 * Stored responses across replicas: two gateway processes sharing one real Redis (`--redis-url`), as
 * the Deployment's two replicas do: one served in this process, the other `orka-gateway serve` from
 * the bin entry over the same manifests and tokens. A response kept by one is continued and read
 * back through the other; with Redis gone, a stored continuation is a clear 503 while
 * `store: false` requests keep working.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { demoToken, type RunningGateway } from "../support/gateway.ts"
import { type GatewayProcess, type Replicas, startReplicas } from "../support/gateway-process.ts"
import { type RealRedis, redisMissing } from "../support/redis.ts"
import type { ScriptedUpstream } from "../support/scripted-upstream.ts"

if (redisMissing !== undefined) {
  console.warn(`\n*** SKIPPING the Responses API's shared-store tier: ${redisMissing}. Replicas sharing stored responses are not checked in this run. ***\n`)
}

describe.skipIf(redisMissing !== undefined)("two gateway processes sharing one Redis", () => {
  let replicas: Replicas
  let redis: RealRedis
  let upstream: ScriptedUpstream
  let one: RunningGateway
  let two: GatewayProcess
  const client = (gateway: { readonly openaiURL: string }) => new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0 })

  beforeAll(async () => {
    replicas = await startReplicas({ flags: ["--log-level", "info"] })
    ;({ one, redis, two, upstream } = replicas)
  })
  afterAll(() => replicas?.close())
  beforeEach(() => {
    upstream.requests.length = 0
  })

  it("continues, on one replica, a response the other one kept", async () => {
    upstream.script({ answer: { text: ["First answer."] } }, { answer: { text: ["Second answer."] } })
    const first = await client(one).responses.create({ model: "claude/claude-test", input: "First question" })
    const read = await client(two).responses.retrieve(first.id)
    expect(read.output_text).toBe("First answer.")
    const second = await client(two).responses.create({ model: "claude/claude-test", previous_response_id: first.id, input: "Second question" })
    expect(second.output_text).toBe("Second answer.")
    expect(upstream.requests[1]!.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "First question" }] },
      { role: "assistant", content: [{ type: "text", text: "First answer." }] },
      { role: "user", content: [{ type: "text", text: "Second question" }] }
    ])
  })

  it("without Redis: a stored continuation is a 503, store: false still answers, and it recovers", async () => {
    upstream.script({ answer: { text: ["Kept."] } })
    const kept = await client(one).responses.create({ model: "claude/claude-test", input: "Keep" })
    await redis.stop()
    try {
      const started = Date.now()
      const error = await client(two).responses.create({ model: "claude/claude-test", previous_response_id: kept.id, input: "more" }).catch((e) => e)
      expect(error).toMatchObject({ status: 503 })
      expect(error.message).toContain("response store is unavailable")
      expect(Date.now() - started).toBeLessThan(3_000)
      const unstored = await client(two).responses.create({ model: "claude/claude-test", input: "Ephemeral", store: false })
      expect(unstored.output_text).toBe("Kept.")
      // a stored request is answered: only its continuation is lost
      const answered = await client(one).responses.create({ model: "claude/claude-test", input: "Answer anyway" })
      expect(answered.output_text).toBe("Kept.")
      // a client's tool results, with the gateway's tools on: answered
      for (let i = 0; i < 2; i++) {
        const chat = await client(two).chat.completions.create({
          model: "claude/claude-test",
          messages: [
            { role: "user", content: "look it up" },
            { role: "assistant", content: null, tool_calls: [{ id: `call_${i}`, type: "function", function: { name: "lookup", arguments: "{}" } }] },
            { role: "tool", tool_call_id: `call_${i}`, content: "42" }
          ],
          tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: {} } } }]
        }, { headers: { "x-orka-tools": "enabled" } })
        expect(chat.choices[0]!.message.content).toBe("Kept.")
      }
    } finally {
      await redis.start()
    }
    // the calls the gateway keeps beside a client's cannot be read meanwhile: each request goes on without them and says so
    // in its log line; that the store is away is said once
    const replies = two.output().split("\n").filter((line) => line.includes("kept_calls"))
    expect(replies).toHaveLength(2)
    for (const line of replies) expect(JSON.parse(line)).toMatchObject({ msg: "request", status: 200, kept_calls: "unavailable" })
    expect(two.output()).not.toContain("kept calls could not be read")
    const deadline = Date.now() + 5_000
    for (;;) {
      const made = await client(one).responses.create({ model: "claude/claude-test", input: "Again" }).catch(() => undefined)
      const found = made === undefined ? undefined : await client(two).responses.retrieve(made.id).catch(() => undefined)
      if (found !== undefined) break
      if (Date.now() > deadline) throw new Error("the store did not come back")
      await new Promise((r) => setTimeout(r, 100))
    }
  })
})
