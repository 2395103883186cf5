/**
 * Runs one JavaScript program in QuickJS (compiled to wasm) inside a worker thread. The program has
 * no network, no process, no host modules: only `console`, and `fs` functions confined to the
 * conversation's workspace. CPU time is cut by an interrupt deadline, memory by the runtime's limit.
 */
import variant from "@jitl/quickjs-wasmfile-release-sync"
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { parentPort, workerData } from "node:worker_threads"
import { newQuickJSWASMModuleFromVariant, type QuickJSSyncVariant, shouldInterruptAfterDeadline } from "quickjs-emscripten-core"
import { resolveInside, sizeOfSync } from "./workspace.ts"

export interface SandboxJob {
  readonly code: string
  readonly root: string
  readonly timeoutMs: number
  readonly memoryBytes: number
  readonly outputLimit: number
  /** the workspace's quota, which the program's writes count against like file_write's */
  readonly quotaBytes: number
}

export interface SandboxResult {
  readonly output: string
  readonly error: string
  readonly exit_code: number
  readonly timed_out: boolean
}

const job = workerData as SandboxJob
// Node loads the package's ESM build, whose default export is the variant; its types are CommonJS
const QuickJS = await newQuickJSWASMModuleFromVariant(variant as unknown as QuickJSSyncVariant)
const runtime = QuickJS.newRuntime()
runtime.setMemoryLimit(job.memoryBytes)
runtime.setMaxStackSize(1024 * 1024)
const deadline = Date.now() + job.timeoutMs
runtime.setInterruptHandler(shouldInterruptAfterDeadline(deadline))
const vm = runtime.newContext()

let stdout = ""
let stderr = ""
const append = (current: string, text: string) => (current.length >= job.outputLimit ? current : (current + text).slice(0, job.outputLimit))
const show = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value))

const define = (target: ReturnType<typeof vm.newObject>, name: string, f: (...args: Array<unknown>) => unknown) => {
  const fn = vm.newFunction(name, (...handles) => {
    try {
      const result = f(...handles.map((h) => vm.dump(h)))
      return result === undefined ? vm.undefined : typeof result === "string" ? vm.newString(result) : vm.unwrapResult(vm.evalCode(`(${JSON.stringify(result)})`))
    } catch (e) {
      return { error: vm.newError((e as Error).message) }
    }
  })
  vm.setProp(target, name, fn)
  fn.dispose()
}

const consoleObject = vm.newObject()
define(consoleObject, "log", (...args) => void (stdout = append(stdout, args.map(show).join(" ") + "\n")))
define(consoleObject, "info", (...args) => void (stdout = append(stdout, args.map(show).join(" ") + "\n")))
define(consoleObject, "error", (...args) => void (stderr = append(stderr, args.map(show).join(" ") + "\n")))
define(consoleObject, "warn", (...args) => void (stderr = append(stderr, args.map(show).join(" ") + "\n")))
vm.setProp(vm.global, "console", consoleObject)
consoleObject.dispose()

const fsObject = vm.newObject()
define(fsObject, "readFile", (path) => readFileSync(resolveInside(job.root, String(path)), "utf8"))
define(fsObject, "writeFile", (path, text) => {
  const target = resolveInside(job.root, String(path))
  const content = String(text)
  let previous = 0
  try {
    previous = statSync(target).size
  } catch {
    // a new file
  }
  if (sizeOfSync(job.root) - previous + Buffer.byteLength(content) > job.quotaBytes) {
    throw new Error(`the workspace quota of ${job.quotaBytes} bytes would be exceeded`)
  }
  writeFileSync(target, content)
})
define(fsObject, "readdir", (path) => readdirSync(resolveInside(job.root, String(path ?? "."))))
vm.setProp(vm.global, "fs", fsObject)
fsObject.dispose()

const evaluated = vm.evalCode(job.code, "main.js")
let exitCode = 0
let timedOut = false
if (evaluated.error) {
  const error = vm.dump(evaluated.error) as { name?: string; message?: string } | string
  evaluated.error.dispose()
  const message = typeof error === "object" && error !== null ? `${error.name ?? "Error"}: ${error.message ?? ""}` : String(error)
  timedOut = Date.now() >= deadline && /interrupted/i.test(message)
  stderr = append(stderr, (timedOut ? `timed out after ${job.timeoutMs} ms` : message) + "\n")
  exitCode = 1
} else {
  const value = vm.dump(evaluated.value)
  evaluated.value.dispose()
  if (value !== undefined) stdout = append(stdout, show(value) + "\n")
}
vm.dispose()
runtime.dispose()
parentPort!.postMessage({ output: stdout, error: stderr, exit_code: exitCode, timed_out: timedOut } satisfies SandboxResult)
