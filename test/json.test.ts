import { describe, expect, it } from "vitest"
import { nestedDeeperThan, readJson, stringifyWithMember, textOnce } from "../src/json.ts"

describe("reading JSON with a depth bound", () => {
  it("counts objects and arrays, not brackets inside strings", () => {
    expect(nestedDeeperThan(JSON.parse(`{"a":[{"b":[]}]}`), 4)).toBe(false)
    expect(nestedDeeperThan(JSON.parse(`{"a":[{"b":[]}]}`), 3)).toBe(true)
    expect(nestedDeeperThan(JSON.parse(`{"x":1,"a":[1,{"b":2},[{"c":[[]]}]]}`), 5)).toBe(true)
    expect(nestedDeeperThan(JSON.parse(`{"a":"[[[[[[[[\\"[[[["}`), 1)).toBe(false)
    expect(nestedDeeperThan("text", 0)).toBe(false)
    expect(readJson(`{"a":[{"b":[]}]}`, 4)).toEqual({ ok: true, value: { a: [{ b: [] }] } })
    // parsed without recursing, then refused before anything walks it
    expect(readJson("[".repeat(1_000_000) + "]".repeat(1_000_000), 64)).toMatchObject({ ok: false, problem: "depth" })
    expect(readJson(`{"a":`.repeat(100_000) + "1" + "}".repeat(100_000), 100_000)).toMatchObject({ ok: true })
    expect(readJson(`{"a":`.repeat(100_000) + "1" + "}".repeat(100_000), 99_999)).toMatchObject({ ok: false, problem: "depth" })
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
