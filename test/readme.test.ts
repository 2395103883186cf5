import { existsSync, readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { settings } from "../src/config.ts"
import { metricCatalog } from "../src/metrics.ts"

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")

/** The rows of a generated table (the one after its marker comment). */
const tableRows = (marker: string): Array<Array<string>> => {
  const start = readme.indexOf(marker)
  const lines = readme.slice(start).split("\n").slice(1)
  const table = lines.slice(0, lines.findIndex((l) => !l.startsWith("|")))
  const unquote = (cell: string) => cell.replace(/^`([^`]*)`$/, "$1")
  return table.slice(2).map((row) => row.split("|").slice(1, -1).map((cell) => unquote(cell.trim())))
}

describe("README", () => {
  it("documents every setting of src/config.ts with its flag, env var, default and meaning, and nothing else", () => {
    const expected = Object.values(settings).map((s) => [s.flag, s.env, "default" in s ? s.default : "", s.description])
    expect(tableRows("<!-- settings table")).toEqual(expected)
  })

  it("documents every metric of src/metrics.ts with its kind, labels and meaning, and nothing else", () => {
    // a cell that is one quoted word reads back without its backticks, as the table is read
    const labels = (names: ReadonlyArray<string>) => (names.length === 1 ? names[0]! : names.map((l) => `\`${l}\``).join(", "))
    const expected = metricCatalog.map((m) => [m.name, m.kind, labels(m.labels), m.description])
    expect(tableRows("<!-- metrics table")).toEqual(expected)
  })

  it("shows the summary of the last recorded benchmark run, as bench/RESULTS.md has it", () => {
    const results = readFileSync(new URL("../bench/RESULTS.md", import.meta.url), "utf8")
    const summary = results.slice(results.indexOf("## Summary\n\n") + "## Summary\n\n".length).split("\n\n")[0]!
    const rows = summary.split("\n").slice(2).map((row) => row.split("|").slice(1, -1).map((cell) => cell.trim().replace(/^`([^`]*)`$/, "$1")))
    expect(rows.length).toBeGreaterThan(10)
    expect(tableRows("<!-- performance table")).toEqual(rows)
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

  it("names every folder of src/ in the Development tree", () => {
    const development = readme.slice(readme.indexOf("## Development"))
    const tree = development.slice(development.indexOf("```\nsrc/"), development.indexOf("test/ "))
    const folders = readdirSync(new URL("../src", import.meta.url), { withFileTypes: true, recursive: true })
      .filter((e) => e.isDirectory())
      .map((e) => `${e.parentPath.replace(/^.*\/src\/?/, "")}/${e.name}`.replace(/^\//, "") + "/")
    expect(folders.length).toBeGreaterThan(8)
    expect(folders.filter((folder) => !tree.includes(`  ${folder} `))).toEqual([])
  })
})

describe("docs/architecture.md", () => {
  const page = readFileSync(new URL("../docs/architecture.md", import.meta.url), "utf8")

  it("names only files and folders that exist", () => {
    const named = [...page.matchAll(/`((?:[a-z-]+\/)*[a-z-]+(?:\.ts|\/))`/g)].map((m) => m[1]!)
    expect(named.length).toBeGreaterThan(30)
    const sources = readdirSync(new URL("../src", import.meta.url), { recursive: true }).map(String)
    // a bare name (`stream.ts`, in a list about one folder) is some source file's name
    const exists = (path: string) =>
      path.includes("/")
        ? ["../src/", "../", "../test/"].some((base) => existsSync(new URL(`${base}${path}`, import.meta.url)))
        : sources.some((file) => file === path || file.endsWith(`/${path}`))
    // <format> stands for any wire format's folder
    expect(named.filter((path) => !path.includes("<") && !exists(path))).toEqual([])
  })
})
