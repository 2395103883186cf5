import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Authenticator, bearerToken } from "../../src/auth/auth.ts"
import * as TokenFile from "../../src/auth/token-file.ts"
import { parseTokenFile } from "../../src/auth/token-file.ts"

describe("bearerToken", () => {
  const token = (headers: Record<string, string>) => Effect.runSync(Effect.result(bearerToken(headers)))

  it("reads Bearer first, then x-api-key", () => {
    expect(token({ authorization: "Bearer abc" })).toMatchObject({ success: "abc" })
    expect(token({ authorization: "bearer  abc " })).toMatchObject({ success: "abc" })
    expect(token({ "x-api-key": "k1" })).toMatchObject({ success: "k1" })
    expect(token({ authorization: "Bearer abc", "x-api-key": "k1" })).toMatchObject({ success: "abc" })
    expect(token({})).toMatchObject({ success: undefined })
  })

  it("refuses another Authorization scheme instead of falling back to x-api-key", () => {
    const r = token({ authorization: "Basic dXNlcjpwYXNz", "x-api-key": "k1" })
    expect(r).toMatchObject({ failure: { kind: "authentication" } })
  })
})

describe("token file", () => {
  it("parses kube-apiserver's CSV format, quoted groups included", () => {
    const ids = parseTokenFile('t1,alice,u1,"dev,ops"\n# comment\n\nt2,bob,u2\n', "f")
    expect([...ids.values()]).toEqual([
      { user: "alice", uid: "u1", groups: ["dev", "ops"] },
      { user: "bob", uid: "u2", groups: [] }
    ])
    expect([...ids.keys()].join()).not.toContain("t1") // only digests are kept
  })

  it("names the bad line", () => {
    expect(() => parseTokenFile("t1,alice\nonlytoken\n", "tokens.csv")).toThrow("tokens.csv:2")
  })

  it.effect("authenticates known tokens and 401s the rest", () =>
    Effect.gen(function*() {
      const auth = yield* Authenticator
      expect(yield* auth.authenticate("secret-1")).toEqual({ user: "alice", uid: "u1", groups: ["team"] })
      const bad = yield* Effect.flip(auth.authenticate("wrong"))
      expect(bad).toMatchObject({ kind: "authentication", message: "invalid token" })
      const missing = yield* Effect.flip(auth.authenticate(undefined))
      expect(missing.kind).toBe("authentication")
    }).pipe(Effect.provide(TokenFile.layer(writeTokens()))))
})

function writeTokens(): string {
  const dir = mkdtempSync(join(tmpdir(), "orka-tokens-"))
  const file = join(dir, "tokens.csv")
  writeFileSync(file, "secret-1,alice,u1,\"team\"\n")
  return file
}
