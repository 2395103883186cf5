import { describe, expect, it } from "vitest"
import { ConfigError, parseConfig } from "../src/config.ts"

describe("parseConfig", () => {
  it("applies defaults", () => {
    const c = parseConfig([], {})
    expect(c).toMatchObject({ host: "0.0.0.0", port: 8080, namespace: "default", auth: "auto", upstreamTimeout: 600_000 })
    expect(c.chatProvider).toBeUndefined()
  })

  it("reads flags in both forms, env vars, and lets flags win", () => {
    const c = parseConfig(["--port", "9000", "--chat-provider=anthropic", "--upstream-timeout", "1.5"], {
      ORKA_PORT: "7000",
      ORKA_HOST: "127.0.0.1",
      ORKA_NAMESPACE: "team-a"
    })
    expect(c).toMatchObject({ port: 9000, host: "127.0.0.1", chatProvider: "anthropic", namespace: "team-a", upstreamTimeout: 1500 })
  })

  it("rejects unknown flags, missing values and bad values with a clear message", () => {
    expect(() => parseConfig(["--nope"], {})).toThrow(ConfigError)
    expect(() => parseConfig(["--port"], {})).toThrow("--port needs a value")
    expect(() => parseConfig(["--port", "x"], {})).toThrow("expected a non-negative integer")
    expect(() => parseConfig([], { ORKA_AUTH: "maybe" })).toThrow("ORKA_AUTH: expected one of auto, none")
    expect(() => parseConfig(["--port", "70000"], {})).toThrow("at most 65535")
  })
})
