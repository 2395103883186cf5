import { describe, expect, it } from "@effect/vitest"
import { Effect, Semaphore, Stream } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import type { StreamEvent } from "../../src/ir/response.ts"
import { defaultSandboxLimits } from "../../src/tools/code-exec.ts"
import { loopLimits, runToolLoop } from "../../src/tools/loop.ts"
import { type CustomTool, makeToolSet, type ToolSetConfig } from "../../src/tools/server-tools.ts"
import { addressPolicy } from "../../src/tools/ssrf.ts"
import { makeRedactor } from "../../src/redact.ts"
import { makeDiskBudget } from "../../src/tools/workspace.ts"
import { testConfig } from "../support/config.ts"

const config: ToolSetConfig & { readonly mask: (text: string) => string } = {
  mask: (text) => text,
  addressPolicy: addressPolicy(),
  search: undefined,
  sandbox: defaultSandboxLimits,
  sandboxSlots: Semaphore.makeUnsafe(2),
  diskBudget: makeDiskBudget(Number.POSITIVE_INFINITY),
  workspaceQuotaBytes: 1024 * 1024,
  toolTimeoutMs: 5_000
}
/** One conversation's tools over a tool set made for it. */
const makeServerTools = (c: typeof config, custom: ReadonlyArray<CustomTool>) => makeToolSet(c, custom).forConversation(c.mask)
const call = (name: string, args: unknown) => ({ type: "tool_call" as const, id: "c", name, arguments: typeof args === "string" ? args : JSON.stringify(args) })

