import { describe, expect, it } from "vitest"
import { nestedDeeperThan, readJson } from "../src/json.ts"

describe("reading JSON with a depth bound", () => {
  it("counts objects and arrays, not brackets inside strings", () => {
    expect(nestedDeeperThan(`{"a":[{"b":[]}]}`, 4)).toBe(false)
    expect(nestedDeeperThan(`{"a":[{"b":[]}]}`, 3)).toBe(true)
    expect(nestedDeeperThan(`{"a":"[[[[[[[[\\"[[[["}`, 1)).toBe(false)
    expect(readJson("[".repeat(100_000) + "]".repeat(100_000), 64)).toMatchObject({ ok: false, problem: "depth" })
  })

  it("says what is wrong without quoting the text", () => {
    const read = readJson(`{"model": sk-secret-value-123}`, 64)
    expect(read).toMatchObject({ ok: false, problem: "syntax" })
    expect(read.ok ? "" : read.message).toBe("Unexpected token 's'")
    expect(readJson(`{"a":1`, 64)).toMatchObject({ ok: false, problem: "syntax" })
    expect(readJson(`{"a":1}`, 64)).toEqual({ ok: true, value: { a: 1 } })
  })
})
