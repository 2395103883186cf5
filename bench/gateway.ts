/**
 * Throughput and latency of the gateway's hot paths, against a scripted upstream on loopback:
 *   node bench/gateway.ts [requests=2000] [concurrency=32]
 * Both run in this process on a 2-core machine, so the numbers are a floor and a regression guard,
 * not a capacity claim. Results are appended to bench/results.md by hand.
 */
import { demoToken, providerYaml, secretYaml, startGateway } from "../test/support/gateway.ts"
import { startScriptedUpstream } from "../test/support/scripted-upstream.ts"

const total = Number(process.argv[2] ?? 2000)
const concurrency = Number(process.argv[3] ?? 32)

const upstream = await startScriptedUpstream()
upstream.script({ answer: { text: Array.from({ length: 20 }, (_, i) => `token${i} `) } })
const gateway = await startGateway({
  manifests: {
    "all.yaml": [
      secretYaml("keys", { "api-key": "k" }),
      providerYaml("claude", { type: "anthropic", secretRef: { name: "keys" }, baseURL: upstream.url }),
      providerYaml("gpt", { type: "openai", secretRef: { name: "keys" }, baseURL: `${upstream.url}/v1` }),
      providerYaml("mock", { type: "mock" })
    ].join("\n---\n")
  },
  // the proxy paths are measured as such; the tool loop's own cost is one row, by header
  config: { toolsDefault: "disabled" }
})

const percentile = (sorted: Array<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

const run = async (name: string, path: string, body: object, headers: Record<string, string> = {}) => {
  const ttfb: Array<number> = []
  const done: Array<number> = []
  let next = 0
  let failures = 0
  const started = performance.now()
  const worker = async () => {
    while (next++ < total) {
      const t0 = performance.now()
      const res = await fetch(`${gateway.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${demoToken}`, "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
        body: JSON.stringify(body)
      })
      const reader = res.body!.getReader()
      let first = true
      for (;;) {
        const { done: end } = await reader.read()
        if (first) {
          ttfb.push(performance.now() - t0)
          first = false
        }
        if (end) break
      }
      if (res.status !== 200) failures++
      done.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - started) / 1000
  ttfb.sort((a, b) => a - b)
  done.sort((a, b) => a - b)
  const ms = (n: number) => n.toFixed(1)
  console.log(`| ${name} | ${Math.round(total / seconds)} | ${ms(percentile(ttfb, 0.5))} | ${ms(percentile(ttfb, 0.99))} | ${ms(percentile(done, 0.5))} | ${ms(percentile(done, 0.99))} | ${failures} |`)
}

const messages = [{ role: "user", content: "hello" }]
console.log(`${total} requests, ${concurrency} concurrent, Node ${process.version}\n`)
console.log("| path | req/s | first byte p50 ms | p99 | complete p50 ms | p99 | non-200 |")
console.log("|---|---:|---:|---:|---:|---:|---:|")
await run("OpenAI → mock, JSON", "/openai/v1/chat/completions", { model: "mock/m", messages })
await run("OpenAI → OpenAI, SSE pass-through", "/openai/v1/chat/completions", { model: "gpt/m", stream: true, messages })
await run("OpenAI → Anthropic, SSE translated", "/openai/v1/chat/completions", { model: "claude/m", stream: true, messages })
await run("Anthropic → Anthropic, SSE pass-through", "/anthropic/v1/messages", { model: "claude/m", max_tokens: 50, stream: true, messages })
await run("Anthropic → OpenAI, SSE translated", "/anthropic/v1/messages", { model: "gpt/m", max_tokens: 50, stream: true, messages })
await run("OpenAI → Anthropic, SSE, tool loop (no tool called)", "/openai/v1/chat/completions", { model: "claude/m", stream: true, messages }, { "x-orka-tools": "enabled" })
await gateway.close()
await upstream.close()
