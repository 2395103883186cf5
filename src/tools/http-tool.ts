/**
 * Custom HTTP tools from `Tool` resources: the model's arguments fill `{{param}}` placeholders in
 * the URL (path and query only, URL-encoded) and travel as the JSON body; the Secret's key is put in
 * a header (`Authorization: Bearer …`) or in the body under `authBodyKey`. The key never appears in
 * what goes back to the model.
 */
import { Effect } from "effect"
import type { ToolDefinition } from "../ir/conversation.ts"
import type { Tool } from "../kube/tool-resource.ts"
import { ToolFailure } from "./failure.ts"

const placeholder = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** A Go duration as Orka's Tool objects write it ("30s", "1m30s", "1.5h", "500ms"), in milliseconds. */
export const parseDuration = (text: string | undefined, fallbackMs: number): number => {
  if (text === undefined || !/^((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/u.test(text)) return fallbackMs
  let total = 0
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gu)) total += Number(amount) * unitMs[unit!]!
  return total
}

export const httpToolDefinition = (tool: Tool): ToolDefinition => ({
  name: tool.metadata.name,
  description: tool.spec.description,
  parameters: tool.spec.parameters ?? { type: "object", properties: {} }
})

/** The request URL: placeholders only outside the host, so arguments cannot choose where it goes. */
export const fillUrl = (template: string, args: Readonly<Record<string, unknown>>): string => {
  const origin = /^[a-z]+:\/\/[^/?#]*/i.exec(template)?.[0] ?? ""
  if (placeholder.test(origin)) throw new ToolFailure("the tool's URL has a placeholder in its host, which is not allowed")
  placeholder.lastIndex = 0
  return origin + template.slice(origin.length).replace(placeholder, (_, name: string) => {
    const value = args[name]
    if (value === undefined || value === null) throw new ToolFailure(`missing argument "${name}" for the URL`)
    return encodeURIComponent(typeof value === "string" ? value : JSON.stringify(value))
  })
}

export const runHttpTool = (
  tool: Tool,
  args: Readonly<Record<string, unknown>>,
  authKey: string | undefined
): Effect.Effect<unknown, ToolFailure> => {
  const http = tool.spec.http
  if (http === undefined) {
    return Effect.fail(new ToolFailure(tool.spec.mcp === undefined ? "the tool has no http endpoint" : "MCP tools are not supported yet"))
  }
  return Effect.tryPromise({
    try: async (signal) => {
      const method = http.method ?? "POST"
      const inject = http.authInject ?? "header"
      const body = authKey !== undefined && inject === "body" ? { ...args, [http.authBodyKey ?? "api_key"]: authKey } : args
      const headers: Record<string, string> = { ...http.headers, accept: "application/json, text/plain;q=0.9" }
      if (authKey !== undefined && inject === "header") headers["authorization"] = `Bearer ${authKey}`
      const hasBody = method !== "GET" && method !== "DELETE"
      if (hasBody) headers["content-type"] = "application/json"
      const timeout = parseDuration(http.timeout, 30_000)
      const res = await fetch(fillUrl(http.url, args), {
        method,
        headers,
        ...(hasBody ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeout)])
      })
      const text = await res.text()
      if (!res.ok) throw new ToolFailure(`the tool answered HTTP ${res.status}: ${text.slice(0, 500)}`)
      try {
        return JSON.parse(text) as unknown
      } catch {
        return text
      }
    },
    catch: (e) => {
      if (e instanceof ToolFailure) return authKey === undefined ? e : new ToolFailure(e.message.replaceAll(authKey, "***"))
      if ((e as Error).name === "TimeoutError") return new ToolFailure(`the tool did not answer within ${http.timeout ?? "30s"}`)
      return new ToolFailure(`the tool could not be reached: ${(e as Error).message}`)
    }
  })
}
