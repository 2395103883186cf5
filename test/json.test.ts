import { describe, expect, it } from "vitest"
import { nestedDeeperThan, readJson, stringifyWithMember, textOnce, topLevelStringAt } from "../src/json.ts"
import { withModel } from "../src/llm/passthrough.ts"

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

describe("a top-level string member found in JSON text", () => {
  const valueOf = (text: string) => {
    const at = topLevelStringAt(text, "model")
    return at === undefined ? undefined : text.slice(at.start, at.end)
  }

  it("finds it past nested values, strings full of brackets and quotes, and any spacing", () => {
    expect(valueOf(`{"model":"a/b","x":1}`)).toBe(`"a/b"`)
    expect(valueOf(` {\n "x" : [ {"model":"inner"}, "]\\"}{" ] ,\t"model" : "c/d" } `)).toBe(`"c/d"`)
    expect(valueOf(`{"a":"\\\\","model":"z\\"q"}`)).toBe(`"z\\"q"`)
    expect(valueOf(`{"x":true,"y":null,"z":-1.5e3,"w":{},"v":[],"model":"w"}`)).toBe(`"w"`)
  })

  it("finds none where JSON.parse's reading could differ, or there is no string to swap", () => {
    for (const text of [`{"model":1}`, `{"model":"a","model":"b"}`, `{"mod\\u0065l":"a"}`, `{"model":"a","mod\\u0065l":"b"}`, `[1]`, `{}`, `{"m":{"model":"x"}}`]) {
      JSON.parse(text)
      expect(valueOf(text)).toBeUndefined()
    }
  })

  it("ends, finding nothing, on text that is not JSON after all", () => {
    for (const text of [`{"model":"a`, `{"model"`, `{"a":[1,{"b":"x`, `{"a" "model"}`, `{"a":1 "model":"b"}`, `{`, ``, `{"a":"\\`, `{"x":{"y":[`, `{"model":"a",`]) {
      expect(topLevelStringAt(text, "model")).toBeUndefined()
    }
  })

  it("swapped, the text reads as the body with only the model changed, for bodies of every shape", () => {
    let seed = 7
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n
    const pieces = ["", "a", "\"", "\\", "]}", "{[", "\n", "é✓", "\u0001", ",:"]
    const value = (depth: number): unknown => {
      switch (depth > 3 ? random(3) : random(6)) {
        case 0: return Array.from({ length: random(4) }, () => pieces[random(pieces.length)]).join("")
        case 1: return random(3) === 0 ? null : random(2) === 0 ? true : random(1000) / 7
        case 2: return random(2) === 0 ? false : -random(100)
        case 3: return Array.from({ length: random(4) }, () => value(depth + 1))
        default: return Object.fromEntries(Array.from({ length: random(4) }, (_, i) => [i % 2 ? "model" : `k${pieces[random(pieces.length)]}`, value(depth + 1)]))
      }
    }
    for (let i = 0; i < 500; i++) {
      const body: Record<string, unknown> = Object.fromEntries(Array.from({ length: random(5) }, (_, j) => [`f${j}`, value(0)]))
      const keys = Object.keys(body)
      const at = random(keys.length + 1)
      const ordered = Object.fromEntries([...keys.slice(0, at).map((k) => [k, body[k]]), ["model", "p/m"], ...keys.slice(at).map((k) => [k, body[k]])])
      const text = JSON.stringify(ordered, null, random(2) === 0 ? undefined : random(4))
      const sent = withModel(ordered, text, "m")
      expect(JSON.parse(sent)).toEqual({ ...ordered, model: "m" })
      // the client's own text, but for the model
      expect(sent.replace(`"m"`, `"p/m"`)).toBe(text)
    }
  })

  it("a body whose output cap applies, or whose model cannot be found in its text, is written out again", () => {
    const capped = withModel({ model: "p/m", max_tokens: 900 }, `{"model":"p/m","max_tokens":900}`, "m", 500)
    expect(JSON.parse(capped)).toEqual({ model: "m", max_tokens: 500 })
    const twice = `{"model":"p/x","model":"p/m","n":1.0}`
    expect(withModel(JSON.parse(twice), twice, "m")).toBe(`{"model":"m","n":1}`)
    expect(withModel({ model: "p/m", max_tokens: 100 }, ` {"model": "p/m", "max_tokens": 100.0}`, "m", 500)).toBe(` {"model": "m", "max_tokens": 100.0}`)
  })
})
