/**
 * A Responses request's tools and tool choice in IR: flat function tools, custom (freeform) tools as
 * tools with one string argument, the tools of a `namespace` by namespaced names, and the hosted
 * tools the gateway serves itself (web search, code execution) asked of its tool loop.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type { GatewayError } from "../../errors.ts"
import type { ToolChoice, ToolDefinition } from "../../ir/conversation.ts"
import { isJsonObject } from "../../json.ts"
import { invalidAt, makeDecodeAt, maybe, open, type Path, type Untranslated } from "../decoding.ts"
import { freeformArgument, type HostedTool, hostedTools, namespaced, type NamespacedName } from "./vocabulary.ts"

const JsonObject = Schema.Record(Schema.String, Schema.Unknown)
const decodeAt = makeDecodeAt(SchemaIssue.makeFormatterStandardSchemaV1())

const FunctionTool = open({
  name: Schema.String,
  description: maybe(Schema.String),
  parameters: maybe(JsonObject),
  strict: maybe(Schema.Boolean)
})
const CustomTool = open({ name: Schema.String, description: maybe(Schema.String), format: maybe(open({ type: Schema.Unknown })) })
const Grammar = open({ syntax: Schema.String, definition: Schema.String })
const NamedChoice = open({ name: Schema.String })
const Namespace = open({ name: Schema.String, description: maybe(Schema.String), tools: Schema.Array(open({ type: Schema.Unknown })) })
type NamespaceTool = typeof Namespace.Type
type Typed = Readonly<Record<string, unknown>> & { readonly type: unknown }

/** The gateway tool a hosted tool type asks for; dated variants (`web_search_preview_2025_03_11`) are the same tool. */
const hostedOf = (type: unknown): HostedTool | undefined => {
  if (typeof type !== "string") return undefined
  const undated = type.replace(/_\d{4}_\d{2}_\d{2}$/, "")
  return Object.hasOwn(hostedTools, undated) ? undated as HostedTool : undefined
}

const customDefinition = (tool: typeof CustomTool.Type, at: ReadonlyArray<string | number>) => Result.gen(function*() {
  const notes = typeof tool.description === "string" && tool.description !== "" ? [tool.description] : []
  if (tool.format?.type === "grammar") {
    const { definition, syntax } = yield* decodeAt(Grammar, [...at, "format"], tool.format)
    notes.push(`The input must follow this ${syntax} grammar:\n${definition}`)
  }
  return {
    name: tool.name,
    ...(notes.length === 0 ? {} : { description: notes.join("\n\n") }),
    parameters: {
      type: "object",
      properties: { [freeformArgument]: { type: "string", description: "The tool's whole input, as plain text (not JSON)." } },
      required: [freeformArgument],
      additionalProperties: false
    }
  } satisfies ToolDefinition
})

export const decodeTools = (given: ReadonlyArray<Typed> | null | undefined, untranslated: Untranslated) => Result.gen(function*() {
  const tools: Array<ToolDefinition> = []
  const freeform = new Set<string>()
  const hosted = new Set<string>()
  const inNamespace = new Map<string, NamespacedName>()
  // a namespace's tools are offered beside the others, each by its namespaced name
  const flat = (given ?? []).flatMap((tool, i): Array<readonly [Typed, Path, NamespaceTool | undefined]> => {
    if (tool.type !== "namespace") return [[tool, ["tools", i], undefined]]
    const group = decodeAt(Namespace, ["tools", i], tool)
    if (Result.isFailure(group)) return [[tool, ["tools", i], undefined]]
    return group.success.tools.map((inner, j) => [inner, ["tools", i, "tools", j], group.success] as const)
  })
  for (const [given, at, group] of flat) {
    let tool = given
    if (tool.type === "namespace") {
      yield* decodeAt(Namespace, at, tool)
      continue
    }
    if (group !== undefined) {
      if (tool.type !== "function" && tool.type !== "custom") return yield* Result.fail(invalidAt([...at, "type"], [], "expected \"function\" or \"custom\" inside a namespace"))
      const named = yield* decodeAt(NamedChoice, at, tool)
      const name = namespaced({ namespace: group.name, name: named.name })
      inNamespace.set(name, { namespace: group.name, name: named.name })
      const description = [group.description, typeof tool["description"] === "string" ? tool["description"] : undefined].filter((d) => d !== undefined && d !== "").join("\n\n")
      tool = { ...tool, name, ...(description === "" ? {} : { description }) }
    }
    const served = hostedOf(tool.type)
    if (tool.type === "function") {
      const fn = yield* decodeAt(FunctionTool, at, tool)
      tools.push({
        name: fn.name,
        ...(typeof fn.description === "string" ? { description: fn.description } : {}),
        parameters: fn.parameters ?? { type: "object", properties: {} },
        ...(typeof fn.strict === "boolean" ? { strict: fn.strict } : {})
      })
    } else if (tool.type === "custom") {
      const custom = yield* decodeAt(CustomTool, at, tool)
      tools.push(yield* customDefinition(custom, at))
      freeform.add(custom.name)
    } else if (served !== undefined) {
      // the gateway's tool loop offers its own tool for it: not a tool of the client's
      hosted.add(hostedTools[served])
    } else {
      untranslated.note([...at, "type"], `a hosted tool of type ${JSON.stringify(tool.type)} is served by OpenAI providers only`, true)
    }
  }
  return { tools, freeform, hosted, namespaced: inNamespace }
})

const choiceExpected = "expected \"auto\", \"none\", \"required\", {type: \"function\", name} or {type: \"custom\", name}"

export const decodeToolChoice = (choice: unknown, untranslated: Untranslated): Result.Result<ToolChoice | undefined, GatewayError> => {
  if (choice === undefined || choice === null) return Result.succeed(undefined)
  if (choice === "auto" || choice === "none" || choice === "required") return Result.succeed({ type: choice })
  if (!isJsonObject(choice) || typeof choice.type !== "string") return Result.fail(invalidAt(["tool_choice"], [], choiceExpected))
  const served = hostedOf(choice.type)
  if (choice.type === "function" || choice.type === "custom") {
    return Result.map(decodeAt(NamedChoice, ["tool_choice"], choice), ({ name }) => ({ type: "tool", name }))
  }
  if (served !== undefined) return Result.succeed({ type: "tool", name: hostedTools[served] })
  if (choice.type === "allowed_tools") {
    untranslated.note(["tool_choice"], "a tool choice among allowed tools (OpenAI only)")
    return Result.succeed(undefined)
  }
  // a tool only OpenAI runs (file_search, mcp, shell…): its tool is already listed as essential
  untranslated.note(["tool_choice", "type"], `a tool choice of type ${JSON.stringify(choice.type)} is served by OpenAI providers only`, true)
  return Result.succeed(undefined)
}
