/**
 * `code_exec` (Orka's schema: `{language, code, timeout = 30 s, 1..60}`): JavaScript in QuickJS
 * (code-exec-worker.ts) or Python in Pyodide (code-exec-python-worker.ts), each compiled to wasm and
 * run on a worker thread of its own, sharing the conversation's workspace. The worker is terminated
 * if the sandbox itself overruns, so the gateway's event loop never waits on a model's program.
 * Shell languages are a clear tool error: no sandbox here runs them.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Worker } from "node:worker_threads"
import type { PythonJob, PythonLimits } from "./code-exec-python-worker.ts"
import type { SandboxJob, SandboxResult } from "./code-exec-worker.ts"
import type { Builtin } from "./builtin.ts"
import { ToolFailure } from "./failure.ts"
import type { Workspace } from "./workspace.ts"

export const codeExecTool = {
  name: "code_exec",
  description: "Run a Python (standard library) or JavaScript program in a sandbox: no network, files only in this conversation's workspace (the working directory in Python; fs.readFile, fs.writeFile, fs.readdir in JavaScript). Printed output is returned.",
  params: Schema.Struct({
    // bash and sh are named so that a model asking for them is told why not, in the tool's own words
    language: Schema.Literals(["python", "python3", "javascript", "node", "bash", "sh"]).annotate({ description: "The program's language; python, python3, javascript and node are supported" }),
    code: Schema.String.annotate({ description: "The program" }),
    timeout: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 60 })).annotate({ description: "Seconds before it is stopped (default 30)" }))
  })
} satisfies Builtin<Schema.Top>

type CodeExecArgs = typeof codeExecTool.params.Type

export interface SandboxLimits {
  /** JavaScript's heap */
  readonly memoryBytes: number
  /** Python's whole wasm memory, interpreter included */
  readonly pythonMemoryBytes: number
  readonly outputLimit: number
  /** loaded Python interpreters kept ready (about 160 MiB each): as many as programs may run at once */
  readonly pythonSpares: number
}

export const defaultSandboxLimits: SandboxLimits = {
  memoryBytes: 64 * 1024 * 1024,
  pythonMemoryBytes: 256 * 1024 * 1024,
  outputLimit: 64 * 1024,
  pythonSpares: 1
}

// the sources run as .ts files; the build (scripts/build.ts) puts each worker beside this code as .js
const sibling = (name: string) => new URL(`./${name}${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)
const javascriptWorker = sibling("code-exec-worker")
const pythonWorker = sibling("code-exec-python-worker")
/** Pyodide's own start (compiling the interpreter, unpacking the standard library) is not the program's time */
const pythonStartLimitMs = 30_000

const timedOut = (timeoutMs: number): SandboxResult => ({ output: "", error: `timed out after ${timeoutMs} ms\n`, exit_code: 1, timed_out: true })

export const codeExec = (
  workspace: Workspace,
  args: CodeExecArgs,
  limits: SandboxLimits = defaultSandboxLimits
): Effect.Effect<SandboxResult, ToolFailure> =>
  // the workspace's limit is read when the program starts (it may wait for a sandbox slot), and what
  // the program wrote counts against the shared budget from its end on
  Effect.ensuring(Effect.suspend(() => run(workspace, args, limits)), Effect.promise(() => workspace.settle()))

const run = (
  workspace: Workspace,
  args: CodeExecArgs,
  limits: SandboxLimits
): Effect.Effect<SandboxResult, ToolFailure> => {
  const timeoutMs = Math.min(Math.max(args.timeout ?? 30, 1), 60) * 1000
  if (args.language === "javascript" || args.language === "node") {
    const job: SandboxJob = {
      code: args.code,
      root: workspace.root,
      outputLimit: limits.outputLimit,
      quotaBytes: workspace.limit(),
      timeoutMs,
      memoryBytes: limits.memoryBytes
    }
    // QuickJS checks its deadline itself; the timer is the backstop for a sandbox that cannot
    return inWorker(() => startWorker(javascriptWorker, job), undefined, (worker, done) => {
      const backstop = setTimeout(() => done(timedOut(timeoutMs)), timeoutMs + 5_000)
      worker.once("exit", () => clearTimeout(backstop))
    })
  }
  if (args.language === "python" || args.language === "python3") {
    const interrupt = new SharedArrayBuffer(1)
    const job: PythonJob = { code: args.code, root: workspace.root, quotaBytes: workspace.limit(), interrupt }
    const pythonLimits: PythonLimits = { memoryBytes: limits.pythonMemoryBytes, outputLimit: limits.outputLimit }
    return inWorker(() => takePythonWorker(pythonLimits, limits.pythonSpares), job, (worker, done) => {
      const timers: Array<NodeJS.Timeout> = [setTimeout(() => done(timedOut(timeoutMs)), pythonStartLimitMs + timeoutMs)]
      worker.on("message", (message: unknown) => {
        if (message !== "running") return
        // KeyboardInterrupt at the deadline; termination if the program never returns to the interpreter
        timers.push(setTimeout(() => void (new Uint8Array(interrupt)[0] = 2), timeoutMs))
        timers.push(setTimeout(() => done(timedOut(timeoutMs)), timeoutMs + 2_000))
      })
      worker.once("exit", () => timers.forEach(clearTimeout))
    })
  }
  return Effect.fail(new ToolFailure(`${args.language} cannot run in this gateway's sandbox; use language "python" or "javascript"`))
}

