import { describe, expect, it } from "vitest"
import { ConfigError, parseConfig } from "../src/config.ts"
import { redisTargetOf } from "../src/redis-url.ts"

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

  it("reads the server-side tool settings", () => {
    const c = parseConfig([
      "--tools-default=disabled",
      "--tool-block-cidrs", "10.96.0.0/12, 10.244.0.0/16",
      "--web-search-backend", "searxng",
      "--web-search-url", "http://searxng.search:8080/search",
      "--web-search-secret", "search-keys:searxng"
    ], { ORKA_TOOL_TIMEOUT: "5" })
    expect(c).toMatchObject({
      toolsDefault: "disabled",
      toolTimeout: 5000,
      toolMaxIterations: 20,
      toolDeadline: 300_000,
      toolBlockCidrs: ["10.96.0.0/12", "10.244.0.0/16"],
      toolAllowCidrs: [],
      webSearchBackend: "searxng",
      webSearchSecret: { name: "search-keys", key: "searxng" }
    })
    expect(parseConfig(["--web-search-backend", "brave", "--web-search-secret", "brave"], {}).webSearchSecret).toEqual({ name: "brave", key: "api-key" })
    expect(parseConfig([], {})).toMatchObject({ toolsDefault: "enabled", webSearchBackend: undefined })
  })

  it("rejects bad tool settings", () => {
    expect(() => parseConfig(["--tool-allow-cidrs", "10.0.0.0/8,not-a-range"], {})).toThrow("--tool-allow-cidrs: not a CIDR: not-a-range")
    expect(() => parseConfig(["--web-search-backend", "searxng"], {})).toThrow("needs --web-search-url")
    expect(() => parseConfig(["--tools-default", "sometimes"], {})).toThrow("expected one of enabled, disabled")
    expect(() => parseConfig(["--tool-max-iterations", "0"], {})).toThrow("at least 1")
  })

  it("reads a Redis URL's parts, and rejects one it cannot use without echoing its password", () => {
    expect(redisTargetOf("rediss://orka:p%40ss@redis.example:6380/2")).toEqual({ host: "redis.example", port: 6380, tls: true, username: "orka", password: "p@ss", db: 2 })
    expect(redisTargetOf("redis://:secret@[::1]")).toEqual({ host: "::1", port: 6379, tls: false, username: undefined, password: "secret", db: 0 })
    expect(() => parseConfig(["--redis-url", "http://:hunter2@redis:6379"], {})).toThrow("must start with redis:// or rediss://")
    expect(() => parseConfig([], { ORKA_REDIS_URL: "redis://:hunter2@redis:6379/zero" })).toThrow(`database must be a number, got "zero"`)
    expect(() => parseConfig(["--redis-url", "redis:hunter2"], {})).toThrow("names no host")
    for (const url of ["http://:hunter2@redis:6379", "redis://:hunter2@redis:6379/zero", "not a url hunter2"]) {
      expect(() => parseConfig(["--redis-url", url], {})).toThrow(expect.objectContaining({ message: expect.not.stringContaining("hunter2") }))
    }
  })
})
