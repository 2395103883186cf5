import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { decodeResponsesRequest, referencesOf, type ResponsesPrepared } from "../../../src/dialect/responses/request.ts"
import { anthropicSignature, freeformArgument, itemId } from "../../../src/dialect/responses/vocabulary.ts"

const decode = (body: Record<string, unknown>, prepared?: ResponsesPrepared) => decodeResponsesRequest({ model: "m", ...body }, "upstream-model", prepared)
const ok = (body: Record<string, unknown>, prepared?: ResponsesPrepared) => Result.getOrThrow(decode(body, prepared))
const error = (body: unknown, prepared?: ResponsesPrepared) => {
  const r = decodeResponsesRequest(body, "upstream-model", prepared)
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}
const params = (d: { readonly untranslatable: ReadonlyArray<{ readonly param: string; readonly essential?: true }> }) =>
  d.untranslatable.map((u) => `${u.param}${u.essential === true ? "!" : ""}`)

const user = (text: string) => ({ role: "user", content: text })
const text = (t: string) => ({ type: "text", text: t })

describe("decodeResponsesRequest: input", () => {
  it("takes a string input as one user message and the model it is given", () => {
    const d = ok({ input: "hi" })
    expect(d.conversation.model).toBe("upstream-model")
    expect(d.conversation.messages).toEqual([{ role: "user", content: [text("hi")] }])
    expect(d.untranslatable).toEqual([])
    expect(d.extra.input).toEqual([{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }], id: expect.stringMatching(/^msg_[0-9a-f]{48}$/) }])
  })

  it("puts instructions and leading system/developer messages in the system prompt", () => {
    const d = ok({
      instructions: "be brief",
      input: [{ role: "developer", content: "one" }, { type: "message", role: "system", content: [{ type: "input_text", text: "two" }] }, user("hi")]
    })
    expect(d.conversation.system).toEqual([text("be brief"), text("one"), text("two")])
    expect(d.conversation.messages).toEqual([{ role: "user", content: [text("hi")] }])
    expect(ok({ input: "x", instructions: null }).conversation.system).toEqual([])
  })

  it("keeps a developer message mid-conversation as a system turn at its place", () => {
    const d = ok({ input: [user("a"), { role: "assistant", content: [{ type: "output_text", text: "b", annotations: [] }] }, { role: "developer", content: "now in French" }, user("c")] })
    expect(d.conversation.system).toEqual([])
    expect(d.conversation.messages).toEqual([
      { role: "user", content: [text("a")] },
      { role: "assistant", content: [text("b")] },
      { role: "system", content: [text("now in French")] },
      { role: "user", content: [text("c")] }
    ])
  })

  it("maps images in user messages, drops refusals, lists files and audio", () => {
    const d = ok({
      input: [
        { role: "user", content: [
          { type: "input_text", text: "look" },
          { type: "input_image", image_url: "data:image/png;base64,AAAA", detail: "low" },
          { type: "input_image", image_url: "https://example.com/a.png", detail: "auto" },
          { type: "input_image", file_id: "file_1", detail: "auto" },
          { type: "input_file", file_id: "file_2" },
          { type: "input_audio", input_audio: { data: "x", format: "wav" } }
        ] },
        { role: "assistant", content: [{ type: "refusal", refusal: "no" }, { type: "output_text", text: "ok" }] }
      ]
    })
    expect(d.conversation.messages).toEqual([
      { role: "user", content: [
        text("look"),
        { type: "image", source: { kind: "base64", mediaType: "image/png", data: "AAAA" }, detail: "low" },
        { type: "image", source: { kind: "url", url: "https://example.com/a.png" }, detail: "auto" }
      ] },
      { role: "assistant", content: [text("ok")] }
    ])
    expect(params(d)).toEqual(["input.0.content.3.file_id", "input.0.content.4.type", "input.0.content.5.type"])
    expect(d.untranslatable[0]!.message).toBe("an uploaded file (OpenAI only)")
    expect(d.untranslatable.every((u) => u.essential === undefined)).toBe(true)
  })

  it("lists a user message with nothing left in it instead of sending an empty turn", () => {
    const d = ok({ input: [{ role: "user", content: [{ type: "input_file", file_id: "f" }] }, user("x")] })
    expect(params(d)).toEqual(["input.0.content.0.type", "input.0"])
    expect(d.conversation.messages).toEqual([{ role: "user", content: [text("x")] }])
  })

  it("merges reasoning, text and calls into one assistant turn, outputs and the next words into one user turn", () => {
    const d = ok({
      input: [
        user("weather?"),
        { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "think" }], encrypted_content: `${anthropicSignature}sig==` },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "checking" }] },
        { type: "function_call", call_id: "c1", name: "w", arguments: "{\"city\":\"Paris\"}" },
        { type: "function_call", call_id: "c2", name: "w", arguments: "" },
        { type: "function_call_output", call_id: "c1", output: "sunny" },
        { type: "function_call_output", call_id: "c2", output: [{ type: "input_text", text: "rain" }, { type: "input_image", image_url: "https://x/y.png" }] },
        user("thanks")
      ]
    })
    expect(d.conversation.messages).toEqual([
      { role: "user", content: [text("weather?")] },
      { role: "assistant", content: [
        { type: "thinking", text: "think", signature: "sig==" },
        text("checking"),
        { type: "tool_call", id: "c1", name: "w", arguments: "{\"city\":\"Paris\"}" },
        { type: "tool_call", id: "c2", name: "w", arguments: "{}" }
      ] },
      { role: "user", content: [
        { type: "tool_result", callId: "c1", content: [text("sunny")] },
        { type: "tool_result", callId: "c2", content: [text("rain"), { type: "image", source: { kind: "url", url: "https://x/y.png" } }] },
        text("thanks")
      ] }
    ])
    expect(d.untranslatable).toEqual([])
  })

  it("gives back Anthropic thinking exactly: summary parts joined, the signature after the marker", () => {
    const d = ok({
      input: [
        user("q"),
        { type: "reasoning", id: "rs_a", summary: [{ type: "summary_text", text: "first " }, { type: "summary_text", text: "second" }], encrypted_content: `${anthropicSignature}EqQBCkYIBxgCKkA=` },
        { role: "assistant", content: "a" }
      ]
    })
    expect(d.conversation.messages[1]).toEqual({ role: "assistant", content: [{ type: "thinking", text: "first second", signature: "EqQBCkYIBxgCKkA=" }, text("a")] })
    expect(d.extra.input[1]).toMatchObject({ id: "rs_a", type: "reasoning" })
  })

  it("lists OpenAI's reasoning (encrypted or not) and leaves it out of the conversation", () => {
    const d = ok({
      input: [
        user("q"),
        { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAAAABo..." },
        { type: "reasoning", id: "rs_2", summary: [{ type: "summary_text", text: "plain" }] },
        { role: "assistant", content: "a" }
      ]
    })
    expect(d.conversation.messages).toEqual([{ role: "user", content: [text("q")] }, { role: "assistant", content: [text("a")] }])
    expect(params(d)).toEqual(["input.1", "input.2"])
    expect(d.untranslatable[0]!.message).toBe("reasoning item (OpenAI's encrypted reasoning goes to OpenAI providers only)")
  })

  it("skips the calls of hosted tools the gateway served, lists other OpenAI-only items", () => {
    const d = ok({
      input: [
        user("q"),
        { type: "web_search_call", id: "ws_1", status: "completed", action: { type: "search", query: "x" } },
        { type: "code_interpreter_call", id: "ci_1", code: "1+1", container_id: "c", outputs: null, status: "completed" },
        { type: "file_search_call", id: "fs_1", queries: [], status: "completed" },
        { type: "computer_call", id: "cc_1", call_id: "k", action: {}, pending_safety_checks: [], status: "completed" },
        { type: "mcp_call", id: "mcp_1", name: "t", arguments: "{}", server_label: "s" },
        { type: "something_newer" },
        { role: "assistant", content: "a" }
      ]
    })
    expect(d.conversation.messages.map((m) => m.role)).toEqual(["user", "assistant"])
    expect(params(d)).toEqual(["input.3.type", "input.4.type", "input.5.type", "input.6.type"])
    expect(d.untranslatable[0]!.message).toBe("input item of type \"file_search_call\" (OpenAI only)")
    expect(d.extra.input).toHaveLength(8)
  })

  it("gives every input item an id, keeping the one it has", () => {
    const d = ok({
      input: [
        user("q"),
        { type: "message", id: "msg_keep", role: "assistant", content: "a" },
        { type: "function_call", call_id: "c", name: "f", arguments: "{}" },
        { type: "function_call_output", call_id: "c", output: "r" },
        { type: "custom_tool_call", call_id: "d", name: "g", input: "x" },
        { type: "custom_tool_call_output", call_id: "d", output: "y" },
        { type: "reasoning", summary: [] },
        { type: "local_shell_call", call_id: "e", action: {}, status: "completed" }
      ]
    })
    const ids = d.extra.input.map((item) => String(item.id))
    expect(ids[1]).toBe("msg_keep")
    expect(ids.map((id) => id.replace(/_[0-9a-f]{48}$/, "_"))).toEqual(["msg_", "msg_keep", "fc_", "fco_", "ctc_", "ctco_", "rs_", "item_"])
    expect(d.extra.input[0]).toEqual({ type: "message", role: "user", content: "q", id: ids[0] })
    expect(d.extra.input[2]).toEqual({ type: "function_call", call_id: "c", name: "f", arguments: "{}", id: ids[2] })
  })
})