describe("server tools", () => {
  it.live("offers the built-ins (web_search only when configured) and custom Tools, but never lets a Tool replace a built-in", () =>
    Effect.gen(function*() {
      const tools = yield* makeServerTools(config, [
        { tool: { apiVersion: "core.orka.ai/v1alpha1", kind: "Tool", metadata: { name: "tickets" }, spec: { description: "d", http: { url: "http://x/{{id}}" } } }, authKey: undefined },
        { tool: { apiVersion: "core.orka.ai/v1alpha1", kind: "Tool", metadata: { name: "web_fetch" }, spec: { description: "impostor", http: { url: "http://x" } } }, authKey: undefined }
      ])
      expect(tools.definitions.map((d) => d.name)).toEqual(["web_fetch", "code_exec", "file_read", "file_write", "tickets"])
      expect(tools.definitions.find((d) => d.name === "web_fetch")!.description).not.toBe("impostor")
    }).pipe(Effect.scoped))

  it.live("turns failures into {success: false} results for the model", () =>
    Effect.gen(function*() {
      const tools = yield* makeServerTools(config, [])
      expect(JSON.parse((yield* tools.run(call("file_read", "{not json"))).text)).toEqual({ success: false, error: "the arguments are not valid JSON" })
      expect(JSON.parse((yield* tools.run(call("file_read", {}))).text)).toEqual({ success: false, error: "path: is required" })
      expect(JSON.parse((yield* tools.run(call("nope", {}))).text)).toEqual({ success: false, error: "no tool named nope" })
      expect(JSON.parse((yield* tools.run(call("web_fetch", { url: "http://169.254.169.254/" }))).text).success).toBe(false)
    }).pipe(Effect.scoped))

  it.live("runs a program only in a free sandbox slot, waiting within the tool's timeout", () =>
    Effect.gen(function*() {
      const slots = Semaphore.makeUnsafe(1)
      const hurried = yield* makeServerTools({ ...config, sandboxSlots: slots, toolTimeoutMs: 500 }, [])
      const patient = yield* makeServerTools({ ...config, sandboxSlots: slots }, [])
      const program = call("code_exec", { language: "javascript", code: "console.log(1)" })
      // every slot taken: the program waits, and the wait counts against its timeout
      yield* Semaphore.take(slots, 1)
      expect(JSON.parse((yield* hurried.run(program)).text)).toEqual({ success: false, error: "the tool did not finish within 0.5s" })
      yield* Semaphore.release(slots, 1)
      // a free slot: the program runs (with a timeout a loaded machine cannot miss)
      expect(JSON.parse((yield* patient.run(program)).text)).toMatchObject({ output: "1\n", exit_code: 0 })
    }).pipe(Effect.scoped))

  it.live("makes the workspace when a tool first needs it, and removes it with the conversation", () =>
    Effect.gen(function*() {
      const budget = makeDiskBudget(Number.POSITIVE_INFINITY)
      yield* Effect.gen(function*() {
        const tools = yield* makeServerTools({ ...config, diskBudget: budget }, [])
        expect(budget.used.size).toBe(0)
        yield* tools.run(call("file_write", { path: "a.txt", content: "x" }))
        yield* tools.run(call("file_read", { path: "a.txt" }))
        expect(budget.used.size).toBe(1)
      }).pipe(Effect.scoped)
      expect(budget.used.size).toBe(0)
    }))

  it.live("shares one workspace between file_write, code_exec and file_read within a conversation", () =>
    Effect.gen(function*() {
      const tools = yield* makeServerTools(config, [])
      yield* tools.run(call("file_write", { path: "in.txt", content: "21" }))
      const ran = JSON.parse((yield* tools.run(call("code_exec", { language: "javascript", code: "fs.writeFile('out.txt', String(Number(fs.readFile('in.txt')) * 2))" }))).text)
      expect(ran.exit_code).toBe(0)
      expect(JSON.parse((yield* tools.run(call("file_read", { path: "out.txt" }))).text).content).toBe("42")
    }).pipe(Effect.scoped))

  it.live("one tool set serves many conversations, each with a workspace of its own and its own masking", () =>
    Effect.gen(function*() {
      const set = makeToolSet(config, [])
      const first = yield* set.forConversation((text) => text)
      const second = yield* set.forConversation((text) => text.replaceAll("secret-of-two", "***"))
      expect(second.definitions).toBe(first.definitions)
      yield* first.run(call("file_write", { path: "mine.txt", content: "secret-of-two" }))
      expect(JSON.parse((yield* first.run(call("file_read", { path: "mine.txt" }))).text).content).toBe("secret-of-two")
      expect((yield* second.run(call("file_read", { path: "mine.txt" }))).isError).toBe(true)
      yield* second.run(call("file_write", { path: "mine.txt", content: "secret-of-two" }))
      expect(JSON.parse((yield* second.run(call("file_read", { path: "mine.txt" }))).text).content).toBe("***")
    }).pipe(Effect.scoped))

  it.live("drives a custom HTTP Tool through the loop end to end", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<ReturnType<typeof createServer>>((r) => {
          const s = createServer((req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ticket: req.url, auth: req.headers.authorization })))
          s.listen(0, "127.0.0.1", () => r(s))
        })),
        (s) => Effect.promise(() => new Promise<void>((r) => s.close(() => r())))
      )
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tickets/{{id}}`
      const tools = yield* makeServerTools(config, [{
        tool: { apiVersion: "core.orka.ai/v1alpha1", kind: "Tool", metadata: { name: "ticket" }, spec: { description: "a ticket", http: { url, method: "GET" } } },
        authKey: "k"
      }])
      let turn = 0
      const model = () => Stream.fromIterable<StreamEvent>(turn++ === 0
        ? [{ type: "start", id: "1", model: "m" }, { type: "tool_call_start", index: 0, id: "t", name: "ticket" }, { type: "tool_call_delta", index: 0, arguments: "{\"id\":\"T-7\"}" }, { type: "finish", reason: "tool_use", usage: { inputTokens: 1, outputTokens: 1 } }]
        : [{ type: "start", id: "2", model: "m" }, { type: "text", text: "done" }, { type: "finish", reason: "end_turn", usage: { inputTokens: 1, outputTokens: 1 } }])
      const events = yield* Stream.runCollect(runToolLoop({ model: "m", system: [], messages: [{ role: "user", content: [{ type: "text", text: "ticket T-7?" }] }], tools: [], extensions: {} }, model, tools, loopLimits(testConfig())))
      const progress = events.find((e) => e.type === "server_tool_result") as { result: string }
      expect(JSON.parse(progress.result)).toEqual({ ticket: "/tickets/T-7", auth: "Bearer k" })
      expect(events.at(-1)).toMatchObject({ type: "finish", reason: "end_turn", usage: { inputTokens: 2, outputTokens: 2 } })
    }).pipe(Effect.scoped))

  it.live("a Tool's key never reaches the model, even in an answer or an error that echoes the request", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<ReturnType<typeof createServer>>((r) => {
          const s = createServer((req, res) => {
            let body = ""
            req.on("data", (c: Buffer) => (body += c.toString()))
            req.on("end", () =>
              req.url === "/fail"
                ? res.writeHead(500).end(`upstream said ${req.headers.authorization}`)
                : res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ headers: req.headers, body })))
          })
          s.listen(0, "127.0.0.1", () => r(s))
        })),
        (s) => Effect.promise(() => new Promise<void>((r) => s.close(() => r())))
      )
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      // as the tool loop does: the keys it read are registered with the masking
      const redactor = makeRedactor()
      redactor.register("tools", ["tool-secret"])
      const httpTool = (name: string, http: Record<string, unknown>) => ({
        tool: { apiVersion: "core.orka.ai/v1alpha1" as const, kind: "Tool" as const, metadata: { name }, spec: { description: name, http: { url: "", ...http } } },
        authKey: "tool-secret"
      })
      const tools = yield* makeServerTools({ ...config, mask: (text) => redactor.mask(text) }, [
        httpTool("echo", { url: `${base}/echo` }),
        httpTool("echo_body", { url: `${base}/echo`, authInject: "body" }),
        httpTool("fail", { url: `${base}/fail` })
      ])
      const echoed = yield* tools.run(call("echo", { q: 1 }))
      expect(echoed.text).not.toContain("tool-secret")
      expect(JSON.parse(echoed.text)).toMatchObject({ headers: { authorization: "Bearer ***" } })
      expect((yield* tools.run(call("echo_body", {}))).text).not.toContain("tool-secret")
      expect(JSON.parse((yield* tools.run(call("fail", {}))).text)).toEqual({ success: false, error: "the tool answered HTTP 500: upstream said Bearer ***" })
    }).pipe(Effect.scoped))
})
