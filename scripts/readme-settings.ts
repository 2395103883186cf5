// Rewrites the README's settings table from src/config.ts (`npm run docs`); test/readme.test.ts checks it.
import { readFileSync, writeFileSync } from "node:fs"
import { settings } from "../src/config.ts"

const marker = "<!-- settings table: checked against src/config.ts by test/readme.test.ts -->"
const file = new URL("../README.md", import.meta.url)
const readme = readFileSync(file, "utf8")
const rows = Object.values(settings).map((s) =>
  `| \`${s.flag}\` | \`${s.env}\` | ${"default" in s ? `\`${s.default}\`` : ""} | ${s.description} |`)
const table = ["| flag | env var | default | meaning |", "|---|---|---|---|", ...rows].join("\n")
const start = readme.indexOf(marker)
if (start < 0) throw new Error(`README.md has no "${marker}" line`)
const after = readme.slice(start + marker.length + 1)
const end = after.split("\n").findIndex((line) => !line.startsWith("|"))
const rest = after.split("\n").slice(end).join("\n")
writeFileSync(file, `${readme.slice(0, start)}${marker}\n${table}\n${rest}`)
