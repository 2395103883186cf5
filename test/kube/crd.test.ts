/**
 * The CRDs in k8s/crds: what the Schemas generate, structural as apiextensions.k8s.io/v1 demands, and
 * agreeing with the gateway's own Schemas on real and invalid objects.
 */
import { execFileSync } from "node:child_process"
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Schema } from "effect"
import { parse, parseAllDocuments } from "yaml"
import { describe, expect, it } from "vitest"
import { renderedCrds, staleCrds } from "../../scripts/generate-crds.ts"
import { ClientPolicy, clientPolicyDefaults } from "../../src/kube/client-policy.ts"
import { crdFor, type JsonNode, openApiSchema } from "../../src/kube/crd.ts"
import { Provider } from "../../src/kube/resources.ts"
import { Tool, toolHttpDefaults } from "../../src/kube/tool-resource.ts"
import { defaultAzureApiVersion, defaultSecretKey } from "../../src/providers/provider.ts"

const root = new URL("../../", import.meta.url)
const read = (file: string) => readFileSync(new URL(file, root), "utf8")
const providersFile = "k8s/crds/providers.core.orka.ai.yaml"
const toolsFile = "k8s/crds/tools.core.orka.ai.yaml"
const policiesFile = "k8s/crds/clientpolicies.gateway.orka.ai.yaml"

interface Crd {
  metadata: { name: string }
  spec: {
    group: string
    scope: string
    names: { kind: string; plural: string; singular: string; listKind: string; shortNames?: Array<string> }
    versions: Array<{
      name: string
      served: boolean
      storage: boolean
      subresources: unknown
      additionalPrinterColumns: Array<{ name: string; type: string; jsonPath: string }>
      schema: { openAPIV3Schema: JsonNode }
    }>
  }
}
const crd = (file: string) => parse(read(file)) as Crd
const schemaOf = (file: string) => crd(file).spec.versions[0]!.schema.openAPIV3Schema

const isNode = (v: unknown): v is JsonNode => typeof v === "object" && v !== null && !Array.isArray(v)

/** JSONSchemaProps fields Kubernetes knows (besides x-kubernetes-*); anything else is rejected or lost. */
const kubernetesKeywords = new Set([
  "type", "format", "title", "description", "default", "enum", "nullable", "minimum", "maximum",
  "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "minItems",
  "maxItems", "uniqueItems", "minProperties", "maxProperties", "required", "properties",
  "additionalProperties", "items"
])
const extensions = new Set(["x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-validations"])

/**
 * The subset of Kubernetes' OpenAPI validation the generated schemas use. Fields a schema does not
 * declare are pruned by the API server, not refused: they are reported apart, as `pruned`.
 */
