/**
 * The tool loop's own cost around one whole answer, in its own process (no HTTP, no upstream): the
 * ToolLoop service over a model that answers at once, folded back into one completion, as a
 * non-streaming request with tools on that calls no tool runs it.
 *   node bench/loop-cost.ts [answers]           prints µs per answer (as noisy as the machine)
 * Instruction counts are not noisy: run it under callgrind for two counts, N1 and N2, and
 * (Ir(N2) − Ir(N1)) / (N2 − N1) is the instructions per answer (V8 single-threaded, so repeatable):
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded --predictable bench/loop-cost.ts N
 */
import { Effect, Layer } from "effect"
import { GatewayConfig } from "../src/config.ts"
import type { Completion } from "../src/ir/response.ts"
import type { Conversation } from "../src/ir/conversation.ts"
import { Redactor } from "../src/redact.ts"
import { ToolLoop } from "../src/tools/service.ts"
import { testConfig } from "../test/support/config.ts"
import { fakeKubeLayer } from "../test/support/fake-kube.ts"

const answers = Number(process.argv[2] ?? 20_000)
const conversation: Conversation = { model: "m", system: [], messages: [{ role: "user", content: [{ type: "text", text: "hello there" }] }], tools: [], extensions: {} }
const whole: Completion = { id: "msg_1", model: "m", content: [{ type: "text", text: "w0 w1 w2 w3 w4" }], finishReason: "end_turn", usage: { inputTokens: 10, outputTokens: 50 } }
const tools = ToolLoop.layer.pipe(Layer.provideMerge(fakeKubeLayer([])), Layer.provide(GatewayConfig.layer(testConfig({}))), Layer.provide(Redactor.layerFresh))

await Effect.runPromise(Effect.gen(function*() {
  const loop = yield* ToolLoop
  // as http/answer.ts asks a model for a whole answer inside the loop
  const model = () => Effect.promise(() => Promise.resolve(whole))
  const answer = Effect.scoped(loop.whole(conversation, model))
  const started = performance.now()
  for (let i = 0; i < answers; i++) yield* Effect.orDie(answer)
  console.log(`${answers} answers, ${((performance.now() - started) / answers * 1000).toFixed(1)} µs each`)
}).pipe(Effect.provide(tools)))
