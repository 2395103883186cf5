import { describe, expect, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { decodeChatRequest } from "../../../src/dialect/openai/request.ts"

const modelOf = (body: unknown) => (typeof body === "object" && body !== null && typeof (body as { model?: unknown }).model === "string" ? (body as { model: string }).model : "")
const decode = (body: unknown) => decodeChatRequest(body, modelOf(body))
const ok = (body: unknown) => Result.getOrThrow(decode(body))
const error = (body: unknown) => {
  const r = decode(body)
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}

const user = (content: unknown) => ({ role: "user", content })

describe("decodeChatRequest", () => {
  it("takes the model it is given and reads stream options", () => {
    const d = ok({ model: "anthropic/claude", messages: [user("hi")], stream: true, stream_options: { include_usage: true } })
    expect(d.conversation.model).toBe("anthropic/claude")
    expect(d.extra).toEqual({ includeUsage: true })
    expect(d.conversation.messages).toEqual([{ role: "user", content: [{ type: "text", text: "hi" }] }])
  })

  it("moves system and developer messages to the system prompt", () => {
    const d = ok({
      model: "m",
      messages: [{ role: "system", content: "one" }, { role: "developer", content: [{ type: "text", text: "two" }] }, user("hi")]
    })
    expect(d.conversation.system).toEqual([{ type: "text", text: "one" }, { type: "text", text: "two" }])
  })

  it("maps data-URL and http images, keeping detail", () => {
    const d = ok({
      model: "m",
      messages: [user([
        { type: "image_url", image_url: { url: "data:image/jpeg;base64,AAAA", detail: "low" } },
        { type: "image_url", image_url: { url: "https://example.com/a.png" } }
      ])]
    })
    expect(d.conversation.messages[0]!.content).toEqual([
      { type: "image", source: { kind: "base64", mediaType: "image/jpeg", data: "AAAA" }, detail: "low" },
      { type: "image", source: { kind: "url", url: "https://example.com/a.png" } }
    ])
  })

  it("turns tool calls and consecutive tool messages into alternating turns", () => {
    const d = ok({
      model: "m",
      messages: [
        user("weather?"),
        { role: "assistant", content: "checking", tool_calls: [
          { id: "c1", type: "function", function: { name: "w", arguments: "{\"city\":\"Paris\"}" } },
          { id: "c2", type: "function", function: { name: "w", arguments: "{\"city\":\"Rome\"}" } }
        ] },
        { role: "tool", tool_call_id: "c1", content: "sunny" },
        { role: "tool", tool_call_id: "c2", content: [{ type: "text", text: "rain" }] },
        user("thanks")
      ]
    })
    expect(d.conversation.messages.map((m) => m.role)).toEqual(["user", "assistant", "user"])
    expect(d.conversation.messages[1]!.content).toEqual([
      { type: "text", text: "checking" },
      { type: "tool_call", id: "c1", name: "w", arguments: "{\"city\":\"Paris\"}" },
      { type: "tool_call", id: "c2", name: "w", arguments: "{\"city\":\"Rome\"}" }
    ])
    expect(d.conversation.messages[2]!.content).toEqual([
      { type: "tool_result", callId: "c1", content: [{ type: "text", text: "sunny" }] },
      { type: "tool_result", callId: "c2", content: [{ type: "text", text: "rain" }] },
      { type: "text", text: "thanks" }
    ])
  })

  it("maps tools, tool_choice, sampling, stop and user; keeps temperature 0", () => {
    const d = ok({
      model: "m",
      messages: [user("x")],
      tools: [{ type: "function", function: { name: "f", description: "does f" } }],
      tool_choice: { type: "function", function: { name: "f" } },
      parallel_tool_calls: false,
      max_tokens: 10,
      max_completion_tokens: 20,
      temperature: 0,
      top_p: 0.9,
      stop: "END",
      user: "u1"
    })
    expect(d.conversation).toMatchObject({
      tools: [{ name: "f", description: "does f", parameters: { type: "object", properties: {} } }],
      toolChoice: { type: "tool", name: "f" },
      parallelToolCalls: false,
      maxTokens: 20,
      temperature: 0,
      topP: 0.9,
      stop: ["END"],
      user: "u1"
    })
    for (const choice of ["auto", "none", "required"] as const) {
      expect(ok({ model: "m", messages: [user("x")], tool_choice: choice }).conversation.toolChoice).toEqual({ type: choice })
    }
  })

  it("keeps fields it does not model as OpenAI extensions, never an error", () => {
    const d = ok({ model: "m", messages: [user("x")], response_format: { type: "json_object" }, seed: 1, logprobs: true, whatever: [1] })
    expect(d.conversation.extensions).toEqual({ openai: { response_format: { type: "json_object" }, seed: 1, logprobs: true, whatever: [1] } })
  })

  it("names the field at fault", () => {
    expect(error({ messages: [user("x")] })).toMatchObject({ kind: "invalid_request", param: "model" })
    expect(error({ model: "m", messages: [] })).toMatchObject({ param: "messages" })
    expect(error({ model: "m", messages: [{ role: "tool", content: "x" }] })).toMatchObject({ param: "messages.0.tool_call_id" })
    expect(error({ model: "m", messages: [{ role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{oops" } }] }] }))
      .toMatchObject({ param: "messages.0.tool_calls.0.function.arguments" })
    expect(error({ model: "m", messages: [user("x")], temperature: "hot" })).toMatchObject({ param: "temperature" })
    expect(error([1, 2]).message).toContain("JSON object")
    // a message must be an object, and one without a role is told the roles there are
    for (const message of ["hi", null, []]) expect(error({ model: "m", messages: [message] })).toMatchObject({ param: "messages.0", message: "messages.0: Expected object" })
    expect(error({ model: "m", messages: [{ content: "x" }] })).toMatchObject({ param: "messages.0.role", message: expect.stringContaining('expected "system"') })
  })

  it("lists what the IR cannot carry instead of failing: such a request can still be passed through", () => {
    const decoded = ok({ model: "m", n: 2, messages: [user([{ type: "text", text: "hi" }, { type: "input_audio", input_audio: {} }, { type: "file", file: {} }])] })
    expect(decoded.untranslatable.map((u) => u.param)).toEqual(["n", "messages.0.content.1.type", "messages.0.content.2.type"])
    expect(decoded.conversation.messages).toEqual([{ role: "user", content: [{ type: "text", text: "hi" }] }])
    expect(ok({ model: "m", messages: [user("x")] }).untranslatable).toEqual([])
    // what is newer than this code: a part type, a freeform tool
    const newer = ok({
      model: "m",
      messages: [user([{ type: "input_video", video: {} }, { type: "text", text: "hi" }])],
      tools: [{ type: "custom", name: "apply_patch" }, { type: "function", function: { name: "f" } }]
    })
    expect(newer.untranslatable.map((u) => u.param)).toEqual(["messages.0.content.0.type", "tools.0.type"])
    expect(newer.conversation.tools.map((t) => t.name)).toEqual(["f"])
    // only n cannot be done without
    expect(decoded.untranslatable.map((u) => u.essential ?? false)).toEqual([true, false, false])
    // a user turn with nothing left in it is left out whole
    expect(ok({ model: "m", messages: [user([{ type: "input_audio", input_audio: {} }]), { role: "assistant", content: "ok" }] }).conversation.messages)
      .toEqual([{ role: "assistant", content: [{ type: "text", text: "ok" }] }])
  })

  it("fails on a role that Chat Completions does not have, naming it", () => {
    expect(error({ model: "m", messages: [{ role: "critic", content: "x" }] })).toMatchObject({
      param: "messages.0.role",
      message: 'messages.0.role: expected "system" | "developer" | "user" | "assistant" | "tool" | "function"'
    })
  })

  it("keeps system and developer messages at their place once the conversation has started", () => {
    const decoded = ok({ model: "m", messages: [{ role: "system", content: "first" }, user("q"), { role: "developer", content: "now be terse" }, user("again")] })
    expect(decoded.conversation.system).toEqual([{ type: "text", text: "first" }])
    expect(decoded.conversation.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "q" }] },
      { role: "system", content: [{ type: "text", text: "now be terse" }] },
      { role: "user", content: [{ type: "text", text: "again" }] }
    ])
  })
})
