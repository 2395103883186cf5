import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { codeExec } from "../../src/tools/code-exec.ts"
import { fileRead, makeWorkspace } from "../../src/tools/workspace.ts"

const run = (code: string, timeout?: number) =>
  Effect.gen(function*() {
    const ws = yield* makeWorkspace(1024 * 1024)
    const args = { language: "javascript", code, ...(timeout === undefined ? {} : { timeout }) }
    return { result: yield* codeExec(ws, args, { memoryBytes: 16 * 1024 * 1024, outputLimit: 4096 }), ws }
  })

describe("code_exec", () => {
  it.live("runs JavaScript, captures output and errors, shares the workspace", () =>
    Effect.gen(function*() {
      const { result, ws } = yield* run(`console.log("sum", [1,2,3].reduce((a,b)=>a+b)); console.error("warn!"); fs.writeFile("out.txt", "written"); fs.readdir(".")`)
      expect(result).toEqual({ output: "sum 6\n[\"out.txt\"]\n", error: "warn!\n", exit_code: 0, timed_out: false })
      expect(yield* fileRead(ws, { path: "out.txt" })).toMatchObject({ content: "written" })
      const thrown = (yield* run("throw new TypeError('bad')")).result
      expect(thrown).toMatchObject({ exit_code: 1, error: "TypeError: bad\n" })
    }).pipe(Effect.scoped))

  it.live("contains escapes: no network, no host modules, no files outside, no endless loop, no memory bomb", () =>
    Effect.gen(function*() {
      const probe = (yield* run(`[typeof fetch, typeof require, typeof process, typeof XMLHttpRequest, typeof WebSocket].join(",")`)).result
      expect(probe.output).toBe("undefined,undefined,undefined,undefined,undefined\n")
      const outside = (yield* run(`fs.readFile("../../etc/passwd")`)).result
      expect(outside).toMatchObject({ exit_code: 1 })
      expect(outside.error).toContain("outside the workspace")
      const started = Date.now()
      const loop = (yield* run("while (true) {}", 1)).result
      expect(loop).toMatchObject({ exit_code: 1, timed_out: true })
      expect(Date.now() - started).toBeLessThan(4_000)
      const bomb = (yield* run("let a = []; while (true) a.push(new Array(100000).fill(1))", 30)).result
      expect(bomb.exit_code).toBe(1)
      expect(bomb.timed_out).toBe(false)
      expect(bomb.error).toMatch(/memory/i)
      const doubling = (yield* run(`let s = "x"; while (true) s += s`, 30)).result
      expect(doubling).toMatchObject({ exit_code: 1, timed_out: false })
      // the program's files count against the workspace quota, as file_write's do
      const filler = (yield* run(`const mb = "x".repeat(1 << 20); for (let i = 0; i < 1000; i++) fs.writeFile("f" + i, mb)`, 30)).result
      expect(filler).toMatchObject({ exit_code: 1 })
      expect(filler.error).toContain("workspace quota")
    }).pipe(Effect.scoped))

  it.effect("says plainly which languages it cannot run", () =>
    Effect.gen(function*() {
      const ws = yield* makeWorkspace(1024)
      const e = yield* Effect.flip(codeExec(ws, { language: "python", code: "print(1)" }))
      expect(e.message).toContain("python cannot run")
    }).pipe(Effect.scoped))
})
