/**
 * The Tool resource (`core.orka.ai/v1alpha1`, kind Tool): a custom tool the gateway can offer to
 * models, called over HTTP. Compatible with Orka's Tool objects, so fields Orka accepted are accepted
 * here and checked when the tool is used (reported in `status`), not refused at admission;
 * `spec.mcp` is kept as written.
 */
import { Schema } from "effect"
import { ApiVersion, Condition, ObjectMeta } from "./resources.ts"

/** What an absent `spec.http` field means; the annotations below write the same values into the CRD. */
export const toolHttpDefaults = { method: "POST", timeout: "30s", authInject: "header" } as const

/** Arbitrary JSON (a JSON Schema, an MCP server description): kept as written. */
const OpenObject = Schema.Record(Schema.String, Schema.Unknown)

/** Go's duration syntax, which Orka parses: "30s", "1m30s", "1.5h", "500ms". */
const Duration = Schema.String.check(Schema.isPattern(/^(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/u))

export const ToolHttp = Schema.Struct({
  url: Schema.String,
  method: Schema.optionalKey(
    Schema.Literals(["GET", "POST", "PUT", "PATCH", "DELETE"]).annotate({ default: toolHttpDefaults.method })
  ),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  timeout: Schema.optionalKey(Duration.annotate({ default: toolHttpDefaults.timeout })),
  authSecretRef: Schema.optionalKey(Schema.Struct({ name: Schema.String, key: Schema.String })),
  authInject: Schema.optionalKey(Schema.Literals(["header", "body"]).annotate({ default: toolHttpDefaults.authInject })),
  /** the body field that carries the secret when `authInject` is `body` */
  authBodyKey: Schema.optionalKey(Schema.String)
})

export const ToolSpec = Schema.Struct({
  description: Schema.String,
  /** the JSON Schema of the tool's arguments, as the model sees it */
  parameters: Schema.optionalKey(OpenObject),
  http: Schema.optionalKey(ToolHttp),
  mcp: Schema.optionalKey(OpenObject)
})
export type ToolSpec = typeof ToolSpec.Type

export const ToolStatus = Schema.Struct({
  available: Schema.optionalKey(Schema.Boolean),
  lastCheck: Schema.optionalKey(Schema.String.annotate({ format: "date-time" })),
  error: Schema.optionalKey(Schema.String),
  conditions: Schema.optionalKey(Schema.Array(Condition))
})

export const Tool = Schema.Struct({
  apiVersion: Schema.Literal(ApiVersion),
  kind: Schema.Literal("Tool"),
  metadata: ObjectMeta,
  spec: ToolSpec,
  status: Schema.optionalKey(ToolStatus)
})
export type Tool = typeof Tool.Type
