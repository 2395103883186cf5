import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { codeExec, codeExecTool, pythonReserve } from "../../src/tools/code-exec.ts"
import { fileRead, fileWrite, makeWorkspace } from "../../src/tools/workspace.ts"

const limits = { memoryBytes: 16 * 1024 * 1024, pythonMemoryBytes: 128 * 1024 * 1024, outputLimit: 4096, pythonSpares: 2 }

const run = (code: string, timeout?: number, language: typeof codeExecTool.params.Type["language"] = "javascript") =>
  Effect.gen(function*() {
    const ws = yield* makeWorkspace(1024 * 1024)
    const args = { language, code, ...(timeout === undefined ? {} : { timeout }) }
    return { result: yield* codeExec(ws, args, limits), ws }
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

  // six Python programs, each in an interpreter that takes seconds to start on a busy machine
  it.live("runs Python with its standard library in the shared workspace", () =>
    Effect.gen(function*() {
      const ws = yield* makeWorkspace(1024 * 1024)
      yield* fileWrite(ws, { path: "data/in.csv", content: "a,b\n1,2\n3,4\n" })
      const program = [
        "import csv, json, statistics",
        "rows = list(csv.DictReader(open('data/in.csv')))",
        "open('out.json', 'w').write(json.dumps({'mean_b': statistics.mean(int(r['b']) for r in rows)}))",
        "print('rows', len(rows))"
      ].join("\n")
      const result = yield* codeExec(ws, { language: "python", code: program }, limits)
      expect(result).toEqual({ output: "rows 2\n", error: "", exit_code: 0, timed_out: false })
      expect((yield* fileRead(ws, { path: "out.json" })).content).toBe("{\"mean_b\": 3}")
      const failed = yield* codeExec(ws, { language: "python3", code: "import sys\nprint('partial')\nsys.exit(3)" }, limits)
      expect(failed).toMatchObject({ output: "partial\n", exit_code: 3 })
      const raised = yield* codeExec(ws, { language: "python", code: "1 / 0" }, limits)
      expect(raised.exit_code).toBe(1)
      expect(raised.error).toContain("ZeroDivisionError")
      // an interpreter is kept ready for each program that may run at once, refilled as one is taken
      expect(pythonReserve()).toBe(2)
      const both = yield* Effect.all([1, 2].map((n) => codeExec(ws, { language: "python", code: `print(${n})` }, limits)), { concurrency: 2 })
      expect(both.map((r) => r.output)).toEqual(["1\n", "2\n"])
      expect(pythonReserve()).toBe(2)
    }).pipe(Effect.scoped), 60_000)

  it.live("contains Python escapes: no JavaScript host, no network, no host files or processes, bounded memory and time", () =>
    Effect.gen(function*() {
      const probes = [
        ["run_js", "from pyodide.code import run_js; r = run_js('typeof process + typeof fetch')"],
        ["constructor", "import js; r = js.constructor.constructor('return typeof process + typeof fetch')()"],
        ["to_js", "from pyodide.ffi import to_js; r = to_js([1]).constructor.constructor('return typeof process + typeof fetch')()"],
        ["pyodide_js", "import pyodide_js; r = str(pyodide_js.FS)"],
        ["socket", "import socket; r = str(socket.create_connection(('1.1.1.1', 80), timeout=1))"],
        ["urllib", "import urllib.request; r = urllib.request.urlopen('http://example.com', timeout=1).status"],
        ["passwd", "r = open('/etc/passwd').read()"],
        ["environ", "import os; r = [k for k in os.environ if 'ORKA' in k or 'KEY' in k or 'TOKEN' in k]"],
        ["memory", "r = len(bytearray(600_000_000))"]
      ]
      const program = probes.map(([name, code]) =>
        `try:\n    ${code}\n    print(${JSON.stringify(name)}, repr(r))\nexcept BaseException as e:\n    print(${JSON.stringify(name)}, type(e).__name__)`
      ).join("\n")
      const { result } = yield* run(program, 30, "python")
      const seen = Object.fromEntries(result.output.trim().split("\n").map((line) => [line.split(" ")[0], line.slice(line.indexOf(" ") + 1)]))
      expect(seen).toEqual({
        run_js: "ImportError",
        constructor: "'undefinedundefined'",
        to_js: "'undefinedundefined'",
        pyodide_js: "ModuleNotFoundError",
        socket: "OSError",
        urllib: "URLError",
        passwd: "FileNotFoundError",
        environ: "[]",
        memory: "MemoryError"
      })
      // os.system would start a host process through child_process: the sandbox refuses to load it
      const system = (yield* run("import os\nos.system('id > /tmp/escaped')", 30, "python")).result
      expect(system.exit_code).toBe(1)
      expect(system.error).toContain("is not available in the sandbox")
      const spin = (yield* run("while True: pass", 1, "python")).result
      expect(spin).toMatchObject({ exit_code: 1, timed_out: true })
    }).pipe(Effect.scoped))

  it.effect("says plainly which languages it cannot run", () =>
    Effect.gen(function*() {
      const ws = yield* makeWorkspace(1024)
      const e = yield* Effect.flip(codeExec(ws, { language: "bash", code: "ls" }))
      expect(e.message).toContain("bash cannot run")
    }).pipe(Effect.scoped))
})
