/**
 * The folders of src/ in the order the request path uses them: a folder imports only from folders
 * before it (the root's shared files come first, its entry points last), and one wire format's folder
 * never from another's.
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const src = resolve(import.meta.dirname, "../src")

/** Lowest first. */
const layers: ReadonlyArray<ReadonlyArray<string>> = [
  ["shared"], // errors.ts, config.ts, json.ts, log.ts, redact.ts…
  ["store"], // the Responses API's stored responses: shared files only
  ["ir"],
  ["kube"],
  ["auth", "providers"],
  ["limits"], // rate limits, quotas and budgets: which apply, and the limiter
  ["dialect"],
  ["llm"],
  ["tools"],
  ["status"],
  ["http"],
  ["entry"] // main.ts, app.ts, server.ts
]
const entryPoints = new Set(["main.ts", "app.ts", "server.ts"])

const files = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []))

/** `dialect/openai`, `http`, `shared`, `entry`… */
const placeOf = (file: string): { readonly folder: string; readonly sub: string | undefined } => {
  const parts = relative(src, file).split("/")
  if (parts.length === 1) return { folder: entryPoints.has(parts[0]!) ? "entry" : "shared", sub: undefined }
  return { folder: parts[0]!, sub: parts.length > 2 ? parts[1] : undefined }
}

const rank = (folder: string) => {
  const i = layers.findIndex((l) => l.includes(folder))
  if (i < 0) throw new Error(`src/${folder} has no place in the layers: add it`)
  return i
}

const importsOf = (file: string) =>
  [...readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => resolve(dirname(file), m[1]!))

describe("layers", () => {
  const all = files(src)
  const violations = all.flatMap((file) => {
    const from = placeOf(file)
    return importsOf(file).flatMap((target) => {
      const to = placeOf(target)
      const what = `${relative(src, file)} imports ${relative(src, target)}`
      if (from.folder === to.folder) {
        // one wire format's folder never reaches into another's
        return from.folder === "dialect" && from.sub !== undefined && to.sub !== undefined && from.sub !== to.sub ? [what] : []
      }
      return rank(to.folder) < rank(from.folder) ? [] : [what]
    })
  })

  it("every folder imports only from the folders before it", () => {
    expect(violations).toEqual([])
  })

  it("imports Effect's modules one by one, never a package's index", () => {
    // an index (`effect`, `effect/http`, `@effect/platform-node`) loads every module of its package:
    // measured at idle, 13 MB more heap and 30 MB more RSS than the modules the gateway uses
    const indexes = all.flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/from\s*"((?:effect|@effect\/[a-z-]+)(?:\/[a-z-]+)?)"/g)]
        .filter((m) => !/\/[A-Z]/.test(m[1]!)).map((m) => `${relative(src, file)} imports ${m[1]}`)
    )
    expect(indexes).toEqual([])
  })

  it("sees every file's imports", () => {
    // a guard for the guard: the request path's files do import across layers
    expect(all.length).toBeGreaterThan(50)
    expect(importsOf(join(src, "http/chat-route.ts")).map((t) => relative(src, t))).toContain("dialect/wire.ts")
  })
})
