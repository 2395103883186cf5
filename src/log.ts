/**
 * JSON logs on stdout, one object per line: `{"time","level","msg",...annotations}`.
 * Flat fields (not Effect's nested default shape) so `jq`, Loki and friends read them directly.
 */
import { Cause, Layer, Logger, References } from "effect"
import type { GatewayConfigShape } from "./config.ts"

const levels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const

const jsonLine = Logger.make(({ cause, date, fiber, logLevel, message }) => {
  const parts = Array.isArray(message) ? message : [message]
  const line: Record<string, unknown> = {
    time: date.toISOString(),
    level: logLevel.toLowerCase(),
    msg: parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ")
  }
  for (const [key, value] of Object.entries(fiber.getRef(References.CurrentLogAnnotations))) line[key] = value
  // A failure's pretty print, without stack frames: logs must not become a second API for internals.
  if (cause.reasons.length > 0) line["error"] = Cause.pretty(cause).split("\n")[0]
  process.stdout.write(JSON.stringify(line) + "\n")
})

export const layer = (config: Pick<GatewayConfigShape, "logLevel">) =>
  Layer.mergeAll(
    Logger.layer([jsonLine]),
    Layer.succeed(References.MinimumLogLevel, levels[config.logLevel])
  )
