/**
 * `orka-gateway serve [flags]`: flags and env → config → layers → listening socket.
 * SIGTERM/SIGINT: readiness turns 503 at once; after --shutdown-delay the listener closes; in-flight
 * requests get up to --shutdown-grace-period to finish; then the process exits 0.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { appLayer, modeFor } from "./app.ts"
import { ConfigError, type GatewayConfigShape, parseConfig, usage } from "./config.ts"
import * as Log from "./log.ts"
import { socketLayer } from "./server.ts"

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

const lifecycle = { draining: false }
const build = (): { config: GatewayConfigShape; server: Layer.Layer<never, unknown> } => {
  try {
    const config = parseConfig(args, process.env)
    const app = appLayer({ config, lifecycle, ...modeFor(config) }).pipe(Layer.provide(socketLayer(config)))
    const listening = Effect.logInfo("listening").pipe(Effect.annotateLogs({
      address: `${config.tlsCertFile === undefined ? "http" : "https"}://${config.host}:${config.port}`,
      namespace: config.namespace,
      mode: config.manifests === undefined ? "cluster" : "local"
    }))
    return { config, server: Layer.merge(app, Layer.effectDiscard(listening).pipe(Layer.provide(Log.layer(config)))) }
  } catch (e) {
    return fail(e instanceof ConfigError ? e.message : String(e))
  }
}
const { config, server } = build()

const main = Effect.runFork(Layer.launch(server))

let stopping = false
const shutdown = (signal: NodeJS.Signals) => {
  if (stopping) return
  stopping = true
  lifecycle.draining = true
  // what an operator waits for, said once: how long until the listener closes, and the most after it
  Effect.runFork(Effect.logInfo("draining").pipe(
    Effect.annotateLogs({ signal, listener_closes_in_ms: config.shutdownDelay, in_flight_grace_ms: config.shutdownGracePeriod }),
    Effect.provide(Log.layer(config))
  ))
  setTimeout(() => void Effect.runFork(Fiber.interrupt(main)), config.shutdownDelay)
}
process.on("SIGTERM", shutdown)
process.on("SIGINT", shutdown)

main.addObserver((exit) => {
  if (Exit.isSuccess(exit) || stopping) process.exit(0)
  process.stderr.write(`orka-gateway: ${Exit.isFailure(exit) ? String(exit.cause).split("\n")[0] : "stopped"}\n`)
  process.exit(1)
})
