/**
 * CustomResourceDefinitions generated from the resource Schemas, so the YAML applied to a cluster and
 * the validation the gateway runs can never disagree. Effect's JSON Schema (draft 2020-12) is turned
 * into the structural OpenAPI v3 subset that apiextensions.k8s.io/v1 accepts.
 */
import { Schema } from "effect"
import { Group, Provider, Version } from "./resources.ts"
import { Tool } from "./tool-resource.ts"

type Node = Record<string, unknown>

export interface CrdOptions {
  readonly kind: string
  readonly plural: string
  readonly singular: string
  readonly shortNames: ReadonlyArray<string>
  readonly schema: Schema.Top
  readonly printerColumns: ReadonlyArray<{ name: string; type: string; jsonPath: string; description?: string }>
  /**
   * Defaults the gateway applies in code, written into the CRD too so `kubectl get -o yaml` shows
   * them (Effect's JSON Schema does not carry decoding defaults). Keys are paths inside `spec`.
   */
  readonly defaults: Readonly<Record<string, unknown>>
}

const isNode = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v)

/** One node of Effect's JSON Schema as a structural schema node. */
export const structural = (node: Node, defs: Node): Node => {
  if (typeof node["$ref"] === "string") {
    const name = node["$ref"].split("/").at(-1)!
    return structural(defs[name] as Node, defs)
  }
  const { $ref: _r, $defs: _d, additionalProperties, properties, items, anyOf, exclusiveMinimum, maximum, ...rest } = node
  const out: Node = { ...rest }
  // 2^53 - 1 is Effect's way of saying "an integer"; Kubernetes needs no such bound
  if (typeof maximum === "number" && maximum < Number.MAX_SAFE_INTEGER) out["maximum"] = maximum
  // OpenAPI v3.0: exclusiveMinimum is a flag beside minimum
  if (typeof exclusiveMinimum === "number") Object.assign(out, { minimum: exclusiveMinimum, exclusiveMinimum: true })
  if (Array.isArray(anyOf)) {
    const types = new Set(anyOf.map((a) => (a as Node)["type"]))
    if (types.size === 1) out["type"] = [...types][0]
    else return { "x-kubernetes-preserve-unknown-fields": true }
  }
  if (isNode(properties)) {
    out["properties"] = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, structural(v as Node, defs)]))
  } else if (isNode(additionalProperties)) {
    const value = structural(additionalProperties, defs)
    // Record(String, Unknown): anything goes, which Kubernetes says this way
    if (Object.keys(value).length === 0 || value["x-kubernetes-preserve-unknown-fields"] === true) {
      return { type: "object", "x-kubernetes-preserve-unknown-fields": true }
    }
    out["additionalProperties"] = value
  }
  if (isNode(items)) out["items"] = structural(items, defs)
  // an object with no declared fields is open (Record(String, Unknown)): Kubernetes must keep its content
  if (out["type"] === "object" && out["properties"] === undefined && out["additionalProperties"] === undefined) {
    out["x-kubernetes-preserve-unknown-fields"] = true
  }
  if (out["type"] === undefined && Object.keys(out).length === 0) return { "x-kubernetes-preserve-unknown-fields": true }
  return out
}

const setDefault = (schema: Node, pointer: string, value: unknown) => {
  let node = schema
  for (const key of pointer.split("/").filter((k) => k !== "")) node = (node["properties"] as Node)[key] as Node
  node["default"] = value
}

export const crdFor = (options: CrdOptions): Node => {
  const document = Schema.toJsonSchemaDocument(options.schema)
  const root = structural(document.schema as Node, (document.definitions ?? {}) as Node)
  const properties = root["properties"] as Node
  // The API server owns these: a CRD may only say that metadata is an object.
  properties["apiVersion"] = { type: "string" }
  properties["kind"] = { type: "string" }
  properties["metadata"] = { type: "object" }
  delete root["required"]
  root["required"] = ["spec"]
  for (const [pointer, value] of Object.entries(options.defaults)) setDefault(properties["spec"] as Node, pointer, value)
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${options.plural}.${Group}` },
    spec: {
      group: Group,
      names: { kind: options.kind, listKind: `${options.kind}List`, plural: options.plural, singular: options.singular, shortNames: [...options.shortNames] },
      scope: "Namespaced",
      versions: [{
        name: Version,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [...options.printerColumns],
        schema: { openAPIV3Schema: root }
      }]
    }
  }
}

export const providerCrd = () =>
  crdFor({
    kind: "Provider",
    plural: "providers",
    singular: "provider",
    shortNames: ["llmprovider"],
    schema: Provider,
    printerColumns: [
      { name: "Type", type: "string", jsonPath: ".spec.type" },
      { name: "Ready", type: "boolean", jsonPath: ".status.ready" },
      { name: "Default Model", type: "string", jsonPath: ".spec.defaultModel" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
    ],
    defaults: { "/secretRef/key": "api-key", "/azure/apiVersion": "2024-02-15-preview" }
  })

export const toolCrd = () =>
  crdFor({
    kind: "Tool",
    plural: "tools",
    singular: "tool",
    shortNames: ["orkatool"],
    schema: Tool,
    printerColumns: [
      { name: "Available", type: "boolean", jsonPath: ".status.available" },
      { name: "URL", type: "string", jsonPath: ".spec.http.url" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
    ],
    defaults: { "/http/method": "POST", "/http/timeout": "30s", "/http/authInject": "header" }
  })
