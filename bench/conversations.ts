/**
 * A coding agent's conversation as the clients send it mid-session (Claude Code's shape): a long
 * system prompt, 30 rounds of a tool call and its output, 15 tool definitions; about 40 KB as an
 * Anthropic request or a Chat Completions one. What real traffic costs per request, where
 * the bench's one-line `hello` measures the path's fixed cost.
 */
const rounds = 30
const toolOutput = (i: number) => `total ${i}\n` + "-rw-r--r--  1 dev dev  4096 Dec  1 12:00 src/file.ts\n".repeat(14)
const toolDefinitions = Array.from({ length: 15 }, (_, i) => ({
  name: `Tool${i}`,
  description: `Runs step ${i} of the workflow. `.repeat(6),
  schema: { type: "object", properties: { command: { type: "string", description: "what to run" }, timeout: { type: "number" } }, required: ["command"] }
}))
const system = "You are an interactive coding agent. Follow the repository's conventions.\n".repeat(40)

export const anthropicConversation = (model: string, stream = false) => ({
  model,
  max_tokens: 32000,
  ...(stream ? { stream: true } : {}),
  system: [{ type: "text", text: system, cache_control: { type: "ephemeral" } }],
  messages: [
    ...Array.from({ length: rounds }, (_, i) => [
      {
        role: "user",
        content: i === 0
          ? [{ type: "text", text: "Find why the build fails and fix it." }]
          : [{ type: "tool_result", tool_use_id: `toolu_${i - 1}`, content: [{ type: "text", text: toolOutput(i) }] }]
      },
      { role: "assistant", content: [{ type: "text", text: "Let me look." }, { type: "tool_use", id: `toolu_${i}`, name: "Tool0", input: { command: `ls -la src/${i}` } }] }
    ]).flat(),
    { role: "user", content: [{ type: "tool_result", tool_use_id: `toolu_${rounds - 1}`, content: toolOutput(rounds), cache_control: { type: "ephemeral" } }] }
  ],
  tools: toolDefinitions.map((t) => ({ name: t.name, description: t.description, input_schema: t.schema }))
})

export const openaiConversation = (model: string, stream = false) => ({
  model,
  max_tokens: 32000,
  ...(stream ? { stream: true } : {}),
  messages: [
    { role: "system", content: system },
    { role: "user", content: "Find why the build fails and fix it." },
    ...Array.from({ length: rounds }, (_, i) => [
      { role: "assistant", content: "Let me look.", tool_calls: [{ id: `call_${i}`, type: "function", function: { name: "Tool0", arguments: JSON.stringify({ command: `ls -la src/${i}` }) } }] },
      { role: "tool", tool_call_id: `call_${i}`, content: toolOutput(i + 1) }
    ]).flat()
  ],
  tools: toolDefinitions.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.schema } }))
})
