/**
 * Request bodies as Anthropic clients send them, trimmed but keeping their shapes: Claude Code
 * (system as cached text blocks, many tools with draft-07 schemas, thinking, tool_use/tool_result
 * turns, `metadata.user_id`, `context_management`) and `@anthropic-ai/sdk` user code.
 */

const bashSchema = {
  type: "object",
  properties: {
    command: { type: "string", description: "The command to execute" },
    timeout: { type: "number", description: "Optional timeout in milliseconds (max 600000)" },
    description: { type: "string", description: "Clear, concise description of what this command does in 5-10 words" }
  },
  required: ["command"],
  additionalProperties: false,
  $schema: "http://json-schema.org/draft-07/schema#"
}

const readSchema = {
  type: "object",
  properties: {
    file_path: { type: "string", description: "The absolute path to the file to read" },
    offset: { type: "number" },
    limit: { type: "number" }
  },
  required: ["file_path"],
  additionalProperties: false,
  $schema: "http://json-schema.org/draft-07/schema#"
}

const editSchema = {
  type: "object",
  properties: {
    file_path: { type: "string" },
    old_string: { type: "string" },
    new_string: { type: "string" },
    replace_all: { type: "boolean", default: false }
  },
  required: ["file_path", "old_string", "new_string"],
  additionalProperties: false,
  $schema: "http://json-schema.org/draft-07/schema#"
}

export const claudeCodeRequest = {
  model: "anthropic/claude-sonnet-4-5-20250929",
  max_tokens: 32000,
  stream: true,
  system: [
    { type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: { type: "ephemeral" } },
    {
      type: "text",
      text: "\nYou are an interactive CLI tool that helps users with software engineering tasks.",
      cache_control: { type: "ephemeral" }
    }
  ],
  messages: [
    {
      role: "user",
      content: [
        { type: "text", text: "<system-reminder>\nAs you answer the user's questions, you can use the following context...\n</system-reminder>" },
        { type: "text", text: "why does `npm test` fail?", cache_control: { type: "ephemeral" } }
      ]
    },
    {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "I should run the tests first.", signature: "EqQBCkgIBRABGAIiQL7f" },
        { type: "text", text: "Let me run the tests and read the config." },
        { type: "tool_use", id: "toolu_01A09q90qw90lq917835lq9", name: "Bash", input: { command: "npm test", description: "Run the tests" } },
        { type: "tool_use", id: "toolu_01B7Zxq2", name: "Read", input: { file_path: "/repo/vitest.config.ts" } }
      ]
    },
    {
      role: "user",
      content: [
        {
          type: "tool_result",
          tool_use_id: "toolu_01A09q90qw90lq917835lq9",
          content: "FAIL test/a.test.ts\nExpected 2, received 3",
          is_error: true
        },
        {
          type: "tool_result",
          tool_use_id: "toolu_01B7Zxq2",
          content: [{ type: "text", text: "     1→export default {}" }],
          cache_control: { type: "ephemeral" }
        }
      ]
    }
  ],
  tools: [
    { name: "Bash", description: "Executes a given bash command in a persistent shell session.", input_schema: bashSchema },
    { name: "Read", description: "Reads a file from the local filesystem.", input_schema: readSchema },
    { name: "Edit", description: "Performs exact string replacements in files.", input_schema: editSchema, cache_control: { type: "ephemeral" } }
  ],
  metadata: { user_id: "user_2f1e9c_account__session_7d0c5b1e-3a4f-4b7e-9c1d-0e2f3a4b5c6d" },
  thinking: { type: "enabled", budget_tokens: 31999 },
  context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] }
}

export const schemas = { bashSchema, readSchema, editSchema }

/** `client.messages.create({...})` as SDK user code writes it. */
export const sdkRequest = {
  model: "openai/gpt-4o",
  max_tokens: 1024,
  system: "You are a terse assistant.",
  messages: [{ role: "user", content: "Name three primes." }],
  temperature: 0,
  top_p: 0.9,
  top_k: 40,
  stop_sequences: ["\n\nHuman:"],
  service_tier: "auto"
}

/** A 1×1 transparent PNG. */
export const pngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
