/**
 * The pass-through relay's cost per chunk, in its own process (no HTTP): a provider's events read
 * from a Node stream one per turn of the event loop, as a slow provider's arrive, through what a
 * relayed answer passes (http/relay-body.ts with its model rewrite and the caller's mask, as
 * http/boundary.ts sets it) into a Node Writable, as the platform's server pipes it to the client.
 *   node bench/relay-cost.ts [chunks]          prints µs per chunk (as noisy as the machine)
 * Under callgrind, two counts N1 and N2 give the instructions per chunk, (Ir(N2) − Ir(N1)) / (20 (N2 − N1)):
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded --predictable bench/relay-cost.ts N
 */
import { Readable, Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { relayed as openaiRelay } from "../src/dialect/openai/relayed.ts"
import { gatewayError } from "../src/errors.ts"
import { modelSeen, relayWatch } from "../src/http/observe.ts"
import { RelayBody } from "../src/http/relay-body.ts"
import { eventRewriter } from "../src/http/sse-rewrite.ts"
import { byteMaskOnce, withCallerSecrets } from "../src/mask-bytes.ts"
import type { CurrentRequestShape } from "../src/request-note.ts"

const chunks = Number(process.argv[2] ?? 1000)
const streams = 20
const event = (i: number) =>
  Buffer.from(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-test","choices":[{"index":0,"delta":{"content":"w${i} "},"finish_reason":null}]}\n\n`)
const secrets = ["caller-token-123456"]
let written = 0

const relayOnce = () => {
  const current: CurrentRequestShape = { started: 0, note: {}, atEnd: [], afterEnd: [] }
  const source = new Readable({ read() {} })
  let i = 0
  const push = () => {
    if (i < chunks) {
      source.push(event(i++))
      setImmediate(push)
    } else {
      source.push("data: [DONE]\n\n")
      source.push(null)
    }
  }
  setImmediate(push)
  // as llm/upstream.ts hands a provider's body to the relay, and http/answer.ts relays it
  const body = { readable: source, failure: () => gatewayError("upstream", "broke"), release: () => source.destroy() }
  const watch = relayWatch(current, openaiRelay)!
  const relayed = new RelayBody(body, { onError: openaiRelay.errorFrame, onEnd: openaiRelay.onEnd("gpt"), tailBytes: openaiRelay.tailBytes },
    eventRewriter(openaiRelay.echoModel("gpt/gpt-test"), modelSeen(current)), watch)
  // as http/boundary.ts sets up every relayed body
  relayed.maskWith(withCallerSecrets(byteMaskOnce([]), secrets))
  relayed.whenOver(() => {})
  // as the platform's server pipes it to the client
  return pipeline(relayed, new Writable({ write: (chunk: Buffer, _, done) => (written += chunk.length, done()) }))
}

const started = performance.now()
for (let k = 0; k < streams; k++) await relayOnce()
console.log(`${streams * chunks} chunks, ${((performance.now() - started) / (streams * chunks) * 1000).toFixed(2)} µs each; ${written} bytes`)