describe("decodeResponsesRequest: a Codex request", () => {
  const grammar = "start: begin_patch hunk+ end_patch\nbegin_patch: \"*** Begin Patch\" LF"
  const patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
  const body = {
    model: "gpt-5-codex",
    instructions: "You are Codex.",
    input: [
      { type: "message", role: "user", content: [{ type: "input_text", text: "add a.txt" }] },
      { type: "reasoning", summary: [{ type: "summary_text", text: "**Planning**" }], content: null, encrypted_content: "gAAAAABoOpenAI" },
      { type: "function_call", name: "shell", arguments: "{\"command\":[\"ls\"]}", call_id: "call_1" },
      { type: "function_call_output", call_id: "call_1", output: "README.md" },
      { type: "custom_tool_call", name: "apply_patch", input: patch, call_id: "call_2", status: "completed" },
      { type: "custom_tool_call_output", call_id: "call_2", output: "Success. Updated the following files:\nA a.txt" }
    ],
    tools: [
      { type: "function", name: "shell", description: "Runs a shell command", strict: false, parameters: { type: "object", properties: { command: { type: "array", items: { type: "string" } } }, required: ["command"] } },
      { type: "custom", name: "apply_patch", description: "Use apply_patch to edit files.", format: { type: "grammar", syntax: "lark", definition: grammar } }
    ],
    tool_choice: "auto",
    parallel_tool_calls: false,
    reasoning: { effort: "medium", summary: "auto" },
    store: false,
    stream: true,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "conv-123"
  }
  const d = Result.getOrThrow(decodeResponsesRequest(body, "gpt-5-codex", undefined))

  it("decodes the conversation", () => {
    expect(d.conversation.system).toEqual([text("You are Codex.")])
    expect(d.conversation.messages).toEqual([
      { role: "user", content: [text("add a.txt")] },
      { role: "assistant", content: [{ type: "tool_call", id: "call_1", name: "shell", arguments: "{\"command\":[\"ls\"]}" }] },
      { role: "user", content: [{ type: "tool_result", callId: "call_1", content: [text("README.md")] }] },
      { role: "assistant", content: [{ type: "tool_call", id: "call_2", name: "apply_patch", arguments: JSON.stringify({ [freeformArgument]: patch }) }] },
      { role: "user", content: [{ type: "tool_result", callId: "call_2", content: [text("Success. Updated the following files:\nA a.txt")] }] }
    ])
    expect(params(d)).toEqual(["input.1"])
    expect(d.conversation.toolChoice).toEqual({ type: "auto" })
    expect(d.conversation.parallelToolCalls).toBe(false)
    expect(d.conversation.reasoningEffort).toBe("medium")
  })

  it("makes the freeform tool a tool with one string argument, its grammar in the description", () => {
    expect(d.conversation.tools[0]).toEqual({
      name: "shell",
      description: "Runs a shell command",
      parameters: body.tools[0]!.parameters,
      strict: false
    })
    const applyPatch = d.conversation.tools[1]!
    expect(applyPatch.name).toBe("apply_patch")
    expect(applyPatch.parameters).toEqual({
      type: "object",
      properties: { [freeformArgument]: { type: "string", description: expect.any(String) } },
      required: [freeformArgument],
      additionalProperties: false
    })
    expect(applyPatch.description).toContain("Use apply_patch to edit files.")
    expect(applyPatch.description).toContain("lark grammar")
    expect(applyPatch.description).toContain(grammar)
    expect([...d.extra.freeform]).toEqual(["apply_patch"])
    expect([...d.extra.hosted]).toEqual([])
  })

  it("keeps what the IR does not model in the extensions (include asks for what is always sent)", () => {
    expect(d.conversation.extensions).toEqual({ openai: { prompt_cache_key: "conv-123", reasoning_effort: "medium" } })
    expect(d.extra.store).toBe(false)
    expect(d.extra.echo).toMatchObject({ store: false, prompt_cache_key: "conv-123", reasoning: { effort: "medium", summary: "auto" }, tools: body.tools, parallel_tool_calls: false })
  })
})

