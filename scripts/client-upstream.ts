/**
 * A provider for trying real clients (Claude Code, opencode…) through the gateway by hand, as
 * docs/clients.md describes: one loopback server that speaks Anthropic Messages (`/v1/messages`),
 * OpenAI Chat Completions (`/v1/chat/completions`) and the Responses API (`/v1/responses`), streamed
 * or not, and answers from what it is sent, the way a model would in a short session:
 *   - the last user turn holds tool results → "Done: <the first result>";
 *   - the client offers a Bash tool (`bash` for opencode) and the user asks to run something → a call
 *     (`echo hello-from-bash`), with signed thinking first when the request asks for thinking; Codex's
 *     `exec_command` → `echo hello-from-codex`;
 *   - the gateway offers code_exec and the user asks to compute something → a code_exec call
 *     (`print(6*7)`), which the gateway runs, so its progress reaches the client;
 *   - otherwise → a short text answer.
 * Every request is appended to `<dir>/requests.jsonl` (its path, headers and body), to see what the
 * client sent.
 *   node scripts/client-upstream.ts [port=9911] [dir=/tmp/client-upstream]
 */
import { appendFileSync, mkdirSync } from "node:fs"
import { createServer } from "node:http"
import { responsesEvents, responsesObject } from "../test/support/responses-wire.ts"
import { anthropicEvents, anthropicMessage, type Answer, openaiChunks, openaiCompletion } from "../test/support/scripted-upstream.ts"

const port = Number(process.argv[2] ?? 9911)
const dir = process.argv[3] ?? "/tmp/client-upstream"
mkdirSync(dir, { recursive: true })

type Json = Record<string, any>

const textOf = (content: unknown): string =>
  typeof content === "string" ? content : Array.isArray(content) ? content.map((c: Json) => (typeof c.text === "string" ? c.text : "")).join(" ") : ""

/** The first tool result in the last user turn, if it holds any (either dialect). */
const toolResult = (body: Json): string | undefined => {
  const messages: Array<Json> = body.messages ?? []
  const last = messages.at(-1)
  if (last?.role === "tool") return textOf(last.content)
  const block = Array.isArray(last?.content) ? last.content.find((c: Json) => c.type === "tool_result") : undefined
  return block === undefined ? undefined : textOf(block.content)
}

/** Claude Code calls it Bash, opencode bash. */
const bashTool = (body: Json): string | undefined =>
  (body.tools ?? []).map((t: Json) => t.name ?? t.function?.name).find((n: unknown) => typeof n === "string" && n.toLowerCase() === "bash")
const lastUserText = (body: Json): string => textOf([...(body.messages ?? [])].reverse().find((m: Json) => m.role === "user")?.content)

const answerFor = (body: Json, anthropic: boolean): Answer => {
  const result = toolResult(body)
  if (result !== undefined) return { text: ["Done: ", result.trim().slice(0, 200)], inputTokens: 1200, outputTokens: 8 }
  const offered = (body.tools ?? []).map((t: Json) => t.name ?? t.function?.name)
  if (offered.includes("code_exec") && /\bcompute\b/i.test(lastUserText(body))) {
    return { toolCalls: [{ id: `toolu_${Date.now()}`, name: "code_exec", fragments: ["{\"language\":\"python\",", "\"code\":\"print(6*7)\"}"] }], inputTokens: 900, outputTokens: 12 }
  }
  const thinking = anthropic && body.thinking !== undefined && body.thinking.type !== "disabled"
  // Codex's shell tool
  if (offered.includes("exec_command") && /\brun\b/i.test(lastUserText(body))) {
    return {
      ...(thinking ? { thinking: { text: ["A shell command ", "will do."], signature: `sig-${Date.now()}` } } : {}),
      toolCalls: [{ id: `call_${Date.now()}`, name: "exec_command", fragments: ["{\"cmd\":", "\"echo hello-from-codex\"}"] }],
      inputTokens: 1000,
      outputTokens: 12
    }
  }
  const bash = bashTool(body)
  if (bash !== undefined && /\brun\b/i.test(lastUserText(body))) {
    return {
      ...(thinking ? { thinking: { text: ["The user wants a command run; ", "Bash will do."], signature: `sig-${Date.now()}` } } : {}),
      toolCalls: [{ id: `toolu_${Date.now()}`, name: bash, fragments: ["{\"command\":", "\"echo hello-from-bash\",", "\"description\":\"Print a greeting\"}"] }],
      inputTokens: 1000,
      outputTokens: 20
    }
  }
  return { text: ["Hi from the ", "scripted provider."], inputTokens: 800, outputTokens: 6 }
}

/** A Responses request's input as Chat messages, enough for `answerFor`. */
const asChat = (body: Json): Json => ({
  tools: body.tools,
  messages: (typeof body.input === "string" ? [{ role: "user", content: body.input }] : body.input ?? []).flatMap((item: Json) =>
    item.type === "function_call_output" || item.type === "custom_tool_call_output"
      ? [{ role: "tool", content: item.output }]
      : item.role === undefined ? [] : [{ role: item.role, content: item.content }])
})

createServer((req, res) => {
  let raw = ""
  req.on("data", (c: Buffer) => (raw += c.toString()))
  req.on("end", () => {
    let body: Json = {}
    try {
      body = JSON.parse(raw) as Json
    } catch {
      // not JSON: answered as an empty request
    }
    appendFileSync(`${dir}/requests.jsonl`, JSON.stringify({ at: new Date().toISOString(), method: req.method, url: req.url, headers: req.headers, body }) + "\n")
    const url = req.url ?? ""
    if (url.includes("count_tokens")) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ input_tokens: 900 }))
    const anthropic = url.includes("/v1/messages")
    const responses = /\/responses(\?|$)/.test(url)
    if (!anthropic && !responses && !url.includes("/chat/completions")) return void res.writeHead(404, { "content-type": "application/json" }).end("{}")
    const answer = { model: body.model, ...answerFor(responses ? asChat(body) : body, anthropic) }
    if (body.stream !== true) {
      res.writeHead(200, { "content-type": "application/json" })
      return void res.end(JSON.stringify(anthropic ? anthropicMessage(answer) : responses ? responsesObject(answer) : openaiCompletion(answer)))
    }
    res.writeHead(200, { "content-type": "text/event-stream" })
    res.end(anthropic ? anthropicEvents(answer) : responses ? responsesEvents(answer) : openaiChunks(answer, body.stream_options?.include_usage === true))
  })
}).listen(port, "127.0.0.1", () => process.stdout.write(`client upstream on http://127.0.0.1:${port}, requests in ${dir}/requests.jsonl\n`))