const check = (schema: JsonNode, value: unknown, path = "$"): { errors: Array<string>; pruned: Array<string> } => {
  const errors: Array<string> = []
  const pruned: Array<string> = []
  const open = schema["x-kubernetes-preserve-unknown-fields"] === true
  if (value === null) {
    if (schema["nullable"] !== true && !(open && schema["type"] === undefined)) errors.push(`${path}: null`)
    return { errors, pruned }
  }
  const actual = Array.isArray(value) ? "array" : typeof value
  const type = schema["type"]
  // the API server validates ObjectMeta itself; a CRD only says it is an object
  if (path === "$.metadata") return { errors: actual === "object" ? [] : [`${path}: expected object`], pruned }
  if (schema["x-kubernetes-int-or-string"] === true) {
    if (!Number.isInteger(value) && actual !== "string") errors.push(`${path}: expected an integer or a string`)
  } else if (type !== undefined) {
    const typed = type === "integer" ? Number.isInteger(value) : type === "number" ? actual === "number" : type === actual
    if (!typed) return { errors: [`${path}: expected ${String(type)}, got ${actual}`], pruned }
  }
  if (Array.isArray(schema["enum"]) && !schema["enum"].includes(value)) errors.push(`${path}: not one of ${schema["enum"].join(", ")}`)
  if (typeof value === "number") {
    const min = schema["minimum"]
    if (typeof min === "number" && (schema["exclusiveMinimum"] === true ? value <= min : value < min)) errors.push(`${path}: below the minimum`)
    const max = schema["maximum"]
    if (typeof max === "number" && (schema["exclusiveMaximum"] === true ? value >= max : value > max)) errors.push(`${path}: above the maximum`)
  }
  if (typeof value === "string") {
    const length = [...value].length
    if (typeof schema["minLength"] === "number" && length < schema["minLength"]) errors.push(`${path}: too short`)
    if (typeof schema["maxLength"] === "number" && length > schema["maxLength"]) errors.push(`${path}: too long`)
    if (typeof schema["pattern"] === "string" && !new RegExp(schema["pattern"], "u").test(value)) errors.push(`${path}: does not match ${schema["pattern"]}`)
  }
  const merge = (r: { errors: Array<string>; pruned: Array<string> }) => (errors.push(...r.errors), pruned.push(...r.pruned))
  if (actual === "object" && type === "object") {
    const object = value as JsonNode
    for (const key of (schema["required"] ?? []) as Array<string>) if (!(key in object)) errors.push(`${path}.${key}: required`)
    const properties = isNode(schema["properties"]) ? schema["properties"] : {}
    for (const [key, v] of Object.entries(object)) {
      const child = properties[key] ?? schema["additionalProperties"]
      if (isNode(child)) merge(check(child, v, `${path}.${key}`))
      else if (!open) pruned.push(`${path}.${key}`)
    }
  }
  if (Array.isArray(value) && typeof schema["minItems"] === "number" && value.length < schema["minItems"]) errors.push(`${path}: too few items`)
  if (Array.isArray(value) && isNode(schema["items"])) value.forEach((v, i) => merge(check(schema["items"] as JsonNode, v, `${path}[${i}]`)))
  return { errors, pruned }
}

/** apiextensions v1's structural rules, as far as our schemas can break them. */
const structuralProblems = (node: JsonNode, path = "$"): Array<string> => {
  const problems: Array<string> = []
  for (const key of Object.keys(node)) {
    if (!kubernetesKeywords.has(key) && !extensions.has(key)) problems.push(`${path}: ${key} is not a structural keyword`)
  }
  const open = node["x-kubernetes-preserve-unknown-fields"] === true || node["x-kubernetes-int-or-string"] === true
  if (typeof node["type"] !== "string" && !open) problems.push(`${path}: no type`)
  if (node["properties"] !== undefined && node["additionalProperties"] !== undefined) problems.push(`${path}: properties and additionalProperties`)
  if (node["type"] === "array" && !isNode(node["items"])) problems.push(`${path}: an array without items`)
  for (const flag of ["exclusiveMinimum", "exclusiveMaximum"]) {
    if (node[flag] !== undefined && typeof node[flag] !== "boolean") problems.push(`${path}: ${flag} must be a flag`)
  }
  if ("default" in node) {
    const { errors } = check(node, node["default"], `${path}(default)`)
    problems.push(...errors)
  }
  for (const [k, v] of Object.entries(isNode(node["properties"]) ? node["properties"] : {})) problems.push(...structuralProblems(v as JsonNode, `${path}.${k}`))
  if (isNode(node["additionalProperties"])) problems.push(...structuralProblems(node["additionalProperties"], `${path}.*`))
  if (isNode(node["items"])) problems.push(...structuralProblems(node["items"], `${path}[]`))
  return problems
}

const at = (schema: JsonNode, path: string): JsonNode =>
  path.split(".").reduce((node, key) => (node["properties"] as Record<string, JsonNode>)[key]!, schema)

const documents = (file: string) => parseAllDocuments(read(file)).map((d) => d.toJS() as JsonNode)
const yamlFiles = (dir: string) => readdirSync(new URL(dir, root)).filter((f) => f.endsWith(".yaml")).map((f) => `${dir}/${f}`)
const clone = <A>(a: A): A => JSON.parse(JSON.stringify(a))

