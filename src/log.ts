/**
 * JSON logs on stdout, one object per line: `{"time","level","msg",...annotations}`.
 * Flat fields (not Effect's nested default shape) so `jq`, Loki and friends read them directly.
 */
import { Cause, Layer, Logger, References } from "effect"
import type { GatewayConfigShape } from "./config.ts"
import { CallerSecrets, type RedactorShape } from "./redact.ts"

const levels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const

/** Lines are masked whole: any secret the gateway holds, and the caller's token, wherever it appears. */
const jsonLine = (redactor: RedactorShape | undefined) => Logger.make(({ cause, date, fiber, logLevel, message }) => {
  const parts = Array.isArray(message) ? message : [message]
  const line: Record<string, unknown> = {
    time: date.toISOString(),
    level: logLevel.toLowerCase(),
    msg: parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ")
  }
  for (const [key, value] of Object.entries(fiber.getRef(References.CurrentLogAnnotations))) line[key] = value
  // A failure's pretty print, without stack frames: logs must not become a second API for internals.
  if (cause.reasons.length > 0) line["error"] = Cause.pretty(cause).split("\n")[0]
  const text = JSON.stringify(line)
  process.stdout.write((redactor === undefined ? text : redactor.mask(text, fiber.getRef(CallerSecrets))) + "\n")
})

export const layer = (config: Pick<GatewayConfigShape, "logLevel">, redactor?: RedactorShape) =>
  Layer.mergeAll(
    Logger.layer([jsonLine(redactor)]),
    Layer.succeed(References.MinimumLogLevel, levels[config.logLevel])
  )
