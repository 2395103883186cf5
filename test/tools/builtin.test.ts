import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodeArguments, definitionOf } from "../../src/tools/builtin.ts"
import { codeExecTool } from "../../src/tools/code-exec.ts"
import { webFetchTool } from "../../src/tools/web-fetch.ts"
import { webSearchTool } from "../../src/tools/web-search.ts"
import { fileReadTool, fileWriteTool } from "../../src/tools/workspace.ts"

describe("built-in tools: one Schema for what is offered and what is accepted", () => {
  it("offers each tool's parameters as plain JSON Schema", () => {
    expect(definitionOf(webFetchTool).parameters).toEqual({
      type: "object",
      properties: {
        url: { type: "string", minLength: 1, description: "The http(s) URL to fetch" },
        max_chars: { type: "integer", description: "Most characters to return (default 50000)", minimum: 1 },
        raw: { type: "boolean", description: "Return the body as received instead of readable text" }
      },
      required: ["url"]
    })
    expect(definitionOf(codeExecTool).parameters).toEqual({
      type: "object",
      properties: {
        language: { type: "string", enum: ["python", "python3", "javascript", "node", "bash", "sh"], description: "The program's language; python, python3, javascript and node are supported" },
        code: { type: "string", description: "The program" },
        timeout: { type: "integer", minimum: 1, maximum: 60, description: "Seconds before it is stopped (default 30)" }
      },
      required: ["language", "code"]
    })
    expect(definitionOf(fileReadTool).parameters).toEqual({
      type: "object",
      properties: {
        path: { type: "string", minLength: 1, description: "Path inside the workspace" },
        offset: { type: "integer", description: "Byte offset to start at (default 0)", minimum: 0 },
        limit: { type: "integer", description: "Most bytes to read (default 65536, at most 1048576)", minimum: 1, maximum: 1048576 }
      },
      required: ["path"]
    })
    expect(definitionOf(fileWriteTool).parameters).toEqual({
      type: "object",
      properties: {
        path: { type: "string", minLength: 1, description: "Path inside the workspace" },
        content: { type: "string", description: "The text to write" },
        mode: { type: "string", enum: ["write", "append"], description: "Replace the file (default) or append to it" },
        create_dirs: { type: "boolean", description: "Create missing parent directories (default true)" }
      },
      required: ["path", "content"]
    })
    expect(definitionOf(webSearchTool)).toEqual({
      name: "web_search",
      description: "Search the web and return the top results (title, URL, snippet).",
      parameters: {
        type: "object",
        properties: {
          query: { type: "string", minLength: 1, description: "What to search for" },
          limit: { type: "integer", minimum: 1, maximum: 20, description: "How many results (default 5)" }
        },
        required: ["query"]
      }
    })
  })

  it.effect("decodes arguments, naming every field at fault", () =>
    Effect.gen(function*() {
      expect(yield* decodeArguments(fileReadTool, `{"path":"a.txt","limit":10}`)).toEqual({ path: "a.txt", limit: 10 })
      const bad = yield* Effect.flip(decodeArguments(fileReadTool, `{"offset":-1,"limit":"10"}`))
      expect(bad.message).toBe("path: is required; offset: Expected a value greater than or equal to 0; limit: Expected number")
      expect((yield* Effect.flip(decodeArguments(codeExecTool, `{"language":"ruby","code":"p 1"}`))).message)
        .toBe(`language: Expected "python" | "python3" | "javascript" | "node" | "bash" | "sh"`)
      expect((yield* Effect.flip(decodeArguments(webFetchTool, "[1]"))).message).toBe("the arguments must be a JSON object")
      // an empty argument string is no arguments
      expect((yield* Effect.flip(decodeArguments(webSearchTool, ""))).message).toBe("query: is required")
    }))

  it.effect("writes JSON given as an object as JSON text", () =>
    Effect.gen(function*() {
      expect(yield* decodeArguments(fileWriteTool, `{"path":"a.json","content":{"a":1}}`)).toEqual({ path: "a.json", content: "{\"a\":1}" })
    }))
})
