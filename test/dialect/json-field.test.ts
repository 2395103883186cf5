import { describe, expect, it } from "vitest"
import { soleStringFieldAt } from "../../src/dialect/json-field.ts"
import { withModel } from "../../src/llm/passthrough.ts"

describe("a top-level string member found in JSON text", () => {
  const valueOf = (text: string) => {
    const at = soleStringFieldAt(text, "model")
    return at === undefined ? undefined : text.slice(at[0], at[1])
  }

  it("finds it past nested values, strings full of brackets and quotes, and any spacing", () => {
    expect(valueOf(`{"model":"a/b","x":1}`)).toBe(`"a/b"`)
    expect(valueOf(` {\n "x" : [ {"model":"inner"}, "]\\"}{" ] ,\t"model" : "c/d" } `)).toBe(`"c/d"`)
    expect(valueOf(`{"a":"\\\\","model":"z\\"q"}`)).toBe(`"z\\"q"`)
    expect(valueOf(`{"x":true,"y":null,"z":-1.5e3,"w":{},"v":[],"model":"w"}`)).toBe(`"w"`)
  })

  it("finds none where JSON.parse would read another, or there is no string to swap; an escaped key is read as JSON.parse reads it", () => {
    expect(valueOf(`{"mod\\u0065l":"a"}`)).toBe(`"a"`)
    for (const text of [`{"model":1}`, `{"model":"a","model":"b"}`, `{"model":"a","mod\\u0065l":"b"}`, `[1]`, `{}`, `{"m":{"model":"x"}}`]) {
      JSON.parse(text)
      expect(valueOf(text)).toBeUndefined()
    }
  })

  it("ends, finding nothing, on text that is not JSON after all", () => {
    for (const text of [`{"model":"a`, `{"model"`, `{"a":[1,{"b":"x`, `{"a" "model"}`, `{"a":1 "model":"b"}`, `{`, ``, `{"a":"\\`, `{"x":{"y":[`, `{"model":"a",`]) {
      expect(soleStringFieldAt(text, "model")).toBeUndefined()
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
