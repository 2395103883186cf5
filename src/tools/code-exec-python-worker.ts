/**
 * Runs one Python program in Pyodide (CPython compiled to wasm) inside a worker thread, with the
 * standard library only. Pyodide is not a sandbox by itself: in Node it can reach the host through
 * JavaScript (`pyodide.code.run_js`, any proxy's `constructor.constructor`) and through Emscripten's
 * own shims (`os.system` loads `child_process`). So, once Pyodide is loaded and before the program
 * runs, this thread is shut:
 *
 * - every module load after that point is refused (module hooks), so no `child_process`, `net` or `fs`;
 * - the globals that reach the host (`process`, `fetch`, WebSockets…) are gone;
 * - the program's `js` module is an empty object from a fresh realm, and `pyodide_js` is unregistered;
 * - the wasm memory may not grow past the limit (Python raises MemoryError);
 * - files live in Pyodide's in-memory file system: the workspace is copied in before the run and what
 *   the program left there is copied back after it, within the workspace quota.
 *
 * CPU time is bounded by the interrupt buffer (KeyboardInterrupt at the deadline) and, for code that
 * never returns to the interpreter, by the parent terminating this worker.
 *
 * Loading Pyodide takes seconds, so a worker loads first and then waits for its one job (the parent
 * keeps a loaded worker in reserve); it runs that job and is never reused.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { registerHooks } from "node:module"
import { join, relative } from "node:path"
import vm from "node:vm"
import { parentPort, workerData } from "node:worker_threads"
import type { SandboxResult } from "./code-exec-worker.ts"
import { resolveInside } from "./workspace.ts"

/** Fixed when the worker starts, before Pyodide loads. */
export interface PythonLimits {
  readonly memoryBytes: number
  readonly outputLimit: number
}

/** Sent once Pyodide is loaded. */
export interface PythonJob {
  readonly code: string
  readonly root: string
  readonly quotaBytes: number
  /** Pyodide's interrupt buffer: the parent writes 2 (SIGINT) at the deadline */
  readonly interrupt: SharedArrayBuffer
}

const limits = workerData as PythonLimits
const workdir = "/workspace"

let shut = false
registerHooks({
  resolve: (specifier, context, next) => {
    if (shut) throw new Error(`${specifier} is not available in the sandbox`)
    return next(specifier, context)
  }
})

const grow = WebAssembly.Memory.prototype.grow
WebAssembly.Memory.prototype.grow = function(this: WebAssembly.Memory, pages: number) {
  if (this.buffer.byteLength + pages * 65536 > limits.memoryBytes) throw new RangeError("the sandbox's memory limit is reached")
  return grow.call(this, pages)
}

let stdout = ""
let stderr = ""
const append = (current: string, text: string) => (current.length >= limits.outputLimit ? current : (current + text).slice(0, limits.outputLimit))

/** The files under `dir`, by path relative to `root`. */
const readTree = (root: string, dir = root, out = new Map<string, Buffer>()): Map<string, Buffer> => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) readTree(root, path, out)
    else if (entry.isFile()) out.set(relative(root, path), readFileSync(path))
  }
  return out
}

const { loadPyodide } = await import("pyodide")
const pyodide = await loadPyodide({
  jsglobals: vm.runInNewContext("({})"),
  stdout: (line) => void (stdout = append(stdout, line + "\n")),
  stderr: (line) => void (stderr = append(stderr, line + "\n")),
  // the environment would otherwise carry the gateway's own variables into the program
  env: { HOME: "/home/pyodide", LANG: "C.UTF-8" }
})
const FS = pyodide.FS
pyodide.unregisterJsModule("pyodide_js")
pyodide.runPython(`import sys\nsys.modules.pop("pyodide_js", None)`)
parentPort!.once("message", (job: PythonJob) => parentPort!.postMessage(run(job)))

function run(job: PythonJob): SandboxResult {
  const before = readTree(job.root)
  FS.mkdirTree(workdir)
  for (const [path, content] of before) {
    FS.mkdirTree(join(workdir, path, ".."))
    FS.writeFile(join(workdir, path), content)
  }
  pyodide.runPython(`import os\nos.chdir("${workdir}")`)
  pyodide.setInterruptBuffer(new Uint8Array(job.interrupt))
  shutThread()
  parentPort!.postMessage("running")

  let exitCode = 0
  let timedOut = false
  try {
    pyodide.runPython(job.code, { filename: "main.py" })
  } catch (e) {
    const message = String((e as Error).message ?? e)
    const exit = /SystemExit: (\d+)\s*$/.exec(message)
    if (exit !== null) exitCode = Number(exit[1])
    else {
      exitCode = 1
      timedOut = /KeyboardInterrupt\s*$/.test(message)
      const fatal = (e as { pyodide_fatal_error?: boolean }).pyodide_fatal_error === true
      stderr = append(stderr, timedOut ? "timed out\n" : fatal ? `${message.split("\n")[0]}\n` : message)
    }
  }
  const saved = copyBack(job, before)
  if (saved !== undefined) {
    stderr = append(stderr, saved)
    exitCode ||= 1
  }
  return { output: stdout, error: stderr, exit_code: exitCode, timed_out: timedOut }
}

function shutThread() {
  // Pyodide reports a fatal error on the console; the program's own output goes through stdout/stderr above
  for (const method of ["log", "info", "warn", "error", "debug"] as const) console[method] = () => {}
  for (const name of ["process", "fetch", "WebSocket", "EventSource", "XMLHttpRequest", "Request", "Response", "Headers"]) {
    Object.defineProperty(globalThis, name, { value: undefined, writable: false, configurable: false })
  }
  shut = true
}

/** Writes what the program changed in the in-memory workspace back to the real one; the problem, if any. */
function copyBack(job: PythonJob, before: ReadonlyMap<string, Buffer>): string | undefined {
  const after = new Map<string, Uint8Array>()
  const walk = (dir: string) => {
    for (const name of FS.readdir(dir) as Array<string>) {
      if (name === "." || name === "..") continue
      const path = join(dir, name)
      const mode = FS.stat(path).mode
      if (FS.isDir(mode)) walk(path)
      else if (FS.isFile(mode)) after.set(relative(workdir, path), FS.readFile(path))
    }
  }
  try {
    walk(workdir)
    const total = [...after.values()].reduce((n, b) => n + b.byteLength, 0)
    if (total > job.quotaBytes) return `the workspace quota of ${job.quotaBytes} bytes would be exceeded: files not saved\n`
    for (const [path, content] of after) {
      if (before.get(path)?.equals(content)) continue
      const target = resolveInside(job.root, path)
      mkdirSync(join(target, ".."), { recursive: true })
      writeFileSync(target, content)
    }
    for (const path of before.keys()) if (!after.has(path)) rmSync(resolveInside(job.root, path), { force: true })
    return undefined
  } catch (e) {
    return `files not saved: ${(e as Error).message}\n`
  }
}
