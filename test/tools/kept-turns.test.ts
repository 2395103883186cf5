import { describe, expect, it } from "vitest"
import type { Conversation, ToolCallPart } from "../../src/ir/conversation.ts"
import { callIdsOf, keptTurnOf, restoreTurns } from "../../src/tools/kept-turns.ts"

const call = (id: string, name: string): ToolCallPart => ({ type: "tool_call", id, name, arguments: "{}" })
const conversation = (messages: Conversation["messages"]): Conversation => ({ model: "m", system: [], messages, tools: [], extensions: {} })
const kept = { calls: [call("s1", "web_fetch")], results: [{ text: "{\"page\":\"…\"}", isError: false }] }

describe("kept turns", () => {
  it("puts the gateway's calls before the client's, and their results first in the next user turn", () => {
    const c = conversation([
      { role: "user", content: [{ type: "text", text: "fetch, then edit" }] },
      { role: "assistant", content: [{ type: "thinking", text: "t", signature: "sig" }, { type: "text", text: "On it." }, call("e1", "edit_file")] },
      { role: "user", content: [{ type: "tool_result", callId: "e1", content: [{ type: "text", text: "edited" }] }, { type: "text", text: "thanks" }] }
    ])
    expect(callIdsOf(c)).toEqual(["e1"])
    expect(restoreTurns(c, new Map([["e1", kept]])).messages.slice(1)).toEqual([
      { role: "assistant", content: [{ type: "thinking", text: "t", signature: "sig" }, { type: "text", text: "On it." }, call("s1", "web_fetch"), call("e1", "edit_file")] },
      {
        role: "user",
        content: [
          { type: "tool_result", callId: "s1", content: [{ type: "text", text: "{\"page\":\"…\"}" }] },
          { type: "tool_result", callId: "e1", content: [{ type: "text", text: "edited" }] },
          { type: "text", text: "thanks" }
        ]
      }
    ])
  })

  it("puts one turn back once for several client calls, and never a call the conversation already holds", () => {
    const c = conversation([
      { role: "user", content: [{ type: "text", text: "go" }] },
      { role: "assistant", content: [call("e1", "a"), call("e2", "b")] },
      { role: "user", content: [{ type: "tool_result", callId: "e1", content: [] }, { type: "tool_result", callId: "e2", content: [] }] }
    ])
    const restored = restoreTurns(c, new Map([["e1", kept], ["e2", kept]]))
    expect(restored.messages[1]!.content.map((p) => (p.type === "tool_call" ? p.id : p.type))).toEqual(["s1", "e1", "e2"])
    expect(restoreTurns(restored, new Map([["e1", kept]]))).toEqual(restored)
  })

  it("reads back only what has the shape of a kept turn", () => {
    expect(keptTurnOf(JSON.parse(JSON.stringify(kept)))).toEqual(kept)
    expect(keptTurnOf({ calls: [call("s1", "x")], results: [] })).toBeUndefined()
    expect(keptTurnOf({ calls: "no" })).toBeUndefined()
  })
})
