/**
 * The pass-through relay's cost per chunk, in its own process (no HTTP): a provider's events read
 * from a Node stream one per turn of the event loop, as a slow provider's arrive, through the stages
 * a relayed answer passes (the pool's reader, the relay with its model rewrite, what http/boundary.ts
 * adds to every streamed body) into the writer's loop.
 *   node bench/relay-cost.ts [chunks]          prints µs per chunk (as noisy as the machine)
 * Under callgrind, two counts N1 and N2 give the instructions per chunk, (Ir(N2) − Ir(N1)) / (20 (N2 − N1)):
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded --predictable bench/relay-cost.ts N
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import { Readable } from "node:stream"
import { relayed as openaiRelay } from "../src/dialect/openai/relayed.ts"
import { gatewayError } from "../src/errors.ts"
import { modelSeen, relayWatch } from "../src/http/observe.ts"
import { inContextOf } from "../src/http/in-context.ts"
import { relay } from "../src/http/sse.ts"
import { eventRewriter } from "../src/http/sse-rewrite.ts"
import { byteMaskOnce, maskStream, withCallerSecrets } from "../src/mask-bytes.ts"
import { CallerSecrets } from "../src/redact.ts"
import { CurrentRequest, type CurrentRequestShape } from "../src/request-note.ts"

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
  // as llm/http-pool.ts and llm/upstream.ts read a provider's body
  const bytes = NodeStream.fromReadable({ evaluate: () => source, onError: () => "broke", closeOnDone: false }).pipe(
    Stream.ensuring(Effect.void),
    Stream.mapError(() => gatewayError("upstream", "broke"))
  )
  // as http/answer.ts relays it
  const watch = relayWatch(current, openaiRelay)!
  const response = relay(bytes, { onError: openaiRelay.errorFrame, onEnd: openaiRelay.onEnd("gpt"), tailBytes: openaiRelay.tailBytes }, {
    rewrite: eventRewriter(openaiRelay.echoModel("gpt/gpt-test"), modelSeen(current)),
    watch
  })
  // as http/boundary.ts wraps every streamed body
  const body = (response.body as unknown as { readonly stream: Stream.Stream<Uint8Array> }).stream
  const wrapped = maskStream(withCallerSecrets(byteMaskOnce([]), secrets), body).pipe(
    Stream.onExit(() => Effect.void),
    inContextOf((context) =>
      context.pipe(
        Context.add(References.CurrentLogAnnotations, { request_id: "r" }),
        Context.add(CallerSecrets, secrets),
        Context.add(CurrentRequest, current)
      ))
  )
  // as the platform's server writes it
  return Stream.runForEachArray(wrapped, (array) => {
    written += array.length > 1 ? Buffer.concat(array).length : array[0]!.length
    return Effect.void
  })
}

const started = performance.now()
await Effect.runPromise(Effect.gen(function*() {
  for (let k = 0; k < streams; k++) yield* relayOnce()
}))
console.log(`${streams * chunks} chunks, ${((performance.now() - started) / (streams * chunks) * 1000).toFixed(2)} µs each; ${written} bytes`)
