import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, symlinkSync } from "node:fs"
import { join } from "node:path"
import { codeExec } from "../../src/tools/code-exec.ts"
import { fileRead, fileWrite, makeDiskBudget, makeWorkspace } from "../../src/tools/workspace.ts"

describe("workspace and file tools", () => {
  it.live("writes, appends and reads within the workspace, and removes it at the end", () => {
    let root = ""
    return Effect.gen(function*() {
      const ws = yield* makeWorkspace(1024)
      root = ws.root
      expect(yield* fileWrite(ws, { path: "notes/a.txt", content: "hello" })).toEqual({ success: true, path: "notes/a.txt", bytes: 5 })
      yield* fileWrite(ws, { path: "notes/a.txt", content: " world", mode: "append" })
      expect(yield* fileRead(ws, { path: "notes/a.txt" })).toMatchObject({ content: "hello world", size: 11, truncated: false })
      expect(yield* fileRead(ws, { path: "/notes/a.txt", offset: 6, limit: 3 })).toMatchObject({ content: "wor", truncated: true })
      expect(yield* fileRead(ws, { path: "notes" })).toEqual({ path: "notes", entries: ["a.txt"] })
      expect((yield* Effect.flip(fileRead(ws, { path: "missing.txt" }))).message).toBe("no such file")
      expect((yield* Effect.flip(fileWrite(ws, { path: "x/y.txt", content: "z", create_dirs: false }))).message).toBe("no such file")
    }).pipe(Effect.scoped, Effect.andThen(Effect.sync(() => expect(existsSync(root)).toBe(false))))
  })

  it.live("makes leaving the workspace impossible and enforces the quota", () =>
    Effect.gen(function*() {
      const ws = yield* makeWorkspace(10)
      for (const path of ["../escape.txt", "a/../../escape.txt", "/../../etc/passwd", "x\0y"]) {
        const e = yield* Effect.flip(fileWrite(ws, { path, content: "x" }))
        expect(e.message, path).toMatch(/outside the workspace|NUL/)
      }
      // an absolute path means "from the workspace root", not the host's root
      expect((yield* Effect.flip(fileRead(ws, { path: "/etc/passwd" }))).message).toBe("no such file")
      symlinkSync("/etc", join(ws.root, "link"))
      expect((yield* Effect.flip(fileRead(ws, { path: "link/passwd" }))).message).toContain("outside the workspace")
      yield* fileWrite(ws, { path: "a", content: "12345678" })
      expect((yield* Effect.flip(fileWrite(ws, { path: "b", content: "123" }))).message).toContain("quota")
      yield* fileWrite(ws, { path: "a", content: "1234567890" }) // replacing counts the new size only
    }).pipe(Effect.scoped))

  it.live("shares one disk budget between workspaces, and frees a workspace's share when it ends", () =>
    Effect.gen(function*() {
      const budget = makeDiskBudget(100)
      const first = yield* makeWorkspace(80, budget)
      yield* fileWrite(first, { path: "a", content: "x".repeat(70) })
      yield* Effect.scoped(Effect.gen(function*() {
        const second = yield* makeWorkspace(80, budget)
        expect(second.limit()).toBe(30)
        expect((yield* Effect.flip(fileWrite(second, { path: "b", content: "y".repeat(40) }))).message).toContain("quota of 30 bytes")
        // a program's writes are bounded by the same share, and counted once it ends
        const program = yield* codeExec(second, { language: "javascript", code: `fs.writeFile("c", "${"z".repeat(20)}")` })
        expect(program.exit_code).toBe(0)
        expect(first.limit()).toBe(80)
        expect(budget.used.get(second.root)).toBe(20)
      }))
      expect(budget.used.has(first.root)).toBe(true)
      expect(budget.used.size).toBe(1)
      expect(first.limit()).toBe(80)
    }).pipe(Effect.scoped))
})