const startWorker = (url: URL, workerData: unknown) => new Worker(url, { workerData, resourceLimits: { maxOldGenerationSizeMb: 256 } })

/**
 * Loaded (or loading) Python workers kept in reserve, so that a program need not wait for Pyodide:
 * after the first Python program, as many as may run at once, each refilled as soon as it is taken.
 */
let reserve: { readonly workers: Array<Worker>; readonly limits: PythonLimits } | undefined

/** How many Python workers are in reserve now. */
export const pythonReserve = (): number => reserve?.workers.length ?? 0

const spare = (limits: PythonLimits): Worker => {
  const worker = startWorker(pythonWorker, limits)
  // an idle reserve must not keep the process alive, and its failure is only a reserve lost
  worker.unref()
  worker.on("error", () => {})
  worker.once("exit", () => {
    const at = reserve?.workers.indexOf(worker) ?? -1
    if (at >= 0) reserve!.workers.splice(at, 1)
  })
  return worker
}

const takePythonWorker = (limits: PythonLimits, spares: number): Worker => {
  const same = reserve !== undefined && reserve.limits.memoryBytes === limits.memoryBytes && reserve.limits.outputLimit === limits.outputLimit
  if (reserve !== undefined && !same) for (const w of reserve.workers.splice(0)) void w.terminate()
  if (!same) reserve = { workers: [], limits }
  const workers = reserve!.workers
  const worker = workers.shift() ?? startWorker(pythonWorker, limits)
  worker.ref()
  while (workers.length < Math.max(1, spares)) workers.push(spare(limits))
  return worker
}

/**
 * Runs a worker to its result, posting `job` to it when there is one. `watch` arms the timeouts:
 * `done` ends the call with a result and terminates the worker. An interrupted call (the client
 * left) terminates it too.
 */
const inWorker = (
  start: () => Worker,
  job: unknown,
  watch: (worker: Worker, done: (result: SandboxResult) => void) => void
): Effect.Effect<SandboxResult, ToolFailure> =>
  Effect.callback<SandboxResult, ToolFailure>((resume) => {
    const worker = start()
    if (job !== undefined) worker.postMessage(job)
    let finished = false
    const finish = (outcome: Effect.Effect<SandboxResult, ToolFailure>) => {
      if (finished) return
      finished = true
      void worker.terminate()
      resume(outcome)
    }
    watch(worker, (result) => finish(Effect.succeed(result)))
    worker.on("message", (message: unknown) => {
      if (typeof message === "object" && message !== null) finish(Effect.succeed(message as SandboxResult))
    })
    worker.once("error", (e) => finish(Effect.fail(new ToolFailure(`the sandbox failed: ${e.message}`))))
    worker.once("exit", () => finish(Effect.fail(new ToolFailure("the sandbox stopped without a result"))))
    return Effect.sync(() => {
      finished = true
      void worker.terminate()
    })
  })
