import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { settings } from "../src/config.ts"

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")

/** The rows of the settings table (the one after the marker comment). */
const settingsRows = (): Array<Array<string>> => {
  const start = readme.indexOf("<!-- settings table")
  const lines = readme.slice(start).split("\n").slice(1)
  const table = lines.slice(0, lines.findIndex((l) => !l.startsWith("|")))
  const unquote = (cell: string) => cell.replace(/^`([^`]*)`$/, "$1")
  return table.slice(2).map((row) => row.split("|").slice(1, -1).map((cell) => unquote(cell.trim())))
}

describe("README", () => {
  it("documents every setting of src/config.ts with its flag, env var, default and meaning, and nothing else", () => {
    const expected = Object.values(settings).map((s) => [s.flag, s.env, "default" in s ? s.default : "", s.description])
    expect(settingsRows()).toEqual(expected)
  })

  it("shows the two commands", () => {
    expect(readme).toContain("npm ci && npm start")
    expect(readme).toContain("npm ci && npm test")
  })

  it("uses the demo token that examples/local/tokens.csv defines", () => {
    const token = readFileSync(new URL("../examples/local/tokens.csv", import.meta.url), "utf8")
      .split("\n").find((l) => l !== "" && !l.startsWith("#"))!.split(",")[0]!
    expect(readme).toContain(`Bearer ${token}`)
  })
})
