/**
 * `code_exec` (Orka's schema: `{language, code, timeout = 30 s, 1..60}`): JavaScript in a QuickJS
 * sandbox on a worker thread (see code-exec-worker.ts), sharing the conversation's workspace.
 * The worker is terminated if the sandbox itself overruns, so the gateway's event loop never waits
 * on a model's program. Other languages are a clear tool error: no sandbox here runs them.
 */
import { Effect } from "effect"
import { Worker } from "node:worker_threads"
import type { SandboxJob, SandboxResult } from "./code-exec-worker.ts"
import { ToolFailure } from "./failure.ts"
import type { Workspace } from "./workspace.ts"

export const codeExecDefinition = {
  name: "code_exec",
  description: "Run a JavaScript program in a sandbox (no network; files only in this conversation's workspace, via fs.readFile, fs.writeFile, fs.readdir). Output from console.log is returned.",
  parameters: {
    type: "object",
    properties: {
      language: { type: "string", enum: ["python", "python3", "javascript", "node", "bash", "sh"], description: "The program's language; javascript and node are supported" },
      code: { type: "string", description: "The program" },
      timeout: { type: "integer", minimum: 1, maximum: 60, description: "Seconds before it is stopped (default 30)" }
    },
    required: ["language", "code"]
  }
} as const

export interface SandboxLimits {
  readonly memoryBytes: number
  readonly outputLimit: number
}

export const defaultSandboxLimits: SandboxLimits = { memoryBytes: 64 * 1024 * 1024, outputLimit: 64 * 1024 }

const workerUrl = new URL("./code-exec-worker.ts", import.meta.url)

export const codeExec = (
  workspace: Workspace,
  args: { readonly language: string; readonly code: string; readonly timeout?: number },
  limits: SandboxLimits = defaultSandboxLimits
): Effect.Effect<SandboxResult, ToolFailure> => {
  if (args.language !== "javascript" && args.language !== "node") {
    return Effect.fail(new ToolFailure(`${args.language} cannot run in this gateway's sandbox; use language "javascript"`))
  }
  const timeoutMs = Math.min(Math.max(args.timeout ?? 30, 1), 60) * 1000
  const job: SandboxJob = {
    code: args.code,
    root: workspace.root,
    timeoutMs,
    memoryBytes: limits.memoryBytes,
    outputLimit: limits.outputLimit,
    quotaBytes: workspace.quotaBytes
  }
  return Effect.callback<SandboxResult, ToolFailure>((resume) => {
    const worker = new Worker(workerUrl, { workerData: job, resourceLimits: { maxOldGenerationSizeMb: 256 } })
    // QuickJS checks its deadline itself; this is the backstop for a sandbox that cannot
    const backstop = setTimeout(() => {
      void worker.terminate()
      resume(Effect.succeed({ output: "", error: `timed out after ${timeoutMs} ms`, exit_code: 1, timed_out: true }))
    }, timeoutMs + 5_000)
    worker.once("message", (result: SandboxResult) => {
      clearTimeout(backstop)
      resume(Effect.succeed(result))
    })
    worker.once("error", (e) => {
      clearTimeout(backstop)
      resume(Effect.fail(new ToolFailure(`the sandbox failed: ${e.message}`)))
    })
    return Effect.sync(() => {
      clearTimeout(backstop)
      void worker.terminate()
    })
  })
}
