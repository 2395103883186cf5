// Rewrites the README's generated tables (`npm run docs`): the settings from src/config.ts and the
// metrics from src/metrics.ts. test/readme.test.ts checks both.
import { readFileSync, writeFileSync } from "node:fs"
import { settings } from "../src/config.ts"
import { metricCatalog } from "../src/metrics.ts"

const settingsMarker = "<!-- settings table: checked against src/config.ts by test/readme.test.ts -->"
const metricsMarker = "<!-- metrics table: checked against src/metrics.ts by test/readme.test.ts -->"

const settingsTable = [
  "| flag | env var | default | meaning |",
  "|---|---|---|---|",
  ...Object.values(settings).map((s) => `| \`${s.flag}\` | \`${s.env}\` | ${"default" in s ? `\`${s.default}\`` : ""} | ${s.description} |`)
]

const metricsTable = [
  "| metric | kind | labels | meaning |",
  "|---|---|---|---|",
  ...metricCatalog.map((m) => `| \`${m.name}\` | ${m.kind} | ${m.labels.map((l) => `\`${l}\``).join(", ")} | ${m.description} |`)
]

/** The README with the table after `marker` replaced. */
const withTable = (readme: string, marker: string, table: ReadonlyArray<string>): string => {
  const start = readme.indexOf(marker)
  if (start < 0) throw new Error(`README.md has no "${marker}" line`)
  const after = readme.slice(start + marker.length + 1).split("\n")
  const rest = after.slice(after.findIndex((line) => !line.startsWith("|"))).join("\n")
  return `${readme.slice(0, start)}${marker}\n${table.join("\n")}\n${rest}`
}

const file = new URL("../README.md", import.meta.url)
const readme = readFileSync(file, "utf8")
writeFileSync(file, withTable(withTable(readme, settingsMarker, settingsTable), metricsMarker, metricsTable))
