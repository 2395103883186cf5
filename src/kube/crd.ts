/**
 * CustomResourceDefinitions generated from the resource Schemas, so the YAML applied to a cluster and
 * the validation the gateway runs cannot disagree. Effect's JSON Schema (draft 2020-12) is turned
 * into the structural OpenAPI v3 subset that apiextensions.k8s.io/v1 accepts: references inlined,
 * every node typed (or explicitly open), unions Kubernetes cannot express widened to what accepts
 * every branch, and only the keywords Kubernetes knows.
 */
import * as Schema from "effect/Schema"
import { isSafeIntegerBound } from "../schema-text.ts"
import { ClientPolicy, PolicyGroup } from "./client-policy.ts"
import { Group, Provider, Version } from "./resources.ts"
import { Tool } from "./tool-resource.ts"

export type JsonNode = { [key: string]: unknown }

export interface PrinterColumn {
  readonly name: string
  readonly type: "string" | "boolean" | "integer" | "number" | "date"
  readonly jsonPath: string
  readonly description?: string
}

export interface CrdOptions {
  readonly schema: Schema.Top
  /** the resource's API group; `core.orka.ai` when absent */
  readonly group?: string
  readonly kind: string
  readonly plural: string
  readonly singular: string
  readonly shortNames?: ReadonlyArray<string>
  readonly printerColumns?: ReadonlyArray<PrinterColumn>
}

const isNode = (v: unknown): v is JsonNode => typeof v === "object" && v !== null && !Array.isArray(v)

/** JSONSchemaProps fields a structural schema may use; anything else Effect emits is dropped. */
const kubernetesKeywords = new Set([
  "type", "format", "title", "description", "default", "enum", "nullable",
  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
  "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
  "minProperties", "maxProperties", "required", "properties", "additionalProperties", "items"
])

const open: JsonNode = { "x-kubernetes-preserve-unknown-fields": true }

/** Effect's JSON form of a number allows these strings for the non-finite values JSON cannot hold. */
const isNonFiniteNumberBranch = (n: JsonNode) =>
  n["type"] === "string" && Array.isArray(n["enum"]) && n["enum"].every((v) => v === "Infinity" || v === "-Infinity" || v === "NaN")

/** Keeps a branch's own annotations (description, default) on whatever the union becomes. */
const withAnnotations = (result: JsonNode, from: JsonNode): JsonNode => {
  for (const key of ["title", "description", "default"]) if (from[key] !== undefined) result[key] = from[key]
  return result
}

/**
 * A union as one structural node: `null` branches make it nullable, enums of one type merge, a
 * single remaining branch stands for itself, integer-or-string has its own marker; any other mix
 * accepts everything, and the gateway's Schema decides.
 */
const union = (branches: ReadonlyArray<JsonNode>, nullable: boolean, rest: JsonNode): JsonNode => {
  let kept = branches
  if (kept.some((b) => b["type"] === "number")) kept = kept.filter((b) => !isNonFiniteNumberBranch(b))
  const types = new Set(kept.map((b) => b["type"]))
  const only = types.size === 1 ? [...types][0] : undefined
  let result: JsonNode
  if (kept.length === 1) result = { ...kept[0]! }
  else if (typeof only === "string" && kept.every((b) => Array.isArray(b["enum"]))) {
    result = { type: only, enum: [...new Set(kept.flatMap((b) => b["enum"] as Array<unknown>))] }
  } else if (only === "string" || only === "boolean" || only === "integer" || only === "number") result = { type: only }
  else if (types.size === 2 && types.has("integer") && types.has("string")) result = { "x-kubernetes-int-or-string": true }
  else if (only === "object") result = { type: "object", ...open }
  else result = { ...open }
  if (nullable && result["type"] !== undefined) result["nullable"] = true
  return withAnnotations(result, rest)
}

