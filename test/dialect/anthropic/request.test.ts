import { describe, expect, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { decodeMessagesRequest } from "../../../src/dialect/anthropic/request.ts"
import { toolInput } from "../../../src/dialect/anthropic/vocabulary.ts"
import type { DecodedRequest } from "../../../src/dialect/wire.ts"
import { claudeCodeRequest, pngBase64, schemas, sdkRequest } from "./payloads.ts"

const modelOf = (body: unknown) => (typeof body === "object" && body !== null && typeof (body as { model?: unknown }).model === "string" ? (body as { model: string }).model : "")
const decoded = (body: unknown) => decodeMessagesRequest(body, modelOf(body))
const decode = (body: unknown) => Effect.fromResult(decoded(body))
const rejection = (body: unknown) => Effect.flip(decode(body))
/** What was left out, as the log line says it. */
const notes = (request: DecodedRequest) => request.untranslatable.map((u) => `${u.param}: ${u.message} left out`)

const minimal = { model: "m", max_tokens: 16 }
const withUser = (content: unknown) => ({ ...minimal, messages: [{ role: "user", content }] })

describe("decodeMessagesRequest: Claude Code", () => {
  it.effect("maps system blocks, thinking, tool calls, tool results and tools with their cache breakpoints; keeps what the IR does not model", () =>
    Effect.gen(function*() {
      const decoded = yield* decode(claudeCodeRequest)
      expect(notes(decoded)).toEqual([])
      const conv = decoded.conversation
      expect(conv.model).toBe("anthropic/claude-sonnet-4-5-20250929")
      expect(conv.system).toEqual([
        { type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude.", cacheControl: { type: "ephemeral" } },
        { type: "text", text: "\nYou are an interactive CLI tool that helps users with software engineering tasks.", cacheControl: { type: "ephemeral" } }
      ])
      expect(conv.messages).toEqual([
        {
          role: "user",
          content: [
            { type: "text", text: "<system-reminder>\nAs you answer the user's questions, you can use the following context...\n</system-reminder>" },
            { type: "text", text: "why does `npm test` fail?", cacheControl: { type: "ephemeral" } }
          ]
        },
        {
          role: "assistant",
          content: [
            { type: "thinking", text: "I should run the tests first.", signature: "EqQBCkgIBRABGAIiQL7f" },
            { type: "text", text: "Let me run the tests and read the config." },
            {
              type: "tool_call",
              id: "toolu_01A09q90qw90lq917835lq9",
              name: "Bash",
              arguments: '{"command":"npm test","description":"Run the tests"}'
            },
            { type: "tool_call", id: "toolu_01B7Zxq2", name: "Read", arguments: '{"file_path":"/repo/vitest.config.ts"}' }
          ]
        },
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              callId: "toolu_01A09q90qw90lq917835lq9",
              content: [{ type: "text", text: "FAIL test/a.test.ts\nExpected 2, received 3" }],
              isError: true
            },
            { type: "tool_result", callId: "toolu_01B7Zxq2", content: [{ type: "text", text: "     1→export default {}" }], cacheControl: { type: "ephemeral" } }
          ]
        }
      ])
      expect(conv.tools).toEqual([
        { name: "Bash", description: "Executes a given bash command in a persistent shell session.", parameters: schemas.bashSchema },
        { name: "Read", description: "Reads a file from the local filesystem.", parameters: schemas.readSchema },
        { name: "Edit", description: "Performs exact string replacements in files.", parameters: schemas.editSchema, cacheControl: { type: "ephemeral" } }
      ])
      expect(conv.maxTokens).toBe(32000)
      expect(conv.user).toBe("user_2f1e9c_account__session_7d0c5b1e-3a4f-4b7e-9c1d-0e2f3a4b5c6d")
      expect(conv.extensions).toEqual({
        anthropic: {
          thinking: { type: "enabled", budget_tokens: 31999 },
          context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] }
        }
      })
      expect(conv.toolChoice).toBeUndefined()
      expect(conv.parallelToolCalls).toBeUndefined()
    }))
})

