// Writes k8s/crds/*.yaml from the resource Schemas (`npm run crds`); `--check` fails when they differ.
import { readFileSync, writeFileSync } from "node:fs"
import { stringify } from "yaml"
import { providerCrd, toolCrd } from "../src/kube/crd.ts"

export const header = "# Generated from the Effect Schemas in src/kube by scripts/generate-crds.ts: do not edit.\n"

export const renderedCrds = (): Record<string, string> => ({
  "k8s/crds/providers.core.orka.ai.yaml": header + stringify(providerCrd(), { lineWidth: 0 }),
  "k8s/crds/tools.core.orka.ai.yaml": header + stringify(toolCrd(), { lineWidth: 0 })
})

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = new URL("..", import.meta.url)
  const check = process.argv.includes("--check")
  let stale = 0
  for (const [file, text] of Object.entries(renderedCrds())) {
    const path = new URL(file, root)
    if (!check) writeFileSync(path, text)
    else if (readFileSync(path, "utf8") !== text) {
      stale++
      process.stderr.write(`${file} is out of date: run npm run crds\n`)
    }
  }
  process.exit(stale === 0 ? 0 : 1)
}
