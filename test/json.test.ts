import { describe, expect, it } from "vitest"
import { nestedDeeperThan, readJson, stringifyWithMember, textOnce } from "../src/json.ts"

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

describe("JSON written once", () => {
  it("keeps each key's text, and adds a member written already", () => {
    const encoded: Array<string> = []
    const text = textOnce((k: { readonly name: string }) => (encoded.push(k.name), { n: k.name }))
    const a = { name: "a" }
    expect([text(a), text({ name: "b" }), text(a)]).toEqual([`{"n":"a"}`, `{"n":"b"}`, `{"n":"a"}`])
    expect(encoded).toEqual(["a", "b"])
    expect(JSON.parse(stringifyWithMember({ x: 1, "q\"": [] }, "tools", `[{"n":"a"}]`))).toEqual({ x: 1, "q\"": [], tools: [{ n: "a" }] })
    expect(stringifyWithMember({}, "tools", "[]")).toBe(`{"tools":[]}`)
  })
})