describe("decodeResponsesRequest: tools and options", () => {
  it("offers a namespace's tools by namespaced names, and reads their calls back so", () => {
    const decoded = ok({
      tools: [{ type: "namespace", name: "agents", description: "Sub-agents.", tools: [{ type: "function", name: "spawn", description: "Starts one", parameters: { type: "object" } }] }],
      input: [user("go"), { type: "function_call", call_id: "c1", name: "spawn", namespace: "agents", arguments: "{}" }, { type: "function_call_output", call_id: "c1", output: "ok" }]
    })
    expect(decoded.conversation.tools).toEqual([{ name: "agents__spawn", description: "Sub-agents.\n\nStarts one", parameters: { type: "object" } }])
    expect(decoded.extra.namespaced).toEqual(new Map([["agents__spawn", { namespace: "agents", name: "spawn" }]]))
    expect(decoded.conversation.messages[1]!.content).toEqual([{ type: "tool_call", id: "c1", name: "agents__spawn", arguments: "{}" }])
    expect(error({ model: "m", input: "x", tools: [{ type: "namespace", name: "n", tools: [{ type: "web_search" }] }] })).toMatchObject({ param: "tools.0.tools.0.type" })
  })


  it("reads flat function tools, defaulting their parameters", () => {
    const d = ok({ input: "x", tools: [{ type: "function", name: "f", description: null, parameters: null, strict: null }, { type: "function", name: "g", description: "does g", strict: true }] })
    expect(d.conversation.tools).toEqual([
      { name: "f", parameters: { type: "object", properties: {} } },
      { name: "g", description: "does g", parameters: { type: "object", properties: {} }, strict: true }
    ])
  })

  it("describes a custom tool without a grammar by its description alone", () => {
    const d = ok({ input: "x", tools: [{ type: "custom", name: "note", description: "Takes a note.", format: { type: "text" } }, { type: "custom", name: "bare" }] })
    expect(d.conversation.tools.map((t) => t.description)).toEqual(["Takes a note.", undefined])
    expect([...d.extra.freeform]).toEqual(["note", "bare"])
  })

  it("asks the tool loop for hosted tools instead of listing them as tools", () => {
    const d = ok({
      input: "x",
      tools: [{ type: "web_search" }, { type: "web_search_preview_2025_03_11" }, { type: "code_interpreter", container: { type: "auto" } }, { type: "function", name: "f" }],
      tool_choice: { type: "web_search_preview" }
    })
    expect(d.conversation.tools.map((t) => t.name)).toEqual(["f"])
    expect([...d.extra.hosted].sort()).toEqual(["code_exec", "web_search"])
    expect(d.conversation.toolChoice).toEqual({ type: "tool", name: "web_search" })
    expect(d.untranslatable).toEqual([])
    expect(ok({ input: "x", tool_choice: { type: "code_interpreter" } }).conversation.toolChoice).toEqual({ type: "tool", name: "code_exec" })
  })

  it("lists the hosted tools only OpenAI serves as essential", () => {
    const d = ok({
      input: "x",
      tools: [{ type: "file_search", vector_store_ids: ["v"] }, { type: "computer_use_preview", display_width: 1, display_height: 1, environment: "browser" }, { type: "mcp", server_label: "s" }, { type: "image_generation" }, { type: "local_shell" }, { type: "brand_new" }]
    })
    expect(params(d)).toEqual(["tools.0.type!", "tools.1.type!", "tools.2.type!", "tools.3.type!", "tools.4.type!", "tools.5.type!"])
    expect(d.untranslatable[0]!.message).toBe("a hosted tool of type \"file_search\" is served by OpenAI providers only")
    expect(d.conversation.tools).toEqual([])
  })

  it("maps tool_choice", () => {
    const choice = (tool_choice: unknown) => ok({ input: "x", tool_choice }).conversation.toolChoice
    expect(choice("none")).toEqual({ type: "none" })
    expect(choice("required")).toEqual({ type: "required" })
    expect(choice({ type: "function", name: "f" })).toEqual({ type: "tool", name: "f" })
    expect(choice({ type: "custom", name: "apply_patch" })).toEqual({ type: "tool", name: "apply_patch" })
    expect(choice(null)).toBeUndefined()
    const allowed = ok({ input: "x", tool_choice: { type: "allowed_tools", mode: "auto", tools: [{ type: "function", name: "f" }] } })
    expect(allowed.conversation.toolChoice).toBeUndefined()
    expect(params(allowed)).toEqual(["tool_choice"])
    expect(params(ok({ input: "x", tool_choice: { type: "file_search" } }))).toEqual(["tool_choice.type!"])
    expect(error({ model: "m", input: "x", tool_choice: "sometimes" })).toMatchObject({ kind: "invalid_request", param: "tool_choice" })
    expect(error({ model: "m", input: "x", tool_choice: { type: "function" } })).toMatchObject({ param: "tool_choice.name" })
  })

  it("maps sampling, limits and user", () => {
    const c = ok({ input: "x", temperature: 0, top_p: 0.5, max_output_tokens: 100, user: "u1", parallel_tool_calls: true, stream: false }).conversation
    expect(c).toMatchObject({ temperature: 0, topP: 0.5, maxTokens: 100, user: "u1", parallelToolCalls: true })
    expect(c.extensions).toEqual({})
    expect(ok({ input: "x", reasoning: { effort: null } }).conversation.reasoningEffort).toBeUndefined()
  })

  it("gives text formats, verbosity and cache hints to Chat Completions providers", () => {
    const schema = { type: "object", properties: { a: { type: "string" } } }
    const openai = (body: Record<string, unknown>) => ok({ input: "x", ...body }).conversation.extensions.openai
    expect(openai({ text: { format: { type: "json_schema", name: "out", schema, strict: true, description: "the answer" }, verbosity: "low" } })).toEqual({
      response_format: { type: "json_schema", json_schema: { name: "out", schema, strict: true, description: "the answer" } },
      verbosity: "low"
    })
    expect(openai({ text: { format: { type: "json_schema", name: "out", schema } } })).toEqual({ response_format: { type: "json_schema", json_schema: { name: "out", schema } } })
    expect(openai({ text: { format: { type: "json_object" } } })).toEqual({ response_format: { type: "json_object" } })
    expect(openai({ text: { format: { type: "text" } } })).toBeUndefined()
    expect(openai({ safety_identifier: "s", service_tier: "flex", metadata: { k: "v" } })).toEqual({ safety_identifier: "s", service_tier: "flex", metadata: { k: "v" } })
    expect(error({ model: "m", input: "x", text: { format: { type: "json_schema", schema } } })).toMatchObject({ param: "text.format.name" })
    expect(params(ok({ input: "x", text: { format: { type: "xml" } } }))).toEqual(["text.format.type!"])
  })

  it("keeps the other top-level fields for the left-out log; background and conversations are essential", () => {
    const d = ok({ input: "x", truncation: "auto", top_logprobs: 2, stream_options: { include_obfuscation: false }, prompt: { id: "p" }, future_field: 1, store: true })
    expect(d.conversation.extensions.responses).toEqual({ truncation: "auto", top_logprobs: 2, stream_options: { include_obfuscation: false }, prompt: { id: "p" }, future_field: 1 })
    expect(d.untranslatable).toEqual([])
    const e = ok({ input: "x", background: true, conversation: "conv_1" })
    expect(params(e)).toEqual(["background!", "conversation!"])
    expect(e.conversation.extensions.responses).toEqual({ background: true, conversation: "conv_1" })
    expect(params(ok({ input: "x", background: false, conversation: null }))).toEqual([])
  })
})

