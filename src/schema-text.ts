/**
 * How the gateway's Effect Schemas are shown to people and models: a decode failure naming each
 * field at fault, and the JSON Schema Effect emits without what tells a reader nothing.
 */
import type * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"

export type IssueFormatter = ReturnType<typeof SchemaIssue.makeFormatterStandardSchemaV1>

const defaultFormatter: IssueFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

export interface FieldIssue {
  /** the field's path from the decoded value (`["messages", "2", "content"]`) */
  readonly path: ReadonlyArray<string>
  readonly message: string
}

/** Every issue of a decode failure, with its field's path. */
export const issuesOf = (formatter: IssueFormatter, error: Schema.SchemaError): Array<FieldIssue> =>
  formatter(error.issue).issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => (typeof segment === "object" ? String(segment.key) : String(segment))),
    message: issue.message
  }))

export const firstIssue = (formatter: IssueFormatter, error: Schema.SchemaError): FieldIssue | undefined => issuesOf(formatter, error)[0]

/** Every issue as `path.to.field: message`, joined by "; " (`object` for the value itself). */
export const describeIssues = (error: Schema.SchemaError, formatter: IssueFormatter = defaultFormatter): string =>
  issuesOf(formatter, error).map((i) => `${i.path.join(".") || "object"}: ${i.message}`).join("; ")

/** Effect's JSON Schema bound of an integer (±(2^53 - 1)): no limit a reader needs to know. */
export const isSafeIntegerBound = (v: unknown): boolean => v === Number.MAX_SAFE_INTEGER || v === -Number.MAX_SAFE_INTEGER
