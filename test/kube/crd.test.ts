import { readFileSync } from "node:fs"
import { parse, parseAllDocuments } from "yaml"
import { describe, expect, it } from "vitest"
import { Schema } from "effect"
import { Provider } from "../../src/kube/resources.ts"
import { renderedCrds } from "../../scripts/generate-crds.ts"

type Node = Record<string, unknown>
const root = new URL("../../", import.meta.url)
const read = (file: string) => readFileSync(new URL(file, root), "utf8")
const crd = (file: string) => parse(read(file)) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Node }; additionalPrinterColumns: Array<{ name: string }> }> } }
const schemaOf = (file: string) => crd(file).spec.versions[0]!.schema.openAPIV3Schema

/** apiextensions v1 structural rules: every node typed (or explicitly open), no refs, no bare anyOf. */
const structuralProblems = (node: Node, path = "$"): Array<string> => {
  const problems: Array<string> = []
  if (node["type"] === undefined && node["x-kubernetes-preserve-unknown-fields"] !== true) problems.push(`${path}: no type`)
  for (const key of ["$ref", "$defs", "anyOf", "oneOf", "allOf", "const"]) if (key in node) problems.push(`${path}: ${key}`)
  if (node["properties"] !== undefined && node["additionalProperties"] !== undefined) problems.push(`${path}: properties with additionalProperties`)
  if (typeof node["exclusiveMinimum"] === "number") problems.push(`${path}: exclusiveMinimum must be a flag`)
  for (const [k, v] of Object.entries((node["properties"] ?? {}) as Node)) problems.push(...structuralProblems(v as Node, `${path}.${k}`))
  if (typeof node["additionalProperties"] === "object") problems.push(...structuralProblems(node["additionalProperties"] as Node, `${path}.*`))
  if (typeof node["items"] === "object") problems.push(...structuralProblems(node["items"] as Node, `${path}[]`))
  return problems
}

/** The subset of OpenAPI validation the generated schemas use. */
const validate = (schema: Node, value: unknown, path = "$"): Array<string> => {
  if (schema["x-kubernetes-preserve-unknown-fields"] === true && schema["type"] === undefined) return []
  const type = schema["type"]
  const actual = Array.isArray(value) ? "array" : value === null ? "null" : typeof value
  const ok = type === "integer" ? Number.isInteger(value) : type === "number" ? typeof value === "number" : type === actual
  if (!ok) return [`${path}: expected ${String(type)}`]
  const errors: Array<string> = []
  if (Array.isArray(schema["enum"]) && !schema["enum"].includes(value)) errors.push(`${path}: not one of ${schema["enum"].join(", ")}`)
  if (typeof schema["minimum"] === "number" && typeof value === "number") {
    if (schema["exclusiveMinimum"] === true ? value <= schema["minimum"] : value < schema["minimum"]) errors.push(`${path}: too small`)
  }
  if (typeof schema["minLength"] === "number" && typeof value === "string" && value.length < schema["minLength"]) errors.push(`${path}: too short`)
  if (actual === "object") {
    const object = value as Node
    for (const key of (schema["required"] ?? []) as Array<string>) if (!(key in object)) errors.push(`${path}.${key}: required`)
    for (const [key, v] of Object.entries(object)) {
      const child = ((schema["properties"] ?? {}) as Node)[key] ?? schema["additionalProperties"]
      if (typeof child === "object") errors.push(...validate(child as Node, v, `${path}.${key}`))
    }
  }
  if (actual === "array" && typeof schema["items"] === "object") (value as Array<unknown>).forEach((v, i) => errors.push(...validate(schema["items"] as Node, v, `${path}[${i}]`)))
  return errors
}

describe("generated CRDs", () => {
  it("match the Schemas (run `npm run crds` after changing one)", () => {
    for (const [file, text] of Object.entries(renderedCrds())) expect(read(file), file).toBe(text)
  })

  it("are structural, with printer columns", () => {
    for (const file of Object.keys(renderedCrds())) {
      const schema = schemaOf(file)
      expect(structuralProblems(schema), file).toEqual([])
      expect((schema["properties"] as Node)["metadata"]).toEqual({ type: "object" })
    }
    expect(crd("k8s/crds/providers.core.orka.ai.yaml").spec.versions[0]!.additionalPrinterColumns.map((c) => c.name))
      .toEqual(["Type", "Ready", "Default Model", "Age"])
  })

  it("accept the example Providers, as the gateway's own Schema does, and reject invalid ones", () => {
    const schema = schemaOf("k8s/crds/providers.core.orka.ai.yaml")
    const examples = ["k8s/examples/provider-anthropic.yaml", "examples/local/mock.yaml", "examples/local/anthropic.yaml", "examples/local/openai.yaml"]
      .flatMap((f) => parseAllDocuments(read(f)).map((d) => d.toJS() as Node))
      .filter((o) => o["kind"] === "Provider")
    expect(examples).toHaveLength(4)
    for (const provider of examples) {
      expect(validate(schema, provider)).toEqual([])
      expect(Schema.is(Provider)(provider)).toBe(true)
    }
    const base = examples[0]!
    const invalid = [
      { ...base, spec: { type: "gemini" } },
      { ...base, spec: undefined },
      { ...base, spec: { type: "openai", rateLimit: { requestsPerMinute: -1 } } }
    ]
    for (const provider of invalid) {
      expect(validate(schema, JSON.parse(JSON.stringify(provider))), JSON.stringify(provider)).not.toEqual([])
      expect(Schema.is(Provider)(provider)).toBe(false)
    }
  })

  it("keep open fields open (a Tool's JSON Schema parameters)", () => {
    const spec = (schemaOf("k8s/crds/tools.core.orka.ai.yaml")["properties"] as Node)["spec"] as { properties: Node }
    expect(spec.properties["parameters"]).toEqual({ type: "object", "x-kubernetes-preserve-unknown-fields": true })
  })
})