/** One node of Effect's JSON Schema as a structural schema node. */
export const structural = (input: JsonNode, definitions: JsonNode): JsonNode => {
  let node = input
  if (typeof node["$ref"] === "string") {
    const { $ref, ...siblings } = node
    const target = definitions[$ref.split("/").at(-1)!]
    if (!isNode(target)) throw new Error(`unresolved JSON Schema reference ${$ref}`)
    node = { ...target, ...siblings }
  }
  if (Array.isArray(node["allOf"])) {
    const { allOf, ...own } = node
    const parts = allOf.filter(isNode)
    // each check may carry CEL rules: all of them apply
    const rules = [own, ...parts].flatMap((p) => (Array.isArray(p["x-kubernetes-validations"]) ? p["x-kubernetes-validations"] : []))
    node = Object.assign({}, own, ...parts)
    if (rules.length > 0) node["x-kubernetes-validations"] = rules
  }
  if ("const" in node) {
    const { const: value, ...own } = node
    node = { ...own, enum: [value] }
  }
  const choices = node["anyOf"] ?? node["oneOf"]
  if (Array.isArray(choices)) {
    const { anyOf: _a, oneOf: _o, ...own } = node
    const isNull = (b: JsonNode) => b["type"] === "null"
    const branches = choices.filter(isNode)
    return union(branches.filter((b) => !isNull(b)).map((b) => structural(b, definitions)), branches.some(isNull), own)
  }

  const out: JsonNode = {}
  for (const [key, value] of Object.entries(node)) {
    if (kubernetesKeywords.has(key) || key.startsWith("x-kubernetes-")) out[key] = value
  }
  if (isSafeIntegerBound(out["minimum"])) delete out["minimum"]
  if (isSafeIntegerBound(out["maximum"])) delete out["maximum"]
  // draft 2020-12 gives the bound; OpenAPI v3.0 (and Kubernetes) a flag beside minimum/maximum
  for (const [exclusive, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const) {
    if (typeof out[exclusive] === "number") {
      out[bound] = out[exclusive]
      out[exclusive] = true
    }
  }
  if (Array.isArray(out["required"]) && out["required"].length === 0) delete out["required"]

  if (out["type"] === "object") {
    const properties = node["properties"]
    if (isNode(properties)) {
      out["properties"] = Object.fromEntries(
        Object.entries(properties).map(([k, v]) => [k, structural(isNode(v) ? v : {}, definitions)])
      )
    }
    const patterned = isNode(node["patternProperties"]) ? Object.values(node["patternProperties"]).filter(isNode) : []
    const values = isNode(node["additionalProperties"]) ? node["additionalProperties"] : patterned.length === 1 ? patterned[0] : undefined
    const value = values === undefined ? undefined : structural(values, definitions)
    // Kubernetes allows properties or additionalProperties, not both; `true`/`false` are not schemas
    if (isNode(properties) || value === undefined || value["type"] === undefined) delete out["additionalProperties"]
    else out["additionalProperties"] = value
    // no declared fields (Record(String, Unknown)), or declared ones beside a rest of any other keys:
    // keep what is there rather than let the API server prune it
    if ((out["properties"] === undefined && out["additionalProperties"] === undefined) || (isNode(properties) && value !== undefined)) {
      Object.assign(out, open)
    }
  } else if (out["type"] === "array") {
    out["items"] = isNode(node["items"]) ? structural(node["items"], definitions) : { ...open }
  } else if (out["type"] === undefined || out["type"] === "null" || Array.isArray(out["type"])) {
    // Unknown, Any, or a type Kubernetes cannot name: any JSON value
    return withAnnotations({ ...open }, out)
  }
  return out
}

/** The fields the API server owns: a CRD may say only that they exist. */
const serverOwned = ["apiVersion", "kind", "metadata"]

/** The openAPIV3Schema of a resource Schema. */
export const openApiSchema = (schema: Schema.Top): JsonNode => {
  const document = Schema.toJsonSchemaDocument(schema)
  const root = structural(document.schema as JsonNode, (document.definitions ?? {}) as JsonNode)
  if (root["type"] !== "object" || !isNode(root["properties"])) throw new Error("a resource Schema must be a Struct")
  root["properties"] = {
    apiVersion: { type: "string" },
    kind: { type: "string" },
    metadata: { type: "object" },
    ...Object.fromEntries(Object.entries(root["properties"]).filter(([k]) => !serverOwned.includes(k)))
  }
  const required = ((root["required"] ?? []) as Array<string>).filter((k) => !serverOwned.includes(k))
  delete root["required"]
  if (required.length > 0) root["required"] = required
  return root
}

export const crdFor = ({ group = Group, ...options }: CrdOptions): JsonNode => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${options.plural}.${group}` },
  spec: {
    group,
    names: {
      kind: options.kind,
      listKind: `${options.kind}List`,
      plural: options.plural,
      singular: options.singular,
      ...(options.shortNames === undefined ? {} : { shortNames: [...options.shortNames] })
    },
    scope: "Namespaced",
    versions: [{
      name: Version,
      served: true,
      storage: true,
      subresources: { status: {} },
      ...(options.printerColumns === undefined ? {} : { additionalPrinterColumns: options.printerColumns.map((c) => ({ ...c })) }),
      schema: { openAPIV3Schema: openApiSchema(options.schema) }
    }]
  }
})

const age: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }

export const providerCrd = (): JsonNode =>
  crdFor({
    schema: Provider,
    kind: "Provider",
    plural: "providers",
    singular: "provider",
    shortNames: ["llmprovider"],
    printerColumns: [
      { name: "Type", type: "string", jsonPath: ".spec.type" },
      { name: "Ready", type: "boolean", jsonPath: ".status.ready" },
      { name: "Default Model", type: "string", jsonPath: ".spec.defaultModel" },
      age
    ]
  })

/** Defaults, for Tools as for Providers, come from the Schemas' own `default` annotations. */
export const toolCrd = (): JsonNode =>
  crdFor({
    schema: Tool,
    kind: "Tool",
    plural: "tools",
    singular: "tool",
    shortNames: ["orkatool"],
    printerColumns: [
      { name: "Available", type: "boolean", jsonPath: ".status.available" },
      { name: "URL", type: "string", jsonPath: ".spec.http.url" },
      age
    ]
  })

export const clientPolicyCrd = (): JsonNode =>
  crdFor({
    schema: ClientPolicy,
    group: PolicyGroup,
    kind: "ClientPolicy",
    plural: "clientpolicies",
    singular: "clientpolicy",
    shortNames: ["cpol"],
    printerColumns: [
      { name: "Valid", type: "boolean", jsonPath: ".status.valid" },
      { name: "Scope", type: "string", jsonPath: ".spec.scope" },
      { name: "Providers", type: "string", jsonPath: ".spec.providers" },
      age
    ]
  })
