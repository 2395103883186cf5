/**
 * The Tool resource (`core.orka.ai/v1alpha1`, kind Tool): a custom tool the gateway can offer to
 * models, called over HTTP. The same object as Orka's (its `api/v1alpha1/tool_types.go`), so that a
 * cluster that installs this CRD in place of Orka's keeps every field Orka's controller writes: the
 * brokered tool class, the outbound access policy, MCP backends and the status Orka reports for
 * them. Fields the gateway does not use are kept as written; what it cannot run (MCP) is reported in
 * `status`, not refused at admission. Orka's two CEL rules are checks here and in the CRD.
 */
import * as Schema from "effect/Schema"
import { Condition, customResource, rule } from "./resources.ts"

/** What an absent `spec.http` field means; the annotations below write the same values into the CRD. */
export const toolHttpDefaults = { method: "POST", timeout: "30s", authInject: "header" } as const

/** Arbitrary JSON (a JSON Schema): kept as written. */
const OpenObject = Schema.Record(Schema.String, Schema.Unknown)

/** Go's duration syntax, which Orka parses: "30s", "1m30s", "1.5h", "500ms". */
const Duration = Schema.String.check(Schema.isPattern(/^(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/u))

const NonEmpty = Schema.String.check(Schema.isMinLength(1))

const Reference = Schema.Struct({ name: NonEmpty })

export const ToolHttp = Schema.Struct({
  /** required for plain HTTP tools; an MCP-backed tool may carry only auth settings here */
  url: Schema.optionalKey(Schema.String),
  method: Schema.optionalKey(
    Schema.Literals(["GET", "POST", "PUT", "PATCH", "DELETE"]).annotate({ default: toolHttpDefaults.method })
  ),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  timeout: Schema.optionalKey(Duration.annotate({ default: toolHttpDefaults.timeout })),
  authSecretRef: Schema.optionalKey(Schema.Struct({ name: Schema.String, key: Schema.String })),
  /** Orka's OutboundAccessPolicy in the same namespace; kept for Orka, not enforced here */
  outboundAccessPolicyRef: Schema.optionalKey(Reference),
  authInject: Schema.optionalKey(Schema.Literals(["header", "body"]).annotate({ default: toolHttpDefaults.authInject })),
  /** the body field that carries the secret when `authInject` is `body` */
  authBodyKey: Schema.optionalKey(Schema.String)
})

const NamespacedReference = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  namespace: Schema.optionalKey(Schema.String)
})

const McpWorkspace = Schema.Struct({
  classRef: Reference,
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
})

const SubstrateActor = Schema.Struct({
  templateRef: NamespacedReference,
  poolRef: Schema.optionalKey(NamespacedReference),
  boot: Schema.optionalKey(Schema.Boolean)
})

type McpFields = { readonly substrateActor?: unknown; readonly workspace?: unknown }

export const ToolMcp = Schema.Struct({
  path: Schema.optionalKey(Schema.String),
  workspace: Schema.optionalKey(McpWorkspace),
  substrateActor: Schema.optionalKey(SubstrateActor)
}).check(rule<McpFields>(
  "has(self.substrateActor) != has(self.workspace)",
  "exactly one of substrateActor or workspace is required",
  (m) => (m.substrateActor !== undefined) !== (m.workspace !== undefined)
))

type SpecFields = { readonly http?: { readonly url?: string }; readonly mcp?: McpFields }
const hasMcpBackend = (s: SpecFields) => s.mcp !== undefined && (s.mcp.substrateActor !== undefined || s.mcp.workspace !== undefined)

export const ToolSpec = Schema.Struct({
  description: Schema.String,
  /** the JSON Schema of the tool's arguments, as the model sees it */
  parameters: Schema.optionalKey(OpenObject),
  /** Orka's governance class for brokered calls; kept for Orka */
  brokeredToolClass: Schema.optionalKey(Schema.Literals(["read", "write", "coordination"])),
  http: Schema.optionalKey(ToolHttp),
  mcp: Schema.optionalKey(ToolMcp)
}).check(
  rule<SpecFields>(
    "has(self.http) || (has(self.mcp) && (has(self.mcp.substrateActor) || has(self.mcp.workspace)))",
    "http or an MCP workspace backend is required",
    (s) => s.http !== undefined || hasMcpBackend(s)
  ),
  rule<SpecFields>(
    "!has(self.http) || (has(self.mcp) && (has(self.mcp.substrateActor) || has(self.mcp.workspace))) || (has(self.http.url) && self.http.url.size() > 0)",
    "http.url is required unless an MCP workspace backend is set",
    (s) => s.http === undefined || hasMcpBackend(s) || (s.http.url !== undefined && s.http.url.length > 0)
  )
)
export type ToolSpec = typeof ToolSpec.Type

const WorkspaceStatus = Schema.Struct({
  classRef: Reference,
  workspaceRef: Schema.optionalKey(Schema.Struct({ name: Schema.String, uid: Schema.optionalKey(Schema.String) })),
  state: Schema.optionalKey(Schema.String),
  conditions: Schema.optionalKey(Schema.Array(Condition))
})

const ActorStatus = Schema.Struct({
  provider: Schema.optionalKey(Schema.Literals(["agent-sandbox", "substrate"])),
  actorID: Schema.optionalKey(Schema.String),
  routeHost: Schema.optionalKey(Schema.String),
  templateRef: Schema.optionalKey(NamespacedReference),
  poolRef: Schema.optionalKey(NamespacedReference)
})

export const ToolStatus = Schema.Struct({
  available: Schema.optionalKey(Schema.Boolean),
  lastCheck: Schema.optionalKey(Schema.String.annotate({ format: "date-time" })),
  error: Schema.optionalKey(Schema.String),
  /** written by Orka's controller: the endpoint its workers use, the MCP workspace or actor */
  endpoint: Schema.optionalKey(Schema.String),
  workspace: Schema.optionalKey(WorkspaceStatus),
  actor: Schema.optionalKey(ActorStatus),
  conditions: Schema.optionalKey(Schema.Array(Condition))
})

export const Tool = customResource("Tool", ToolSpec, ToolStatus)
export type Tool = typeof Tool.Type
