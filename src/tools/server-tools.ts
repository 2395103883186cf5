/**
 * The server-side tools: the built-ins (web_fetch, code_exec, file_read, file_write, and web_search
 * when a backend is configured) and the custom HTTP tools from `Tool` resources, made once per set of
 * Tools, and offered to each conversation over a workspace that lives as long as its scope.
 * Running a call never fails: a failure, a timeout or bad arguments come back to the model as
 * `{"success": false, "error": …}`. Each call is logged and counted (name, duration, outcome),
 * never with a tool's secret.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { ToolCallPart, ToolDefinition } from "../ir/conversation.ts"
import { labelled, metrics } from "../metrics.ts"
import { annotate, executeToolSpan, SpanAttr } from "../tracing.ts"
import type { Tool } from "../kube/tool-resource.ts"
import { argumentsObject, type Builtin, decodeArguments, definitionOf } from "./builtin.ts"
import { codeExec, codeExecTool, type SandboxLimits } from "./code-exec.ts"
import { ToolFailure } from "./failure.ts"
import { httpToolDefinition, parseDuration, runHttpTool } from "./http-tool.ts"
import { type ServerTools, toolFailure, type ToolResult } from "./loop.ts"
import type { AddressPolicy } from "./ssrf.ts"
import { defaultLimits as fetchDefaults, webFetch, webFetchTool } from "./web-fetch.ts"
import { type SearchBackendConfig, webSearch, webSearchTool } from "./web-search.ts"
import { type DiskBudget, fileRead, fileReadTool, fileWrite, fileWriteTool, makeWorkspace, type Workspace } from "./workspace.ts"

const toolCalls = labelled(metrics.toolCalls)
const toolSeconds = labelled(metrics.toolSeconds)

export interface ToolSetConfig {
  readonly addressPolicy: AddressPolicy
  readonly search: SearchBackendConfig | undefined
  readonly sandbox: SandboxLimits
  /** `code_exec` programs that may run at once, across conversations */
  readonly sandboxSlots: Semaphore.Semaphore
  readonly workspaceQuotaBytes: number
  /** shared by every conversation's workspace */
  readonly diskBudget: DiskBudget
  /** per call, in ms (a Tool's own `spec.http.timeout` applies inside it) */
  readonly toolTimeoutMs: number
}

export interface CustomTool {
  readonly tool: Tool
  /** the value of `spec.http.authSecretRef`, already read from its Secret */
  readonly authKey: string | undefined
}

/** The server tools of a configuration and a set of Tool resources, made once for every conversation. */
export interface ToolSet {
  readonly definitions: ReadonlyArray<ToolDefinition>
  /**
   * The tools for one conversation, their results masked by `mask` (every secret the gateway holds,
   * and the caller's) before the model or the client sees them; its workspace, made on first use, is
   * removed when the scope closes.
   */
  readonly forConversation: (mask: (text: string) => string) => Effect.Effect<ServerTools, never, Scope.Scope>
}

/** A built-in, bound to what it runs with: offered by its definition, run with decoded arguments in a conversation's workspace. */
interface BoundBuiltin {
  readonly definition: ToolDefinition
  readonly run: (call: ToolCallPart, workspace: Effect.Effect<Workspace>) => Effect.Effect<unknown, ToolFailure>
}

const bind = <Params extends Schema.Decoder<unknown>>(
  tool: Builtin<Params>,
  run: (args: Params["Type"], workspace: Effect.Effect<Workspace>) => Effect.Effect<unknown, ToolFailure>
): BoundBuiltin => ({
  definition: definitionOf(tool),
  run: (call, workspace) => Effect.flatMap(decodeArguments(tool, call.arguments), (args) => run(args, workspace))
})

export const makeToolSet = (config: ToolSetConfig, custom: ReadonlyArray<CustomTool>): ToolSet => {
  const builtins: Record<string, BoundBuiltin> = {
    web_fetch: bind(webFetchTool, (args) => webFetch(args, config.addressPolicy, fetchDefaults)),
    code_exec: bind(codeExecTool, (args, workspace) =>
      Effect.flatMap(workspace, (ws) => codeExec(ws, args, config.sandbox)).pipe(Semaphore.withPermit(config.sandboxSlots))),
    file_read: bind(fileReadTool, (args, workspace) => Effect.flatMap(workspace, (ws) => fileRead(ws, args))),
    file_write: bind(fileWriteTool, (args, workspace) => Effect.flatMap(workspace, (ws) => fileWrite(ws, args))),
    ...(config.search === undefined ? {} : { web_search: bind(webSearchTool, (args) => webSearch(config.search!, args)) })
  }
  const customByName = new Map(custom.map((c) => [c.tool.metadata.name, c]))
  // a built-in keeps its name: a Tool resource cannot replace web_fetch behind the operator's back
  for (const name of Object.keys(builtins)) customByName.delete(name)
  const definitions = [
    ...Object.values(builtins).map((b) => b.definition),
    ...[...customByName.values()].map((c) => httpToolDefinition(c.tool))
  ]

  const runOne = (call: ToolCallPart, workspace: Effect.Effect<Workspace>): Effect.Effect<unknown, ToolFailure> => {
    const builtin = builtins[call.name]
    const customTool = customByName.get(call.name)
    return Effect.suspend(() => {
      if (builtin !== undefined) return builtin.run(call, workspace)
      if (customTool !== undefined) return Effect.flatMap(argumentsObject(call.arguments), (args) => runHttpTool(customTool.tool, args, customTool.authKey))
      return Effect.fail(new ToolFailure(`no tool named ${call.name}`))
    }).pipe(Effect.catchDefect((e) => Effect.fail(e instanceof ToolFailure ? e : new ToolFailure(String(e)))))
  }

  const run = (call: ToolCallPart, workspace: Effect.Effect<Workspace>, mask: (text: string) => string): Effect.Effect<ToolResult> => {
    const started = Date.now()
    const limit = customByName.has(call.name)
      ? Math.min(config.toolTimeoutMs, parseDuration(customByName.get(call.name)!.tool.spec.http?.timeout, config.toolTimeoutMs) + 1000)
      : config.toolTimeoutMs
    return runOne(call, workspace).pipe(
      Effect.timeoutOrElse({
        duration: limit,
        orElse: () =>
          Effect.andThen(annotate(() => ({ [SpanAttr.errorType]: "timeout" })), Effect.fail(new ToolFailure(`the tool did not finish within ${limit / 1000}s`)))
      }),
      executeToolSpan(call),
      Effect.map((result): ToolResult => ({ text: JSON.stringify(result), isError: false })),
      Effect.catch((e: ToolFailure) => Effect.succeed(toolFailure(e.message))),
      Effect.tap(({ isError }) => {
        const outcome = isError ? "error" : "ok"
        return Effect.logInfo("tool call").pipe(
          Effect.annotateLogs({ tool: call.name, outcome, duration_ms: Date.now() - started }),
          Effect.andThen(Metric.update(toolCalls({ tool: call.name, outcome }), 1)),
          Effect.andThen(Metric.update(toolSeconds({ tool: call.name }), Duration.toSeconds(Duration.millis(Date.now() - started))))
        )
      }),
      Effect.map((result) => ({ ...result, text: mask(result.text) }))
    )
  }

  return {
    definitions,
    forConversation: (mask) =>
      Effect.gen(function*() {
        // made when a tool first needs it (most conversations call none), removed with the conversation
        const workspace = yield* Effect.cached(Scope.provide(makeWorkspace(config.workspaceQuotaBytes, config.diskBudget), yield* Effect.scope))
        return { definitions, run: (call) => run(call, workspace, mask) }
      })
  }
}
