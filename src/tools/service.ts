/**
 * The server-side tools as a service (`ToolLoop`): the agent loop for one request, with the built-ins the
 * configuration allows and the usable `Tool` resources of the moment. Tool resources and Secrets are
 * read from the KubeClient caches and rebuilt when they change, so a request only reads memory.
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import { GatewayConfig, type GatewayConfigShape } from "../config.ts"
import type { GatewayError } from "../errors.ts"
import type { Conversation } from "../ir/conversation.ts"
import { foldCompletion } from "../ir/collect.ts"
import type { AnswerEvent, Completion } from "../ir/response.ts"
import { KubeClient, type KubeObject, rebuildOnChange } from "../kube/client.ts"
import { secretKey, secretsByKey } from "../kube/resources.ts"
import { headerSecrets, Redactor } from "../redact.ts"
import { streamTracer } from "../tracing.ts"
import { defaultSandboxLimits } from "./code-exec.ts"
import { type KeepTurn, loopLimits, type Model, runToolLoop } from "./loop.ts"
import { runToolLoopWhole, type WholeModel } from "./whole-loop.ts"
import { buildToolSnapshot, type ToolSnapshot } from "./custom-tools.ts"
import { makeToolSet, type ToolSet, type ToolSetConfig } from "./server-tools.ts"
import { addressPolicy } from "./ssrf.ts"
import type { SearchBackendConfig } from "./web-search.ts"
import { makeDiskBudget } from "./workspace.ts"

/** Which of these tools the caller may be offered. */
export type ToolFilter = (names: ReadonlyArray<string>) => Effect.Effect<ReadonlySet<string>>

export interface LoopOptions {
  /** with --authorize-tools: which tools the caller may be offered */
  readonly filter?: ToolFilter
  /** the caller's own secrets (its token), masked in tool results and progress like every key */
  readonly callerSecrets?: ReadonlyArray<string>
  /** where a turn that also called the client's tools keeps the gateway's calls (see loop.ts) */
  readonly keep?: KeepTurn
}

export interface ToolLoopShape {
  /** The loop over `model` for one conversation; its tools and workspace live as long as the scope (the stream's, unwrapped). */
  readonly loop: (conversation: Conversation, model: Model, options?: LoopOptions) => Effect.Effect<Stream.Stream<AnswerEvent, GatewayError>, never, Scope.Scope>
  /** The loop for a client that waits for the whole answer, over a model asked for whole answers; its tools live as long as the scope. */
  readonly whole: (conversation: Conversation, model: WholeModel, options?: LoopOptions) => Effect.Effect<Completion, GatewayError, Scope.Scope>
  /** The Tool resources of the moment: those offered, and why the others are not (what their status says). */
  readonly snapshot: () => ToolSnapshot
  /** whether a built-in of this name can be offered now (web_search needs a configured backend) */
  readonly offers: (builtin: string) => boolean
}

/** Tool progress shows the model's arguments: masked like the results. */
const maskProgress = (mask: (text: string) => string) => (event: AnswerEvent): AnswerEvent =>
  event.type === "server_tool_call" || event.type === "server_tool_result"
    ? { ...event, call: { ...event.call, arguments: mask(event.call.arguments) } }
    : event