describe("generated CRD files", () => {
  it("are what the Schemas generate (run `npm run crds` after changing one)", () => {
    for (const [file, text] of Object.entries(renderedCrds())) expect(read(file), file).toBe(text)
    expect(staleCrds(root)).toEqual([])
  })

  it("--check names the stale file and the first differing line, and fails", () => {
    const dir = mkdtempSync(join(tmpdir(), "orka-crds-"))
    try {
      cpSync(new URL("k8s/crds", root), join(dir, "k8s/crds"), { recursive: true })
      const copy = pathToFileURL(`${dir}/`)
      expect(staleCrds(copy)).toEqual([])
      const file = join(dir, toolsFile)
      writeFileSync(file, readFileSync(file, "utf8").replace("default: POST", "default: GET"))
      rmSync(join(dir, providersFile))
      expect(staleCrds(copy)).toEqual([
        `${providersFile} is missing`,
        expect.stringMatching(/^k8s\/crds\/tools\.core\.orka\.ai\.yaml differs from the Schemas \(line \d+: committed ".*default: GET", generated ".*default: POST"\)$/)
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    // the committed files are current, so the script itself agrees
    execFileSync(process.execPath, ["scripts/generate-crds.ts", "--check"], { cwd: root, stdio: "pipe" })
  })

  it("say they are generated, and by what", () => {
    for (const file of [providersFile, toolsFile, policiesFile]) expect(read(file)).toMatch(/^# Generated by scripts\/generate-crds\.ts .*do not edit\.\n/)
  })

  it("define namespaced v1alpha1 resources of their group with a status subresource and printer columns", () => {
    const columns = {
      [providersFile]: ["Type", "Ready", "Default Model", "Age"],
      [toolsFile]: ["Available", "URL", "Age"],
      [policiesFile]: ["Valid", "Scope", "Providers", "Age"]
    }
    for (const [file, kind, plural, group] of [
      [providersFile, "Provider", "providers", "core.orka.ai"],
      [toolsFile, "Tool", "tools", "core.orka.ai"],
      [policiesFile, "ClientPolicy", "clientpolicies", "gateway.orka.ai"]
    ] as const) {
      const { metadata, spec } = crd(file)
      expect(metadata.name).toBe(`${plural}.${group}`)
      expect(spec).toMatchObject({ group, scope: "Namespaced", names: { kind, plural, listKind: `${kind}List` } })
      expect(spec.versions).toHaveLength(1)
      expect(spec.versions[0]).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } })
      expect(spec.versions[0]!.additionalPrinterColumns.map((c) => c.name)).toEqual(columns[file])
    }
    const providerColumns = crd(providersFile).spec.versions[0]!.additionalPrinterColumns
    expect(providerColumns).toEqual([
      { name: "Type", type: "string", jsonPath: ".spec.type" },
      { name: "Ready", type: "boolean", jsonPath: ".status.ready" },
      { name: "Default Model", type: "string", jsonPath: ".spec.defaultModel" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
    ])
    expect(crd(toolsFile).spec.versions[0]!.additionalPrinterColumns).toEqual([
      { name: "Available", type: "boolean", jsonPath: ".status.available" },
      { name: "URL", type: "string", jsonPath: ".spec.http.url" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
    ])
    expect(crd(policiesFile).spec.names).toMatchObject({ singular: "clientpolicy", shortNames: ["cpol"] })
    expect(crd(policiesFile).spec.versions[0]!.additionalPrinterColumns).toEqual([
      { name: "Valid", type: "boolean", jsonPath: ".status.valid" },
      { name: "Scope", type: "string", jsonPath: ".spec.scope" },
      { name: "Providers", type: "string", jsonPath: ".spec.providers" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
    ])
  })

  it("are structural: every node typed or explicitly open, no references or unions, metadata only an object", () => {
    for (const file of [providersFile, toolsFile, policiesFile]) {
      const schema = schemaOf(file)
      expect(structuralProblems(schema), file).toEqual([])
      expect(schema["type"]).toBe("object")
      expect(schema["required"]).toEqual(["spec"])
      expect((schema["properties"] as JsonNode)["metadata"]).toEqual({ type: "object" })
      expect((schema["properties"] as JsonNode)["apiVersion"]).toEqual({ type: "string" })
      expect((schema["properties"] as JsonNode)["kind"]).toEqual({ type: "string" })
    }
  })

  it("default what the gateway defaults in code, from the same constants", () => {
    const provider = schemaOf(providersFile)
    expect(at(provider, "spec.secretRef.key")["default"]).toBe(defaultSecretKey)
    expect(at(provider, "spec.azure.apiVersion")["default"]).toBe(defaultAzureApiVersion)
    const tool = schemaOf(toolsFile)
    expect(at(tool, "spec.http.method")["default"]).toBe(toolHttpDefaults.method)
    expect(at(tool, "spec.http.timeout")["default"]).toBe(toolHttpDefaults.timeout)
    expect(at(tool, "spec.http.authInject")["default"]).toBe(toolHttpDefaults.authInject)
    expect(at(schemaOf(policiesFile), "spec.scope")["default"]).toBe(clientPolicyDefaults.scope)
  })
})

describe("the Provider CRD", () => {
  const schema = schemaOf(providersFile)
  const examples = [...yamlFiles("k8s/examples"), ...yamlFiles("examples/local")]
    .flatMap((file) => documents(file).map((object) => ({ file, object })))
    .filter(({ object }) => object["kind"] === "Provider")

  it("accepts every example Provider unchanged, as the gateway's Schema does", () => {
    expect(examples.map((e) => e.file)).toEqual(expect.arrayContaining(["k8s/examples/provider-anthropic.yaml", "examples/local/mock.yaml"]))
    for (const { file, object } of examples) {
      expect(check(schema, object), file).toEqual({ errors: [], pruned: [] })
      expect(Schema.is(Provider)(object), file).toBe(true)
    }
  })

  it("accepts every field of an Orka Provider and the status the gateway writes", () => {
    const provider = {
      apiVersion: "core.orka.ai/v1alpha1",
      kind: "Provider",
      metadata: { name: "azure", namespace: "team-a", labels: { team: "a" } },
      spec: {
        type: "azure-openai",
        secretRef: { name: "azure-key", key: "key" },
        baseURL: "https://example-resource.openai.azure.com",
        defaultModel: "gpt-4o",
        azure: { deploymentName: "gpt-4o", apiVersion: "2024-10-21" },
        rateLimit: { requestsPerMinute: 60, tokensPerMinute: 100000 },
        models: ["gpt-4o-mini"],
        tools: { default: "disabled" }
      },
      status: {
        ready: true,
        lastValidated: "2026-01-01T00:00:00Z",
        message: "ok",
        conditions: [{ type: "Ready", status: "True", reason: "Valid", message: "ok", lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 3 }]
      }
    }
    expect(check(schema, provider)).toEqual({ errors: [], pruned: [] })
    expect(Schema.is(Provider)(provider)).toBe(true)
  })

  it("rejects what the gateway's Schema rejects", () => {
    const base = examples.find((e) => e.file === "k8s/examples/provider-anthropic.yaml")!.object
    const { spec: _spec, ...withoutSpec } = base
    const spec = base["spec"] as JsonNode
    const invalid: Array<[string, JsonNode]> = [
      ["an unknown type", { ...base, spec: { ...spec, type: "gemini" } }],
      ["no spec", withoutSpec],
      ["no type", { ...base, spec: { defaultModel: "x" } }],
      ["a rate limit of 0", { ...base, spec: { ...spec, rateLimit: { requestsPerMinute: 0 } } }],
      ["a fractional rate limit", { ...base, spec: { ...spec, rateLimit: { tokensPerMinute: 1.5 } } }],
      ["a secretRef without a name", { ...base, spec: { ...spec, secretRef: { key: "k" } } }],
      ["an empty model id", { ...base, spec: { ...spec, models: [""] } }],
      ["a tools default outside enabled/disabled", { ...base, spec: { ...spec, tools: { default: "auto" } } }],
      ["a condition status outside True/False/Unknown", { ...base, status: { conditions: [{ type: "Ready", status: "Yes" }] } }]
    ]
    for (const [what, provider] of invalid) {
      expect(check(schema, clone(provider)).errors, what).not.toEqual([])
      expect(Schema.is(Provider)(provider), what).toBe(false)
    }
  })
})

describe("the Tool CRD", () => {
  const schema = schemaOf(toolsFile)
  const tool = (spec: JsonNode) => ({ apiVersion: "core.orka.ai/v1alpha1", kind: "Tool", metadata: { name: "t" }, spec })
  const http = (fields: JsonNode) => tool({ description: "Look up the weather", http: { url: "https://weather.example/api", ...fields } })

  it("accepts Orka's Tool objects unchanged, keeping every field Orka's controller writes", () => {
    const valid = [
      tool({
        description: "Look up the weather for a city",
        parameters: {
          type: "object",
          properties: { city: { type: "string", description: "City name" }, days: { type: "integer", minimum: 1 } },
          required: ["city"],
          additionalProperties: false
        },
        brokeredToolClass: "read",
        http: {
          url: "https://weather.example/api/forecast",
          method: "GET",
          headers: { "X-Client": "orka" },
          timeout: "1m30s",
          authSecretRef: { name: "weather", key: "token" },
          outboundAccessPolicyRef: { name: "weather-egress" },
          authInject: "body",
          authBodyKey: "api_key"
        }
      }),
      // Orka's MCP backends: a durable actor, or a Service workspace with only auth settings in http
      tool({
        description: "An MCP server in an actor",
        brokeredToolClass: "write",
        mcp: { path: "/mcp", substrateActor: { templateRef: { name: "mcp-git", namespace: "tools" }, poolRef: { name: "pool" }, boot: true } }
      }),
      {
        ...tool({
          description: "An MCP server in a workspace",
          brokeredToolClass: "coordination",
          http: { authSecretRef: { name: "mcp", key: "token" }, authInject: "header" },
          mcp: { workspace: { classRef: { name: "mcp-service" }, port: 8080 } }
        }),
        status: {
          available: true,
          endpoint: "http://mcp-git.tools.svc:8080/mcp",
          workspace: {
            classRef: { name: "mcp-service" },
            workspaceRef: { name: "ws-1", uid: "u-1" },
            state: "Ready",
            conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }]
          },
          actor: { provider: "substrate", actorID: "a-1", routeHost: "a-1.actors", templateRef: { name: "mcp-git" }, poolRef: { name: "pool" } }
        }
      },
      ...["30s", "500ms", "1.5h", "2m", "0", "1h2m3s"].map((timeout) => http({ timeout })),
      {
        ...http({}),
        status: { available: false, lastCheck: "2026-01-01T00:00:00Z", error: "connection refused", conditions: [{ type: "Ready", status: "False" }] }
      }
    ]
    for (const object of valid) {
      expect(check(schema, object), JSON.stringify(object)).toEqual({ errors: [], pruned: [] })
      expect(Schema.is(Tool)(object), JSON.stringify(object)).toBe(true)
    }
  })

  it("accepts every example Tool", () => {
    const examples = [...yamlFiles("k8s/examples"), ...yamlFiles("examples/local")]
      .flatMap((file) => documents(file).map((object) => ({ file, object })))
      .filter(({ object }) => object["kind"] === "Tool")
    expect(examples.map((e) => e.file)).toContain("k8s/examples/tool-http.yaml")
    for (const { file, object } of examples) {
      expect(check(schema, object), file).toEqual({ errors: [], pruned: [] })
      expect(Schema.is(Tool)(object), file).toBe(true)
    }
  })

  it("rejects what the gateway's Schema rejects", () => {
    const invalid: Array<[string, JsonNode]> = [
      ["no description", tool({ http: { url: "https://x.example" } })],
      ["no spec", { apiVersion: "core.orka.ai/v1alpha1", kind: "Tool", metadata: { name: "t" } }],
      ["an unknown method", http({ method: "FETCH" })],
      ["a timeout without a unit", http({ timeout: "30" })],
      ["a timeout in words", http({ timeout: "thirty seconds" })],
      ["a numeric timeout", http({ timeout: 30 })],
      ["an unknown auth injection", http({ authInject: "query" })],
      ["an authSecretRef without a key", http({ authSecretRef: { name: "s" } })],
      ["non-string headers", http({ headers: { "X-Retries": 3 } })],
      ["parameters that are not an object", tool({ description: "d", parameters: "none" })]
    ]
    for (const [what, object] of invalid) {
      expect(check(schema, clone(object)).errors, what).not.toEqual([])
      expect(Schema.is(Tool)(object), what).toBe(false)
    }
  })

  it("carries Orka's CEL rules, which the gateway's Schema checks too (the API server tier runs them)", () => {
    const rules = JSON.stringify(schema)
    expect(rules).toContain("http or an MCP workspace backend is required")
    expect(rules).toContain("http.url is required unless an MCP workspace backend is set")
    expect(rules).toContain("exactly one of substrateActor or workspace is required")
    const breaking: Array<[string, JsonNode]> = [
      ["neither http nor an MCP backend", tool({ description: "Does nothing yet" })],
      ["an empty url", tool({ description: "d", http: { url: "" } })],
      ["MCP with both backends", tool({ description: "d", mcp: { substrateActor: { templateRef: {} }, workspace: { classRef: { name: "c" }, port: 1 } } })],
      ["MCP with no backend", tool({ description: "d", mcp: { path: "/mcp" } })]
    ]
    for (const [what, object] of breaking) {
      expect(check(schema, clone(object)).errors, what).toEqual([]) // structurally fine: only CEL refuses it
      expect(Schema.is(Tool)(object), what).toBe(false)
    }
  })
})

describe("the ClientPolicy CRD", () => {
  const schema = schemaOf(policiesFile)
  const policy = (spec: JsonNode) => ({ apiVersion: "gateway.orka.ai/v1alpha1", kind: "ClientPolicy", metadata: { name: "p" }, spec })
  const limited = (fields: JsonNode) => policy({ subjects: [{ user: "alice" }], limits: { requestsPerMinute: 60 }, ...fields })

  it("accepts every example ClientPolicy, as the gateway's Schema does, and the status the gateway writes", () => {
    const examples = yamlFiles("k8s/examples")
      .flatMap((file) => documents(file).map((object) => ({ file, object })))
      .filter(({ object }) => object["kind"] === "ClientPolicy")
    expect(examples.map((e) => e.file)).toEqual(["k8s/examples/client-policy.yaml", "k8s/examples/client-policy.yaml"])
    const valid = [
      ...examples.map((e) => e.object),
      policy({
        subjects: [{ serviceAccount: "team-a/agent.v2" }, { group: "oidc:ml-team" }, { user: "alice@example.com" }],
        providers: ["claude", "gpt"],
        scope: "caller",
        limits: { requestsPerMinute: 1, tokensPerMinute: 2, concurrentRequests: 3, tokensPerDay: 4, tokensPerMonth: 5 }
      }),
      {
        ...limited({}),
        status: { valid: false, message: "m", conditions: [{ type: "Ready", status: "False", reason: "InvalidSpec", message: "m", lastTransitionTime: "2026-01-01T00:00:00Z" }] }
      }
    ]
    for (const object of valid) {
      expect(check(schema, object), JSON.stringify(object)).toEqual({ errors: [], pruned: [] })
      expect(Schema.is(ClientPolicy)(object), JSON.stringify(object)).toBe(true)
    }
  })

  it("rejects what the gateway's Schema rejects", () => {
    const invalid: Array<[string, JsonNode]> = [
      ["no subjects", policy({ limits: { tokensPerDay: 1 } })],
      ["an empty subjects list", limited({ subjects: [] })],
      ["no limits", policy({ subjects: [{ user: "alice" }] })],
      ["a limit of 0", limited({ limits: { tokensPerDay: 0 } })],
      ["a fractional limit", limited({ limits: { requestsPerMinute: 1.5 } })],
      ["a ServiceAccount without its namespace", limited({ subjects: [{ serviceAccount: "agent" }] })],
      ["a ServiceAccount that is no Kubernetes name", limited({ subjects: [{ serviceAccount: "Team_A/agent" }] })],
      ["a wildcard namespace", limited({ subjects: [{ serviceAccount: "*/agent" }] })],
      ["an empty user", limited({ subjects: [{ user: "" }] })],
      ["an unknown scope", limited({ scope: "team" })],
      ["an empty Provider name", limited({ providers: [""] })]
    ]
    for (const [what, object] of invalid) {
      expect(check(schema, clone(object)).errors, what).not.toEqual([])
      expect(Schema.is(ClientPolicy)(object), what).toBe(false)
    }
  })

  it("carries the CEL rules the gateway's Schema checks too (the API server tier runs them)", () => {
    const rules = JSON.stringify(schema)
    expect(rules).toContain("exactly one of serviceAccount, group or user is required")
    expect(rules).toContain("at least one limit is required")
    const breaking: Array<[string, JsonNode]> = [
      ["two subject kinds in one subject", limited({ subjects: [{ serviceAccount: "team-a/*", user: "alice" }] })],
      ["a subject of no kind", limited({ subjects: [{}] })],
      ["no limit set", limited({ limits: {} })]
    ]
    for (const [what, object] of breaking) {
      expect(check(schema, clone(object)).errors, what).toEqual([]) // structurally fine: only CEL refuses it
      expect(Schema.is(ClientPolicy)(object), what).toBe(false)
    }
  })
})

describe("crdFor", () => {
  const resource = (spec: Schema.Struct.Fields) =>
    Schema.Struct({ apiVersion: Schema.Literal("core.orka.ai/v1alpha1"), kind: Schema.Literal("Thing"), metadata: Schema.Struct({ name: Schema.String }), spec: Schema.Struct(spec) })
  const specOf = (fields: Schema.Struct.Fields) => at(openApiSchema(resource(fields)), "spec")["properties"] as Record<string, JsonNode>

  it("turns the JSON Schema constructs Effect emits into structural nodes", () => {
    const Shared = Schema.Struct({ name: Schema.String }).annotate({ identifier: "Shared" })
    const spec = specOf({
      unknown: Schema.Unknown,
      openRecord: Schema.Record(Schema.String, Schema.Unknown),
      nestedRecord: Schema.Record(Schema.String, Schema.Record(Schema.String, Schema.Unknown)),
      labels: Schema.Record(Schema.String, Schema.String),
      nullableInt: Schema.optional(Schema.Int),
      number: Schema.Number,
      finite: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThan(1)),
      literals: Schema.Union([Schema.Literal("a"), Schema.Literals(["b", "c"])]),
      mixed: Schema.Union([Schema.String, Schema.Boolean]),
      intOrString: Schema.Union([Schema.Int, Schema.String]),
      one: Shared,
      many: Schema.Array(Shared),
      tuple: Schema.Tuple([Schema.String, Schema.Number]),
      withRest: Schema.StructWithRest(Schema.Struct({ a: Schema.String }), [Schema.Record(Schema.String, Schema.String)]),
      described: Schema.String.annotate({ description: "said once", default: "x" })
    })
    expect(spec).toEqual({
      unknown: { "x-kubernetes-preserve-unknown-fields": true },
      openRecord: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      nestedRecord: { type: "object", additionalProperties: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      labels: { type: "object", additionalProperties: { type: "string" } },
      nullableInt: { type: "integer", nullable: true },
      number: { type: "number" },
      finite: { type: "number", minimum: 0, maximum: 1, exclusiveMaximum: true },
      literals: { type: "string", enum: ["a", "b", "c"] },
      mixed: { "x-kubernetes-preserve-unknown-fields": true },
      intOrString: { "x-kubernetes-int-or-string": true },
      one: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
      many: { type: "array", items: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } },
      tuple: { type: "array", items: { "x-kubernetes-preserve-unknown-fields": true }, minItems: 2, maxItems: 2 },
      withRest: { type: "object", properties: { a: { type: "string" } }, required: ["a"], "x-kubernetes-preserve-unknown-fields": true },
      described: { type: "string", description: "said once", default: "x" }
    })
    for (const [key, node] of Object.entries(spec)) expect(structuralProblems(node, key)).toEqual([])
  })

  it("takes defaults from the Schema's annotations", () => {
    expect(specOf({ ref: Schema.optionalKey(Schema.Struct({ key: Schema.optionalKey(Schema.String.annotate({ default: "k" })) })) })["ref"])
      .toEqual({ type: "object", properties: { key: { type: "string", default: "k" } } })
  })

  it("builds the CustomResourceDefinition around the schema", () => {
    const thing = crdFor({ schema: resource({ a: Schema.String }), kind: "Thing", plural: "things", singular: "thing" })
    expect(thing).toMatchObject({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "things.core.orka.ai" },
      spec: { group: "core.orka.ai", scope: "Namespaced", names: { kind: "Thing", listKind: "ThingList", plural: "things", singular: "thing" } }
    })
    expect(structuralProblems((thing["spec"] as Crd["spec"]).versions[0]!.schema.openAPIV3Schema)).toEqual([])
    const other = crdFor({ schema: resource({ a: Schema.String }), group: "gateway.orka.ai", kind: "Thing", plural: "things", singular: "thing" })
    expect(other).toMatchObject({ metadata: { name: "things.gateway.orka.ai" }, spec: { group: "gateway.orka.ai" } })
  })
})
