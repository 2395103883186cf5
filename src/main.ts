/**
 * `orka-gateway serve [flags]`: flags and env → config → layers → listening socket.
 * SIGTERM/SIGINT: readiness fails at once, in-flight requests finish, then the process exits 0.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { serverLayer } from "./app.ts"
import { ConfigError, type GatewayConfigShape, parseConfig, usage } from "./config.ts"

const fail = (message: string): never => {
  process.stderr.write(`orka-gateway: ${message}\n`)
  process.exit(2)
}

const [command, ...args] = process.argv.slice(2)
if (command === undefined || command === "--help" || command === "-h" || command === "help") {
  process.stdout.write(usage() + "\n")
  process.exit(command === undefined ? 2 : 0)
}
if (command !== "serve") fail(`unknown command "${command}"\n${usage()}`)
if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(usage() + "\n")
  process.exit(0)
}

let config: GatewayConfigShape
let server: ReturnType<typeof serverLayer>
const lifecycle = { draining: false }
try {
  config = parseConfig(args, process.env)
  server = serverLayer(config, lifecycle)
} catch (e) {
  fail(e instanceof ConfigError ? e.message : String(e))
}

for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void (lifecycle.draining = true))

const listening = Effect.logInfo("listening").pipe(Effect.annotateLogs({
  address: `http://${config!.host}:${config!.port}`,
  namespace: config!.namespace,
  mode: config!.manifests === undefined ? "cluster" : `manifests ${config!.manifests}`
}))

NodeRuntime.runMain(Layer.launch(Layer.merge(server!, Layer.effectDiscard(listening))), {
  // A signal-driven shutdown is the normal way to stop: exit 0, not 130.
  teardown: (exit, onExit) =>
    onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)
})