export class ToolLoop extends Context.Service<ToolLoop, ToolLoopShape>()("orka/ToolLoop") {
  static readonly layer = Layer.effect(
    ToolLoop,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const kube = yield* KubeClient
      const redactor = yield* Redactor
      const limits = loopLimits(config)
      const sandboxSlots = yield* Semaphore.make(config.codeExecConcurrency)
      const diskBudget = makeDiskBudget(config.workspaceTotal)
      const policy = addressPolicy({ blocked: config.toolBlockCidrs, allowed: config.toolAllowCidrs })
      const toolSetConfig = (search: SearchBackendConfig | undefined): ToolSetConfig => ({
        addressPolicy: policy,
        search,
        sandbox: { ...defaultSandboxLimits, pythonSpares: config.codeExecConcurrency },
        sandboxSlots,
        workspaceQuotaBytes: config.workspaceQuota,
        diskBudget,
        toolTimeoutMs: config.toolTimeout
      })
      // the tools of the moment, made again only when Tools or Secrets change
      let current: { readonly tools: ToolSnapshot; readonly search: SearchBackendConfig | undefined; readonly set: ToolSet } = {
        tools: { usable: [], unusable: new Map() },
        search: undefined,
        set: makeToolSet(toolSetConfig(undefined), [])
      }
      let reported = ""

      const rebuild = Effect.suspend(() => {
        const tools = buildToolSnapshot(kube.tools.items(), kube.secrets.items(), config.namespace)
        const search = searchBackend(config, kube.secrets.items())
        const backend = Result.isSuccess(search) ? search.success : undefined
        current = { tools, search: backend, set: makeToolSet(toolSetConfig(backend), tools.usable) }
        redactor.register("tools", [
          current.search?.apiKey,
          ...tools.usable.flatMap(({ authKey, tool }) => [
            authKey,
            ...headerSecrets(tool.spec.http?.headers ?? {})
          ])
        ])
        const problems = [...tools.unusable].map(([name, p]) => `${name}: ${p.message}`)
        if (Result.isFailure(search)) problems.push(`web_search: ${search.failure}`)
        const summary = problems.join("; ")
        if (summary === reported) return Effect.void
        reported = summary
        return summary === "" ? Effect.void : Effect.logWarning("tools not offered").pipe(Effect.annotateLogs({ problems: summary }))
      })
      // Requests wait for the first load, but only in the first seconds: a cluster without the Tool CRD,
      // whose Tools never load, has only the built-ins and must not make every request wait.
      const loaded = yield* rebuildOnChange([kube.tools, kube.secrets], rebuild)
      const started = yield* Deferred.make<void>()
      yield* Deferred.await(loaded).pipe(Effect.timeoutOption("2 seconds"), Effect.andThen(Deferred.succeed(started, undefined)), Effect.forkScoped)
      const firstLoad = Deferred.await(started)

      /** The tools for one conversation (living as long as the scope), and how its secrets are masked. */
      const prepare = (options: LoopOptions) =>
        Effect.gen(function*() {
          yield* firstLoad
          const mask = (text: string) => redactor.mask(text, options.callerSecrets)
          const server = yield* current.set.forConversation(mask)
          const allowed = options.filter === undefined ? undefined : yield* options.filter(server.definitions.map((d) => d.name))
          const offered = allowed === undefined ? server : { ...server, definitions: server.definitions.filter((d) => allowed.has(d.name)) }
          return { offered, mask, run: { ...(options.keep === undefined ? {} : { keep: options.keep }), showModel: mask } }
        })

      return ToolLoop.of({
        snapshot: () => current.tools,
        offers: (builtin) => builtin !== "web_search" || current.search !== undefined,
        loop: (conversation, model, options = {}) =>
          Effect.gen(function*() {
            const { mask, offered, run } = yield* prepare(options)
            const trace = yield* streamTracer
            return runToolLoop(conversation, model, offered, limits, { ...run, trace }).pipe(Stream.map(maskProgress(mask)))
          }),
        whole: (conversation, model, options = {}) =>
          Effect.gen(function*() {
            const { mask, offered, run } = yield* prepare(options)
            const events = yield* runToolLoopWhole(conversation, model, offered, limits, run)
            return yield* foldCompletion(events.map(maskProgress(mask)))
          })
      })
    })
  )
}

/** The configured search backend with its key, or why it cannot be offered. */
const searchBackend = (config: GatewayConfigShape, secrets: ReadonlyArray<KubeObject>): Result.Result<SearchBackendConfig | undefined, string> => {
  if (config.webSearchBackend === undefined) return Result.succeed(undefined)
  const base = { backend: config.webSearchBackend, url: config.webSearchUrl, timeoutMs: config.toolTimeout }
  const ref = config.webSearchSecret
  if (ref === undefined) {
    return config.webSearchBackend === "brave" || config.webSearchBackend === "tavily"
      ? Result.fail(`${config.webSearchBackend} needs an API key: set --web-search-secret`)
      : Result.succeed({ ...base, apiKey: undefined })
  }
  const key = secretKey(secretsByKey(secrets, config.namespace), config.namespace, ref.name, ref.key)
  return Result.isSuccess(key) ? Result.succeed({ ...base, apiKey: key.success }) : Result.fail(key.failure.message)
}