describe("decodeMessagesRequest: SDK requests", () => {
  it.effect("maps sampling parameters and a string system prompt; unknown fields go to extensions untouched", () =>
    Effect.gen(function*() {
      const { conversation } = yield* decode(sdkRequest)
      expect(conversation).toEqual({
        model: "openai/gpt-4o",
        system: [{ type: "text", text: "You are a terse assistant." }],
        messages: [{ role: "user", content: [{ type: "text", text: "Name three primes." }] }],
        tools: [],
        maxTokens: 1024,
        temperature: 0,
        topP: 0.9,
        stop: ["\n\nHuman:"],
        extensions: { anthropic: { top_k: 40, service_tier: "auto" } }
      })
    }))

  it.effect("maps base64 and url images; an image from the Files API is noted", () =>
    Effect.gen(function*() {
      const decoded = yield* decode(withUser([
        { type: "image", source: { type: "base64", media_type: "image/png", data: pngBase64 } },
        { type: "image", source: { type: "url", url: "https://upload.wikimedia.org/cat.jpg" }, cache_control: { type: "ephemeral" } },
        { type: "image", source: { type: "file", file_id: "file_011CNha8iCJcU1wXNR6q4V8w" } },
        { type: "text", text: "What is in these images?" }
      ]))
      expect(decoded.conversation.messages[0]?.content).toEqual([
        { type: "image", source: { kind: "base64", mediaType: "image/png", data: pngBase64 } },
        { type: "image", source: { kind: "url", url: "https://upload.wikimedia.org/cat.jpg" }, cacheControl: { type: "ephemeral" } },
        { type: "text", text: "What is in these images?" }
      ])
      expect(notes(decoded)).toEqual(['messages.0.content.2: image with a "file" source (Anthropic only) left out'])
    }))

  it.effect("turns plain-text documents into text and notes PDFs", () =>
    Effect.gen(function*() {
      const decoded = yield* decode(withUser([
        { type: "document", source: { type: "text", media_type: "text/plain", data: "The grass is green." }, title: "facts.txt", citations: { enabled: true } },
        { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" }, title: "Q3 report" },
        { type: "document", source: { type: "url", url: "https://example.com/a.pdf" } },
        { type: "text", text: "Summarize." }
      ]))
      expect(decoded.conversation.messages[0]?.content).toEqual([
        { type: "text", text: "The grass is green." },
        { type: "text", text: "Summarize." }
      ])
      expect(notes(decoded)).toEqual([
        'messages.0.content.1: document "Q3 report" (base64 application/pdf; Anthropic only) left out',
        "messages.0.content.2: document (url; Anthropic only) left out"
      ])
    }))

  it.effect("maps tool results with block content (text and images) and without content", () =>
    Effect.gen(function*() {
      const decoded = yield* decode(withUser([
        {
          type: "tool_result",
          tool_use_id: "toolu_1",
          content: [
            { type: "text", text: "screenshot taken" },
            { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } },
            { type: "search_result", source: "https://x", title: "x", content: [] }
          ]
        },
        { type: "tool_result", tool_use_id: "toolu_2", is_error: false },
        { type: "tool_result", tool_use_id: "toolu_3", content: "" }
      ]))
      expect(decoded.conversation.messages[0]?.content).toEqual([
        {
          type: "tool_result",
          callId: "toolu_1",
          content: [
            { type: "text", text: "screenshot taken" },
            { type: "image", source: { kind: "base64", mediaType: "image/jpeg", data: "/9j/4AAQ" } }
          ]
        },
        { type: "tool_result", callId: "toolu_2", content: [], isError: false },
        { type: "tool_result", callId: "toolu_3", content: [{ type: "text", text: "" }] }
      ])
      expect(notes(decoded)).toEqual(["messages.0.content.0.content.2: search_result block (Anthropic only) left out"])
    }))

  it.effect("notes and drops Anthropic-only blocks, and a turn left with nothing", () =>
    Effect.gen(function*() {
      const decoded = yield* decode({
        ...minimal,
        messages: [
          { role: "user", content: "What is the weather in Paris?" },
          {
            role: "assistant",
            content: [
              { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4a" },
              { type: "server_tool_use", id: "srvtoolu_01", name: "web_search", input: { query: "paris weather" } },
              { type: "web_search_tool_result", tool_use_id: "srvtoolu_01", content: [] },
              { type: "text", text: "It is sunny." }
            ]
          },
          { role: "assistant", content: [{ type: "redacted_thinking", data: "abc" }] },
          { role: "user", content: "Thanks" }
        ]
      })
      expect(decoded.conversation.messages).toEqual([
        { role: "user", content: [{ type: "text", text: "What is the weather in Paris?" }] },
        { role: "assistant", content: [{ type: "text", text: "It is sunny." }] },
        { role: "user", content: [{ type: "text", text: "Thanks" }] }
      ])
      expect(notes(decoded)).toEqual([
        "messages.1.content.0: redacted_thinking block (Anthropic only) left out",
        "messages.1.content.1: server_tool_use block (Anthropic only) left out",
        "messages.1.content.2: web_search_tool_result block (Anthropic only) left out",
        "messages.2.content.0: redacted_thinking block (Anthropic only) left out",
        "messages.2: assistant message (nothing left in it) left out"
      ])
    }))

  it.effect("keeps custom tools and notes server tools, which run only on Anthropic", () =>
    Effect.gen(function*() {
      const decoded = yield* decode({
        ...withUser("hi"),
        tools: [
          { type: "web_search_20250305", name: "web_search", max_uses: 5 },
          { type: "custom", name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } },
          { type: "bash_20250124", name: "bash" },
          { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
          { type: "computer_20250124", name: "computer", display_width_px: 1024, display_height_px: 768 },
          { name: "lookup", description: "Looks things up", input_schema: { type: "object" } }
        ]
      })
      expect(decoded.conversation.tools).toEqual([
        { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
        { name: "lookup", description: "Looks things up", parameters: { type: "object" } }
      ])
      expect(notes(decoded)).toEqual([
        'tools.0: server tool "web_search" (web_search_20250305; runs only on Anthropic) left out',
        'tools.2: server tool "bash" (bash_20250124; runs only on Anthropic) left out',
        'tools.3: server tool "str_replace_based_edit_tool" (text_editor_20250728; runs only on Anthropic) left out',
        'tools.4: server tool "computer" (computer_20250124; runs only on Anthropic) left out'
      ])
      expect(decoded.conversation.extensions).toEqual({})
    }))

  it.effect("maps tool_choice and disable_parallel_tool_use", () =>
    Effect.gen(function*() {
      const choose = (tool_choice: unknown) =>
        Effect.map(decode({ ...withUser("hi"), tool_choice }), ({ conversation }) => ({
          toolChoice: conversation.toolChoice,
          parallelToolCalls: conversation.parallelToolCalls
        }))
      expect(yield* choose({ type: "auto" })).toEqual({ toolChoice: { type: "auto" }, parallelToolCalls: undefined })
      expect(yield* choose({ type: "any" })).toEqual({ toolChoice: { type: "required" }, parallelToolCalls: undefined })
      expect(yield* choose({ type: "none" })).toEqual({ toolChoice: { type: "none" }, parallelToolCalls: undefined })
      expect(yield* choose({ type: "tool", name: "get_weather" })).toEqual({
        toolChoice: { type: "tool", name: "get_weather" },
        parallelToolCalls: undefined
      })
      expect(yield* choose({ type: "auto", disable_parallel_tool_use: true })).toEqual({
        toolChoice: { type: "auto" },
        parallelToolCalls: false
      })
      expect(yield* choose({ type: "any", disable_parallel_tool_use: false })).toEqual({
        toolChoice: { type: "required" },
        parallelToolCalls: undefined
      })
    }))

  it.effect("maps metadata.user_id; metadata with other keys also rides along in extensions", () =>
    Effect.gen(function*() {
      const plain = yield* decode({ ...withUser("hi"), metadata: { user_id: null } })
      expect(plain.conversation.user).toBeUndefined()
      expect(plain.conversation.extensions).toEqual({})
      const extra = yield* decode({ ...withUser("hi"), metadata: { user_id: "u-1", tenant: "acme" } })
      expect(extra.conversation.user).toBe("u-1")
      expect(extra.conversation.extensions).toEqual({ anthropic: { metadata: { user_id: "u-1", tenant: "acme" } } })
    }))

  it.effect("accepts block types newer than this code instead of rejecting them", () =>
    Effect.gen(function*() {
      const decoded = yield* decode(withUser([{ type: "hologram_20270101", data: "…" }, { type: "text", text: "hi" }]))
      expect(decoded.conversation.messages[0]?.content).toEqual([{ type: "text", text: "hi" }])
      expect(notes(decoded)).toEqual(["messages.0.content.0: hologram_20270101 block (Anthropic only) left out"])
    }))
})

describe("decodeMessagesRequest: validation", () => {
  const cases: ReadonlyArray<{ readonly name: string; readonly body: unknown; readonly param: string | undefined; readonly message: string }> = [
    { name: "body not an object", body: [1], param: undefined, message: "request body: Expected object" },
    { name: "missing model", body: { max_tokens: 1, messages: [{ role: "user", content: "hi" }] }, param: "model", message: "model: Field required" },
    { name: "missing max_tokens", body: { model: "m", messages: [{ role: "user", content: "hi" }] }, param: "max_tokens", message: "max_tokens: Field required" },
    { name: "zero max_tokens", body: { ...withUser("hi"), max_tokens: 0 }, param: "max_tokens", message: "max_tokens: Expected a value greater than or equal to 1" },
    { name: "fractional max_tokens", body: { ...withUser("hi"), max_tokens: 1.5 }, param: "max_tokens", message: "max_tokens: Expected an integer" },
    { name: "string max_tokens", body: { ...withUser("hi"), max_tokens: "1024" }, param: "max_tokens", message: "max_tokens: Expected number" },
    { name: "missing messages", body: minimal, param: "messages", message: "messages: Field required" },
    { name: "empty messages", body: { ...minimal, messages: [] }, param: "messages", message: "messages: at least one message is required" },
    { name: "an unknown role", body: { ...minimal, messages: [{ role: "critic", content: "x" }] }, param: "messages.0.role", message: 'messages.0.role: Expected "user" | "assistant" | "system"' },
    { name: "missing content", body: { ...minimal, messages: [{ role: "user" }] }, param: "messages.0.content", message: "messages.0.content: Field required" },
    {
      name: "block without type",
      body: { ...minimal, messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }, { role: "user", content: [{ text: "c" }] }] },
      param: "messages.2.content.0.type",
      message: "messages.2.content.0.type: Field required"
    },
    { name: "text block without text", body: withUser([{ type: "text" }]), param: "messages.0.content.0.text", message: "messages.0.content.0.text: Field required" },
    {
      name: "image without data",
      body: withUser([{ type: "image", source: { type: "base64", media_type: "image/png" } }]),
      param: "messages.0.content.0.source.data",
      message: "messages.0.content.0.source.data: Field required"
    },
    {
      name: "tool_use without id",
      body: { ...minimal, messages: [{ role: "assistant", content: [{ type: "tool_use", name: "Bash", input: {} }] }] },
      param: "messages.0.content.0.id",
      message: "messages.0.content.0.id: Field required"
    },
    {
      name: "tool_use input that is not an object",
      body: { ...minimal, messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t", name: "Bash", input: "ls" }] }] },
      param: "messages.0.content.0.input",
      message: "messages.0.content.0.input: Expected object"
    },
    {
      name: "tool_result without tool_use_id",
      body: withUser([{ type: "tool_result", content: "ok" }]),
      param: "messages.0.content.0.tool_use_id",
      message: "messages.0.content.0.tool_use_id: Field required"
    },
    {
      name: "bad block inside a tool_result",
      body: withUser([{ type: "tool_result", tool_use_id: "t", content: [{ type: "text", text: 42 }] }]),
      param: "messages.0.content.0.content.0.text",
      message: "messages.0.content.0.content.0.text: Expected string"
    },
    {
      name: "thinking without text",
      body: { ...minimal, messages: [{ role: "assistant", content: [{ type: "thinking", signature: "s" }] }] },
      param: "messages.0.content.0.thinking",
      message: "messages.0.content.0.thinking: Field required"
    },
    {
      name: "system block that is not text",
      body: { ...withUser("hi"), system: [{ type: "image", source: {} }] },
      param: "system.0.type",
      message: 'system.0.type: Expected "text"'
    },
    {
      name: "custom tool without input_schema",
      body: { ...withUser("hi"), tools: [{ name: "a", input_schema: { type: "object" } }, { name: "b" }] },
      param: "tools.1.input_schema",
      message: "tools.1.input_schema: Field required"
    },
    {
      name: "tool_choice tool without name",
      body: { ...withUser("hi"), tool_choice: { type: "tool" } },
      param: "tool_choice.name",
      message: "tool_choice.name: Field required"
    },
    {
      name: "unknown tool_choice",
      body: { ...withUser("hi"), tool_choice: { type: "required" } },
      param: "tool_choice.type",
      message: 'tool_choice.type: Expected "auto" | "any" | "tool" | "none"'
    },
    { name: "stream not boolean", body: { ...withUser("hi"), stream: "yes" }, param: "stream", message: "stream: Expected boolean" },
    {
      name: "stop_sequences not a list",
      body: { ...withUser("hi"), stop_sequences: "END" },
      param: "stop_sequences",
      message: "stop_sequences: Expected array"
    },
    { name: "temperature not a number", body: { ...withUser("hi"), temperature: "0.5" }, param: "temperature", message: "temperature: Expected number" },
    { name: "a message that is no object", body: { ...minimal, messages: [["user", "hi"]] }, param: "messages.0", message: "messages.0: Expected object" },
    { name: "content neither text nor blocks", body: withUser(42), param: "messages.0.content", message: "messages.0.content: Expected string | array" },
    { name: "a block that is no object", body: withUser(["hi"]), param: "messages.0.content.0", message: "messages.0.content.0: Expected object" },
    { name: "a block's type not a string", body: withUser([{ type: 1 }]), param: "messages.0.content.0.type", message: "messages.0.content.0.type: Expected string" },
    {
      name: "a block without type inside a tool_result",
      body: withUser([{ type: "tool_result", tool_use_id: "t", content: [{ text: "x" }] }]),
      param: "messages.0.content.0.content.0.type",
      message: "messages.0.content.0.content.0.type: Field required"
    },
    { name: "a tool that is no object", body: { ...withUser("hi"), tools: ["Bash"] }, param: "tools.0", message: "tools.0: Expected object" },
    { name: "a tool's type not a string", body: { ...withUser("hi"), tools: [{ type: 3 }] }, param: "tools.0.type", message: "tools.0.type: Expected string | null" },
    // the first fault in the envelope's field order: model, max_tokens, messages (and their blocks), system…, tools, tool_choice, metadata
    { name: "a bad model before a bad message", body: { ...withUser([{}]), model: 5 }, param: "model", message: "model: Expected string" },
    { name: "a bad message before a bad stream", body: { ...withUser([{ type: 1 }]), stream: "yes" }, param: "messages.0.content.0.type", message: "messages.0.content.0.type: Expected string" },
    { name: "a bad stream before a bad tool", body: { ...withUser("hi"), stream: "yes", tools: [1] }, param: "stream", message: "stream: Expected boolean" },
    { name: "a bad tool before a bad tool_choice", body: { ...withUser("hi"), tools: [1], tool_choice: "auto" }, param: "tools.0", message: "tools.0: Expected object" },
    { name: "a bad tool before bad metadata", body: { ...withUser("hi"), tools: [{ type: 1 }], metadata: 1 }, param: "tools.0.type", message: "tools.0.type: Expected string | null" },
    {
      name: "the envelope before any block's own shape",
      body: { ...withUser([{ type: "text" }]), stream: "yes" },
      param: "stream",
      message: "stream: Expected boolean"
    }
  ]

  for (const { body, message, name, param } of cases) {
    it.effect(`${name} → 400 naming ${param ?? "the body"}`, () =>
      Effect.gen(function*() {
        const error = yield* rejection(body)
        expect(error).toMatchObject({ kind: "invalid_request", message })
        expect(error.param).toBe(param)
      }))
  }
})

describe("a tool call's input", () => {
  it("goes back to Anthropic as the object it was read as; a part made anew is read from its arguments", () => {
    const input = { command: "ls -la", options: { all: true } }
    const decoded = Result.getOrThrow(decodeMessagesRequest({ ...minimal, messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input }] }] }, "m"))
    const part = decoded.conversation.messages[0]!.content[0]!
    if (part.type !== "tool_call") throw new Error("expected a tool call")
    expect(JSON.parse(part.arguments)).toEqual(input)
    expect(toolInput(part)).toEqual(input)
    expect(toolInput(part)).toBe(toolInput(part))
    expect(toolInput({ ...part, arguments: "{\"command\":\"pwd\"}" })).toEqual({ command: "pwd" })
    expect(toolInput({ ...part, arguments: "{\"cut" })).toEqual({})
  })
})
