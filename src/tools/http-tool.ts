/**
 * Custom HTTP tools from `Tool` resources: the model's arguments fill `{{param}}` placeholders in
 * the URL (path and query only, escaped) and the others travel as the JSON body; the Secret's key is put in
 * a header (`Authorization: Bearer …`) or in the body under `authBodyKey`. The key is registered
 * with the masking (tools/service.ts), so it never appears in what goes back to the model.
 */
import * as Effect from "effect/Effect"
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

/** Go's `url.PathEscape`, as Orka fills its URLs: a value stays one path segment (`/`, `?`, `;`, `,` escaped). */
export const pathEscape = (value: string): string =>
  encodeURIComponent(value).replace(/%(24|26|2B|3A|3D|40)/g, (escaped) => decodeURIComponent(escaped))

/**
 * The request URL and the arguments it used. Placeholders are filled only outside the host, so
 * arguments cannot choose where the request goes; in the path a value is path-escaped (as Orka
 * does), in the query fully escaped, so it cannot add parameters either.
 */
export const fillUrl = (template: string, args: Readonly<Record<string, unknown>>): { readonly url: string; readonly used: ReadonlySet<string> } => {
  const origin = /^[a-z]+:\/\/[^/?#]*/i.exec(template)?.[0] ?? ""
  if (new RegExp(placeholder.source).test(origin)) throw new ToolFailure("the tool's URL has a placeholder in its host, which is not allowed")
  const rest = template.slice(origin.length)
  const queryAt = rest.search(/[?#]/)
  const used = new Set<string>()
  const fill = (text: string, escape: (value: string) => string) =>
    text.replace(placeholder, (_, name: string) => {
      const value = args[name]
      if (value === undefined || value === null) throw new ToolFailure(`missing argument "${name}" for the URL`)
      used.add(name)
      return escape(typeof value === "string" ? value : JSON.stringify(value))
    })
  const path = queryAt < 0 ? rest : rest.slice(0, queryAt)
  const query = queryAt < 0 ? "" : rest.slice(queryAt)
  return { url: origin + fill(path, pathEscape) + fill(query, encodeURIComponent), used }
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
      const { url, used } = fillUrl(http.url ?? "", args)
      // what went into the URL is not sent again in the body (as Orka does)
      const rest = Object.fromEntries(Object.entries(args).filter(([name]) => !used.has(name)))
      const body = authKey !== undefined && inject === "body" ? { ...rest, [http.authBodyKey ?? "api_key"]: authKey } : rest
      const headers: Record<string, string> = { ...http.headers, accept: "application/json, text/plain;q=0.9" }
      if (authKey !== undefined && inject === "header") headers["authorization"] = `Bearer ${authKey}`
      const hasBody = method !== "GET" && method !== "DELETE"
      if (hasBody) headers["content-type"] = "application/json"
      const timeout = parseDuration(http.timeout, 30_000)
      const res = await fetch(url, {
        method,
        headers,
        ...(hasBody ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeout)])
      })
      // an answer may echo the request, key included: the server tools mask every result (redact.ts)
      const text = await res.text()
      if (!res.ok) throw new ToolFailure(`the tool answered HTTP ${res.status}: ${text.slice(0, 500)}`)
      try {
        return JSON.parse(text) as unknown
      } catch {
        return text
      }
    },
    catch: (e) => {
      if (e instanceof ToolFailure) return e
      if ((e as Error).name === "TimeoutError") return new ToolFailure(`the tool did not answer within ${http.timeout ?? "30s"}`)
      return new ToolFailure(`the tool could not be reached: ${(e as Error).message}`)
    }
  })
}
