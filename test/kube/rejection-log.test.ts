/** Objects a rebuild rejects are logged when they are first rejected or for a new reason, not on every rebuild. */
import { Effect, Logger, References } from "effect"
import { describe, expect, it } from "vitest"
import { makeRejectionLog } from "../../src/kube/client.ts"

describe("makeRejectionLog", () => {
  it("reports a rejection once, again when its reason changes, and once more after it was fixed and broke again", async () => {
    const lines: Array<unknown> = []
    const logger = Logger.make(({ fiber, logLevel, message }) => {
      lines.push({ level: logLevel, message, ...fiber.getRef(References.CurrentLogAnnotations) })
    })
    const log = makeRejectionLog("policy rejected", "policy")
    const rebuilds: Array<ReadonlyMap<string, string>> = [
      new Map([["a", "no limits"]]),
      new Map([["a", "no limits"]]),
      new Map([["a", "no subjects"], ["b", "bad name"]]),
      new Map(),
      new Map([["a", "no subjects"]])
    ]
    await Effect.runPromise(Effect.forEach(rebuilds, log, { discard: true }).pipe(Effect.provide(Logger.layer([logger]))))
    expect(lines).toEqual([
      { level: "Warn", message: ["policy rejected"], policy: "a", reason: "no limits" },
      { level: "Warn", message: ["policy rejected"], policy: "a", reason: "no subjects" },
      { level: "Warn", message: ["policy rejected"], policy: "b", reason: "bad name" },
      { level: "Warn", message: ["policy rejected"], policy: "a", reason: "no subjects" }
    ])
  })
})
