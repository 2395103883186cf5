/**
 * A built-in tool's parameters are one Schema: it gives the model the tool's JSON Schema and the tool
 * its decoded arguments, so what is offered and what is accepted cannot disagree. Bad arguments come
 * back to the model naming each field (`path: is required`), for it to try again.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type { ToolDefinition } from "../ir/conversation.ts"
import { isJsonObject } from "../json.ts"
import { describeIssues, isSafeIntegerBound } from "../schema-text.ts"
import { ToolFailure } from "./failure.ts"

export interface Builtin<Params extends Schema.Top = Schema.Top> {
  readonly name: string
  readonly description: string
  readonly params: Params
}

const plain = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(plain)
  if (!isJsonObject(node)) return node
  return Object.fromEntries(Object.entries(node).flatMap(([key, value]): Array<[string, unknown]> =>
    ((key === "minimum" || key === "maximum") && isSafeIntegerBound(value)) || (key === "additionalProperties" && value === true)
      ? []
      : [[key, plain(value)]]
  ))
}

// offered to every conversation: made once per tool
const definitions = new WeakMap<Builtin, ToolDefinition>()

/** The tool as the model is offered it: its parameters as JSON Schema (of the decoded side). */
export const definitionOf = (tool: Builtin): ToolDefinition => {
  const known = definitions.get(tool)
  if (known !== undefined) return known
  const definition = {
    name: tool.name,
    description: tool.description,
    parameters: plain(Schema.toJsonSchemaDocument(Schema.toType(tool.params)).schema) as Record<string, unknown>
  }
  definitions.set(tool, definition)
  return definition
}

const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) => (issue._tag === "MissingKey" ? "is required" : SchemaIssue.defaultLeafHook(issue))
})

/** A call's arguments as a JSON object. */
export const argumentsObject = (text: string): Effect.Effect<Readonly<Record<string, unknown>>, ToolFailure> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text === "" ? "{}" : text)
  } catch {
    return Effect.fail(new ToolFailure("the arguments are not valid JSON"))
  }
  return isJsonObject(parsed) ? Effect.succeed(parsed) : Effect.fail(new ToolFailure("the arguments must be a JSON object"))
}

/** The call's arguments, decoded; every field at fault is named. */
export const decodeArguments = <Params extends Schema.Decoder<unknown>>(
  tool: Builtin<Params>,
  text: string
): Effect.Effect<Params["Type"], ToolFailure> =>
  Effect.flatMap(argumentsObject(text), (args) =>
    Schema.decodeUnknownEffect(tool.params)(args, { errors: "all" }).pipe(
      Effect.mapError((error) => new ToolFailure(describeIssues(error, formatIssue)))
    ))
