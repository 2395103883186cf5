/**
 * Static tokens in kube-apiserver's `--token-auth-file` format: `token,user,uid,"group1,group2"`.
 * Tokens are kept only as SHA-256 digests; the file is re-read when it changes.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { hash } from "node:crypto"
import { readFileSync, watchFile, unwatchFile } from "node:fs"
import { Authenticator, type Identity, unauthenticated } from "./auth.ts"

const digest = (token: string) => hash("sha256", token)

/** Splits one CSV line, honoring double quotes ("" is a literal quote). */
const csvFields = (line: string): Array<string> => {
  const fields: Array<string> = []
  let field = ""
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === "\"" && line[i + 1] === "\"") {
        field += "\""
        i++
      } else if (c === "\"") quoted = false
      else field += c
    } else if (c === "\"") quoted = true
    else if (c === ",") {
      fields.push(field)
      field = ""
    } else field += c
  }
  fields.push(field)
  return fields.map((f) => f.trim())
}

export class TokenFileError extends Error {}

/** Token digest → identity. Throws TokenFileError naming the line at fault. */
export const parseTokenFile = (text: string, file: string): ReadonlyMap<string, Identity> => {
  const identities = new Map<string, Identity>()
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "" || line.trimStart().startsWith("#")) return
    const [token, user, uid, groups] = csvFields(line)
    if (!token || !user) throw new TokenFileError(`${file}:${i + 1}: expected token,user,uid[,"groups"]`)
    identities.set(digest(token), {
      user,
      uid: uid ?? "",
      groups: (groups ?? "").split(",").map((g) => g.trim()).filter((g) => g !== "")
    })
  })
  return identities
}

export const layer = (file: string) =>
  Layer.effect(
    Authenticator,
    Effect.gen(function*() {
      const read = () => parseTokenFile(readFileSync(file, "utf8"), file)
      let identities = yield* Effect.try({ try: read, catch: (e) => e instanceof TokenFileError ? e : new TokenFileError(`${file}: ${String(e)}`) })
      yield* Effect.acquireRelease(
        Effect.sync(() =>
          watchFile(file, { interval: 1000 }, () => {
            try {
              identities = read()
            } catch {
              // keep the last good tokens; a half-written file must not lock everyone out
            }
          })
        ),
        () => Effect.sync(() => unwatchFile(file))
      )
      return Authenticator.of({
        authenticate: (token) => {
          if (token === undefined) return Effect.fail(unauthenticated("missing credentials: send Authorization: Bearer <token>"))
          const identity = identities.get(digest(token))
          return identity === undefined ? Effect.fail(unauthenticated("invalid token")) : Effect.succeed(identity)
        }
      })
    })
  )
