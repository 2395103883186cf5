/**
 * A per-conversation scratch directory shared by `file_read`, `file_write` and `code_exec`: paths
 * resolve inside it or not at all (no `..`, no absolute paths, no symlinks out), writes are bounded by
 * a quota, and the directory is removed when the request ends. All workspaces of the process also
 * share one disk budget, so that many conversations together cannot fill the disk either.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import type * as Scope from "effect/Scope"
import { lstatSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs"
import { mkdir, open, readdir, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path"
import type { Builtin } from "./builtin.ts"
import { ToolFailure } from "./failure.ts"

export interface Workspace {
  readonly root: string
  /** the absolute path of `path` inside the workspace; throws ToolFailure for anything that would leave it */
  readonly resolve: (path: string) => string
  /** bytes the files in it use now */
  readonly used: () => Promise<number>
  /** bytes it may hold now: its quota, or less when the shared budget is nearly spent */
  readonly limit: () => number
  /** records what it holds after a write, for the shared budget */
  readonly settle: () => Promise<void>
}

/** The disk all workspaces of the process may use together: their sizes as last settled, by root. */
export interface DiskBudget {
  readonly totalBytes: number
  readonly used: Map<string, number>
}

export const makeDiskBudget = (totalBytes: number): DiskBudget => ({ totalBytes, used: new Map() })

const within = (root: string, candidate: string) => {
  const rel = relative(root, candidate)
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel) && !rel.split(sep).includes(".."))
}

const sizeOf = async (dir: string): Promise<number> => {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += await sizeOf(path)
    else if (entry.isFile()) total += (await stat(path)).size
  }
  return total
}

/** The same, synchronously, for the sandbox's worker thread. */
export const sizeOfSync = (dir: string): number => {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += sizeOfSync(path)
    else if (entry.isFile()) total += statSync(path).size
  }
  return total
}

/** A workspace for the life of the scope. */
export const makeWorkspace = (
  quotaBytes: number,
  budget: DiskBudget = makeDiskBudget(Number.POSITIVE_INFINITY)
): Effect.Effect<Workspace, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const root = realpathSync(mkdtempSync(join(tmpdir(), "orka-workspace-")))
      budget.used.set(root, 0)
      const others = () => {
        let total = 0
        for (const [other, bytes] of budget.used) if (other !== root) total += bytes
        return total
      }
      const workspace: Workspace = {
        root,
        used: () => sizeOf(root),
        limit: () => Math.max(0, Math.min(quotaBytes, budget.totalBytes - others())),
        settle: async () => void budget.used.set(root, await sizeOf(root)),
        resolve: (path) => resolveInside(root, path)
      }
      return workspace
    }),
    (workspace) =>
      Effect.sync(() => {
        budget.used.delete(workspace.root)
        rmSync(workspace.root, { recursive: true, force: true })
      })
  )

/** `path` inside `root`, following symlinks; shared by the file tools and the code_exec sandbox. */
export const resolveInside = (root: string, path: string): string => {
  if (path.includes("\0")) throw new ToolFailure("the path contains a NUL byte")
  const target = resolve(root, path.replace(/^\/+/, ""))
  if (!within(root, target)) throw new ToolFailure(`${path} is outside the workspace`)
  // the deepest existing ancestor must also be inside once symlinks are followed
  let existing = target
  for (;;) {
    try {
      lstatSync(existing)
      break
    } catch {
      existing = dirname(existing)
    }
  }
  if (!within(root, realpathSync(existing))) throw new ToolFailure(`${path} is outside the workspace`)
  return target
}

const WorkspacePath = Schema.NonEmptyString.annotate({ description: "Path inside the workspace" })

export const fileReadTool = {
  name: "file_read",
  description: "Read a text file from this conversation's workspace.",
  params: Schema.Struct({
    path: WorkspacePath,
    offset: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).annotate({ description: "Byte offset to start at (default 0)" })),
    limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1048576 })).annotate({ description: "Most bytes to read (default 65536, at most 1048576)" }))
  })
} satisfies Builtin<Schema.Top>

/** Models sometimes write JSON as an object rather than as text: it is written as JSON text. */
const FileContent = Schema.Unknown.pipe(Schema.decodeTo(
  Schema.String,
  SchemaTransformation.transform({ decode: (v) => (typeof v === "string" ? v : JSON.stringify(v ?? "")), encode: (s) => s })
)).annotate({ description: "The text to write" })

export const fileWriteTool = {
  name: "file_write",
  description: "Write a text file in this conversation's workspace (shared with code_exec).",
  params: Schema.Struct({
    path: WorkspacePath,
    content: FileContent,
    mode: Schema.optionalKey(Schema.Literals(["write", "append"]).annotate({ description: "Replace the file (default) or append to it" })),
    create_dirs: Schema.optionalKey(Schema.Boolean.annotate({ description: "Create missing parent directories (default true)" }))
  })
} satisfies Builtin<Schema.Top>

const tool = <A>(f: () => Promise<A>) =>
  Effect.tryPromise({
    try: f,
    catch: (e) => e instanceof ToolFailure ? e : new ToolFailure((e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String((e as Error).message ?? e))
  })

export const fileRead = (workspace: Workspace, args: typeof fileReadTool.params.Type) =>
  tool(async () => {
    const path = workspace.resolve(args.path)
    if (statSync(path).isDirectory()) {
      return { path: args.path, entries: (await readdir(path)).sort() }
    }
    const limit = Math.min(args.limit ?? 65_536, 1_048_576)
    const offset = args.offset ?? 0
    const handle = await open(path, "r")
    try {
      const size = (await handle.stat()).size
      const buffer = Buffer.alloc(Math.max(0, Math.min(limit, size - offset)))
      await handle.read(buffer, 0, buffer.length, offset)
      return { path: args.path, content: buffer.toString("utf8"), offset, bytes: buffer.length, size, truncated: offset + buffer.length < size }
    } finally {
      await handle.close()
    }
  })

export const fileWrite = (workspace: Workspace, args: typeof fileWriteTool.params.Type) =>
  tool(async () => {
    const path = workspace.resolve(args.path)
    const bytes = Buffer.byteLength(args.content)
    const previous = args.mode === "append" ? 0 : await stat(path).then((s) => s.size, () => 0)
    const limit = workspace.limit()
    if ((await workspace.used()) - previous + bytes > limit) {
      throw new ToolFailure(`the workspace quota of ${limit} bytes would be exceeded`)
    }
    if (args.create_dirs !== false) await mkdir(dirname(path), { recursive: true })
    const handle = await open(path, args.mode === "append" ? "a" : "w")
    try {
      await handle.writeFile(args.content)
    } finally {
      await handle.close()
    }
    await workspace.settle()
    return { success: true, path: args.path, bytes }
  })
