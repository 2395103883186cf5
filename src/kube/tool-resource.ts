/**
 * The Tool resource (`core.orka.ai/v1alpha1`, kind Tool): a custom HTTP tool the gateway can offer to
 * models. Compatible with Orka's Tool objects; `spec.mcp` is accepted and reported as unsupported.
 */
import { Schema } from "effect"
import { ApiVersion, Condition, ObjectMeta } from "./resources.ts"

/** Arbitrary JSON (a JSON Schema, an MCP server description): kept as written. */
const OpenObject = Schema.Record(Schema.String, Schema.Unknown)

export const ToolSpec = Schema.Struct({
  description: Schema.NonEmptyString,
  parameters: Schema.optionalKey(OpenObject),
  http: Schema.optionalKey(Schema.Struct({
    url: Schema.NonEmptyString,
    method: Schema.optionalKey(Schema.Literals(["GET", "POST", "PUT", "PATCH", "DELETE"])),
    headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
    /** a duration such as "30s" or "2m" */
    timeout: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^\d+(ms|s|m)$/))),
    authSecretRef: Schema.optionalKey(Schema.Struct({ name: Schema.NonEmptyString, key: Schema.NonEmptyString })),
    authInject: Schema.optionalKey(Schema.Literals(["header", "body"])),
    authBodyKey: Schema.optionalKey(Schema.String)
  })),
  mcp: Schema.optionalKey(OpenObject)
})

export const ToolStatus = Schema.Struct({
  available: Schema.optionalKey(Schema.Boolean),
  lastCheck: Schema.optionalKey(Schema.String),
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