describe("decodeResponsesRequest: stored conversations", () => {
  const history = [
    { type: "message", id: "msg_h1", role: "user", content: [{ type: "input_text", text: "first" }] },
    { type: "message", id: "msg_h2", role: "assistant", status: "completed", content: [{ type: "output_text", text: "answer", annotations: [] }] }
  ]

  it("puts the stored history before the request's input", () => {
    const d = ok({ previous_response_id: "resp_1", input: "next" }, { history, references: new Map() })
    expect(d.conversation.messages).toEqual([
      { role: "user", content: [text("first")] },
      { role: "assistant", content: [text("answer")] },
      { role: "user", content: [text("next")] }
    ])
    expect(d.untranslatable).toEqual([])
    expect(d.extra.input.slice(0, 2)).toEqual(history)
    expect(d.extra.input).toHaveLength(3)
    expect(d.extra.echo.previous_response_id).toBe("resp_1")
  })

  it("needs no input when there is history", () => {
    const d = ok({ previous_response_id: "resp_1" }, { history, references: new Map() })
    expect(d.conversation.messages).toHaveLength(2)
    expect(error({ model: "m" })).toMatchObject({ param: "input" })
    expect(error({ model: "m", previous_response_id: "resp_1" }, { history: [], references: new Map() })).toMatchObject({ param: "input" })
  })

  it("names an item of the history by its place under previous_response_id", () => {
    const d = ok({ previous_response_id: "resp_1", input: "x" }, { history: [{ type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAA" }], references: new Map() })
    expect(params(d)).toEqual(["previous_response_id.0"])
  })

  it("replaces an item reference by the item it names", () => {
    const references = new Map([["fc_1", { type: "function_call", id: "fc_1", call_id: "c1", name: "f", arguments: "{}" }]])
    const body = { input: [user("q"), { type: "item_reference", id: "fc_1" }, { id: "fc_1" }, { type: "function_call_output", call_id: "c1", output: "r" }] }
    const d = ok(body, { history: [], references })
    expect(d.conversation.messages[1]).toEqual({ role: "assistant", content: [
      { type: "tool_call", id: "c1", name: "f", arguments: "{}" },
      { type: "tool_call", id: "c1", name: "f", arguments: "{}" }
    ] })
    expect(d.extra.input[1]).toEqual(references.get("fc_1"))
    expect(d.untranslatable).toEqual([])
  })

  it("lists a reference or a previous response it does not have as essential", () => {
    const missing = ok({ input: [{ type: "item_reference", id: "msg_gone" }, user("q")] }, { history: [], references: new Map() })
    expect(params(missing)).toEqual(["input.0!"])
    expect(missing.untranslatable[0]!.message).toBe("item_reference to an item this gateway did not store (its provider may have it)")
    expect(missing.extra.input[0]).toEqual({ type: "item_reference", id: "msg_gone" })
    expect(params(ok({ input: [{ type: "item_reference", id: "msg_gone" }] }))).toEqual(["input.0!"])
    const unknown = ok({ previous_response_id: "resp_elsewhere", input: "x" })
    expect(params(unknown)).toEqual(["previous_response_id!"])
    expect(unknown.untranslatable[0]!.message).toBe("a response this gateway did not store (its provider may have it)")
    expect(params(ok({ previous_response_id: "", input: "x" }))).toEqual([])
  })
})

describe("decodeResponsesRequest: failures", () => {
  it("names the field at fault", () => {
    expect(error({ input: "x" })).toMatchObject({ kind: "invalid_request", param: "model" })
    expect(error({ model: "", input: "x" }).message).toContain("is required")
    expect(error([1]).message).toContain("JSON object")
    expect(error({ model: "m", input: 5 })).toMatchObject({ param: "input" })
    expect(error({ model: "m", input: [user("a"), "b"] })).toMatchObject({ param: "input.1" })
    expect(error({ model: "m", input: [user("a"), user("b"), { role: "user", content: [{ type: "input_text" }] }] })).toMatchObject({ param: "input.2.content.0.text" })
    expect(error({ model: "m", input: [{ role: "critic", content: "x" }] })).toMatchObject({ param: "input.0.role", message: expect.stringContaining("\"developer\"") })
    expect(error({ model: "m", input: [{ type: "function_call", call_id: "c", name: "f", arguments: "{oops" }] })).toMatchObject({ param: "input.0.arguments" })
    expect(error({ model: "m", input: [{ type: "function_call", name: "f", arguments: "{}" }] })).toMatchObject({ param: "input.0.call_id" })
    expect(error({ model: "m", input: [{ type: "function_call_output", call_id: "c", output: 3 }] })).toMatchObject({ param: "input.0.output" })
    expect(error({ model: "m", input: [{ type: "reasoning", summary: [{ type: "summary_text" }] }] })).toMatchObject({ param: "input.0.summary.0.text" })
    expect(error({ model: "m", input: [{ role: "assistant", content: [{ type: "input_image", image_url: "https://x/y.png" }] }] })).toMatchObject({ param: "input.0.content.0.type" })
    expect(error({ model: "m", input: [{ role: "user", content: [{ type: "input_image", image_url: "ftp://x" }] }] })).toMatchObject({ param: "input.0.content.0.image_url" })
    expect(error({ model: "m", input: "x", tools: [{ type: "function" }] })).toMatchObject({ param: "tools.0.name" })
    expect(error({ model: "m", input: "x", tools: [{ type: "custom", name: "p", format: { type: "grammar", syntax: "lark" } }] })).toMatchObject({ param: "tools.0.format.definition" })
    expect(error({ model: "m", input: "x", temperature: "hot" })).toMatchObject({ param: "temperature" })
    expect(error({ model: "m", input: "x", stream: "yes" })).toMatchObject({ param: "stream" })
    expect(error({ model: "m", input: "x", store: 1 })).toMatchObject({ param: "store" })
  })

  it("words an item or a part that is not one as the Schemas do, and reports the first fault in field order", () => {
    expect(error({ model: "m", input: [7] })).toMatchObject({ param: "input.0", message: "input.0: Expected object" })
    expect(error({ model: "m", input: [{ role: "user", content: [7] }] })).toMatchObject({ param: "input.0.content.0", message: "input.0.content.0: Expected object" })
    expect(error({ model: "m", input: [{ role: "user", content: [{ text: "x" }] }] })).toMatchObject({ message: "input.0.content.0.type: Missing key" })
    expect(error({ model: "m", input: [{ type: "function_call_output", call_id: "c", output: [{}] }] })).toMatchObject({ message: "input.0.output.0.type: Missing key" })
    // model, then input and its items, then the other fields; an item's own shape after the whole envelope
    expect(error({ model: 5, input: [7] })).toMatchObject({ param: "model" })
    expect(error({ model: "m", input: [7], temperature: "hot" })).toMatchObject({ param: "input.0" })
    expect(error({ model: "m", input: [{ role: "user", content: [7] }], temperature: "hot" })).toMatchObject({ param: "temperature" })
  })
})

describe("decodeResponsesRequest: echo", () => {
  it("echoes the API's defaults", () => {
    expect(ok({ input: "x" }).extra.echo).toEqual({
      instructions: null,
      tools: [],
      tool_choice: "auto",
      parallel_tool_calls: true,
      temperature: 1,
      top_p: 1,
      max_output_tokens: null,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      text: { format: { type: "text" } },
      truncation: "disabled",
      metadata: {},
      user: null,
      store: true
    })
  })

  it("echoes what was sent", () => {
    const tools = [{ type: "function", name: "f", parameters: { type: "object" }, strict: true }]
    const echo = ok({
      input: "x",
      instructions: "i",
      tools,
      tool_choice: "required",
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 5,
      reasoning: { effort: "low" },
      text: { format: { type: "json_object" }, verbosity: "high" },
      truncation: "auto",
      metadata: { a: "b" },
      user: "u",
      safety_identifier: "s",
      service_tier: "priority"
    }).extra.echo
    expect(echo).toEqual({
      instructions: "i",
      tools,
      tool_choice: "required",
      parallel_tool_calls: true,
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 5,
      previous_response_id: null,
      reasoning: { effort: "low", summary: null },
      text: { format: { type: "json_object" }, verbosity: "high" },
      truncation: "auto",
      metadata: { a: "b" },
      user: "u",
      store: true,
      safety_identifier: "s",
      service_tier: "priority"
    })
  })
})

describe("referencesOf", () => {
  it("finds the previous response and the item references", () => {
    expect(referencesOf({ model: "m", previous_response_id: "resp_1", input: [user("x"), { type: "item_reference", id: "a" }, { id: "b" }, { type: "message", id: "c", role: "user", content: "y" }, 7] }))
      .toEqual({ previous: "resp_1", items: ["a", "b"] })
    expect(referencesOf({ input: "x", previous_response_id: "" })).toEqual({ items: [] })
    expect(referencesOf({})).toEqual({ items: [] })
  })
})

describe("itemId", () => {
  it("gives ids of the API's shape, none twice, across the batches its random bytes are drawn in", () => {
    const ids = Array.from({ length: 1000 }, () => itemId("fc"))
    for (const id of ids) expect(id).toMatch(/^fc_[0-9a-f]{48}$/)
    expect(new Set(ids).size).toBe(ids.length)
  })
})
