/**
 * JSON logs on stdout, one object per line: `{"time","level","msg",...annotations}`.
 * Flat fields (not Effect's nested default shape) so `jq`, Loki and friends read them directly.
 */
import * as Cause from "effect/Cause"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import type { GatewayConfigShape } from "./config.ts"
import { CallerSecrets, type RedactorShape } from "./redact.ts"

const levels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const

/**
 * Lines are masked whole: any secret the gateway holds, and the caller's token, wherever it appears.
 * The annotations are written as they are, after the fixed fields (one `JSON.stringify`, no copy):
 * a key written twice reads as its last value, as it did when each annotation overwrote a field.
 */
const jsonLine = (redactor: RedactorShape | undefined) => Logger.make(({ cause, date, fiber, logLevel, message }) => {
  const parts = Array.isArray(message) ? message : [message]
  const msg = parts.length === 1 && typeof parts[0] === "string" ? parts[0] : parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ")
  const annotations = JSON.stringify(fiber.getRef(References.CurrentLogAnnotations))
  // A failure's pretty print, without stack frames: logs must not become a second API for internals.
  const error = cause.reasons.length > 0 ? `,"error":${JSON.stringify(Cause.pretty(cause).split("\n")[0])}` : ""
  const text = `{"time":"${date.toISOString()}","level":"${logLevel.toLowerCase()}","msg":${JSON.stringify(msg)}${annotations.length > 2 ? `,${annotations.slice(1, -1)}` : ""}${error}}`
  writeLine((redactor === undefined ? text : redactor.mask(text, fiber.getRef(CallerSecrets))) + "\n")
})

/**
 * Lines are written in batches, once per turn of the event loop: a write to a file or a pipe blocks
 * the process for a system call, which one line per request would pay at every request. What is
 * pending when the process exits is written then.
 */
let pending = ""
const flush = () => {
  const text = pending
  pending = ""
  if (text !== "") process.stdout.write(text)
}
process.on("exit", flush)
const writeLine = (line: string) => {
  if (pending === "") setImmediate(flush)
  pending += line
  if (pending.length > 65_536) flush()
}

export const layer = (config: Pick<GatewayConfigShape, "logLevel">, redactor?: RedactorShape) =>
  Layer.mergeAll(
    Logger.layer([jsonLine(redactor)]),
    Layer.succeed(References.MinimumLogLevel, levels[config.logLevel])
  )
