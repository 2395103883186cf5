/**
 * Both front doors under a seeded stream of hostile requests (see ../support/fuzz.ts), through the
 * real server, in front of the mock and scripted Anthropic and OpenAI upstreams (passed through and
 * translated). Every answer must be a 2xx for valid input and otherwise a 4xx in the door's envelope:
 * never a 5xx, never an empty body, never a dropped connection; and the server serves afterwards.
 * A failure names the seed and the request index, to replay it.
 */
import { Agent, request as httpRequest } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { type FuzzRequest, random, type Random, request } from "../support/fuzz.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

const seed = Number(process.env["FUZZ_SEED"] ?? 20261201)
const perDoor = 2000

let upstream: ScriptedUpstream
let gateway: RunningGateway
const agent = new Agent({ keepAlive: true, maxSockets: 16 })

beforeAll(async () => {
  upstream = await startScriptedUpstream()
  upstream.script({ answer: { text: ["Hel", "lo"], inputTokens: 3, outputTokens: 2 } })
  gateway = await startGateway({
    manifests: scriptedProviders(upstream.url),
    config: { chatProvider: "mock", toolsDefault: "disabled", upstreamRetries: 0 }
  })
})
afterAll(async () => {
  agent.destroy()
  await gateway.close()
  await upstream.close()
})

const models = ["mock-1", "mock/mock-1", "gpt/gpt-test", "claude/claude-test"]
const text = (r: Random) => r.pick(["hi", "Tell me a story", "", "  ", "use nothing", "ünïcødé 🦜"])

const openaiBody = (r: Random) => () => ({
  model: r.pick(models),
  messages: [
    ...(r.chance(0.3) ? [{ role: r.pick(["system", "developer"]), content: "Be brief." }] : []),
    { role: "user", content: r.chance(0.7) ? text(r) || "hi" : [{ type: "text", text: "hi" }] },
    ...(r.chance(0.2) ? [{ role: "assistant", content: "ok" }, { role: "user", content: "again" }] : [])
  ],
  ...(r.chance(0.5) ? { stream: true } : {}),
  ...(r.chance(0.3) ? { max_tokens: r.pick([1, 10, 1000]) } : {}),
  ...(r.chance(0.2) ? { temperature: r.pick([0, 0.5, 1]) } : {}),
  ...(r.chance(0.2) ? { tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } } } } }] } : {})
})

const anthropicBody = (r: Random) => () => ({
  model: r.pick(models),
  max_tokens: r.pick([1, 16, 1024]),
  messages: [
    { role: "user", content: r.chance(0.7) ? text(r) || "hi" : [{ type: "text", text: "hi" }] },
    ...(r.chance(0.2) ? [{ role: "assistant", content: "ok" }, { role: "user", content: "again" }] : [])
  ],
  ...(r.chance(0.3) ? { system: "Be brief." } : {}),
  ...(r.chance(0.5) ? { stream: true } : {}),
  ...(r.chance(0.2) ? { tools: [{ name: "lookup", input_schema: { type: "object", properties: { q: { type: "string" } } } }] } : {})
})

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const send = (req: FuzzRequest) =>
  new Promise<Answer>((resolve, reject) => {
    const url = new URL(gateway.url)
    const r = httpRequest({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers: { ...req.headers, "content-length": String(req.body.length) }, agent }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"] ?? "", body: Buffer.concat(chunks).toString() }))
      res.on("error", reject)
    })
    r.on("error", reject)
    r.end(req.body)
  })

/** What is wrong with an answer, if anything. */
const problem = (req: FuzzRequest, answer: Answer): string | undefined => {
  if (answer.status >= 500) return `status ${answer.status}`
  if (answer.body === "") return "empty body"
  if (req.valid && (answer.status < 200 || answer.status >= 300)) return `valid input answered ${answer.status}`
  if (answer.status >= 400) {
    let envelope: any
    try {
      envelope = JSON.parse(answer.body)
    } catch {
      return "an error that is not JSON"
    }
    const anthropic = req.path.startsWith("/anthropic/")
    const ok = anthropic
      ? envelope?.type === "error" && typeof envelope?.error?.type === "string" && typeof envelope?.error?.message === "string"
      : typeof envelope?.error?.type === "string" && typeof envelope?.error?.message === "string"
    return ok ? undefined : `not the ${anthropic ? "Anthropic" : "OpenAI"} envelope`
  }
  if (answer.contentType.startsWith("text/event-stream")) {
    const whole = answer.body.endsWith("data: [DONE]\n\n") || answer.body.endsWith(`event: message_stop\ndata: {"type":"message_stop"}\n\n`)
    return whole ? undefined : "a stream that did not end whole"
  }
  try {
    JSON.parse(answer.body)
    return undefined
  } catch {
    return "a 2xx body that is not JSON"
  }
}

const fuzzDoor = async (door: string, valid: (r: Random) => () => Record<string, unknown>, doorSeed: number) => {
  const r = random(doorSeed)
  const requests = Array.from({ length: perDoor }, () => request(r, door, valid(r), demoToken))
  const failures: Array<string> = []
  let next = 0
  let validCount = 0
  const worker = async () => {
    while (next < requests.length) {
      const i = next++
      const req = requests[i]!
      if (req.valid) validCount++
      const answer = await send(req).catch((e: Error) => ({ status: -1, contentType: "", body: `connection: ${e.message}` }))
      const wrong = answer.status === -1 ? answer.body : problem(req, answer)
      if (wrong !== undefined) {
        failures.push(`#${i} (seed ${doorSeed}) ${req.method} ${req.path.slice(0, 80)} → ${wrong}: ${answer.body.slice(0, 200)} | sent ${req.body.toString().slice(0, 200)}`)
      }
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  expect(failures.slice(0, 10)).toEqual([])
  expect(validCount).toBeGreaterThan(perDoor / 10) // the generator does not only produce garbage
  // the server still serves
  const ok = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${demoToken}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-1", messages: [{ role: "user", content: "still there?" }] })
  })
  expect(ok.status).toBe(200)
}

describe(`fuzzing both doors (seed ${seed}, FUZZ_SEED to change)`, () => {
  it(`the OpenAI door: ${perDoor} hostile requests`, () => fuzzDoor("/openai/v1/chat/completions", openaiBody, seed), 30_000)
  it(`the Anthropic door: ${perDoor} hostile requests`, () => fuzzDoor("/anthropic/v1/messages", anthropicBody, seed + 1), 30_000)
})
