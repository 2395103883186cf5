/**
 * Masking of secrets in text that leaves the gateway: error bodies and stream error events, tool
 * results and progress, logs. Every Provider key, Tool key and search key the gateway holds is
 * registered here by the cache that read it; the caller's token comes with its request
 * (`CallerSecrets`, which the logger reads too). Masking replaces each occurrence, wherever it is
 * in the text, with `***`. It is applied to what is built from outside text (upstream errors, tool
 * answers), never to the model's own tokens on the hot path.
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

export const mask = "***"

/** Shorter values are not masked: they would mask ordinary words, and are not credible keys. */
export const minSecretLength = 8

/** The caller's own secrets (its token) for the request being served. */
export const CallerSecrets = Context.Reference<ReadonlyArray<string>>("orka/CallerSecrets", { defaultValue: () => [] })

export interface RedactorShape {
  /** Replaces every registered secret, and every one in `extra`, by `***`. */
  readonly mask: (text: string, extra?: ReadonlyArray<string>) => string
  /** Replaces the secrets registered under `source` (e.g. "providers", "tools"). */
  readonly register: (source: string, secrets: Iterable<string | undefined>) => void
  /** Every form of every registered secret, longest first (for byte masking); a new array after each change. */
  readonly forms: () => ReadonlyArray<string>
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** The forms a secret is seen in: as is, and URL-encoded or JSON-escaped when those differ. */
const forms = (secret: string): Array<string> => {
  const out = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])
  return [...out]
}

/** Every form of these secrets, longest first, so that a key that contains another is masked whole. */
export const secretForms = (secrets: Iterable<string>): Array<string> =>
  [...new Set([...secrets].filter((s) => s.length >= minSecretLength).flatMap(forms))].sort((a, b) => b.length - a.length)

const patternOf = (forms: ReadonlyArray<string>): RegExp | undefined => (forms.length === 0 ? undefined : new RegExp(forms.map(escape).join("|"), "g"))

const pattern = (secrets: Iterable<string>): RegExp | undefined => patternOf(secretForms(secrets))

/** How many callers are remembered: a caller sends the same token at every request. */
const callersKept = 1024

/** `make` of a caller's secrets, computed once per caller (for the last callers seen). */
export const perCaller = <A>(make: (secrets: ReadonlyArray<string>) => A): (secrets: ReadonlyArray<string>) => A => {
  const made = new Map<string, A>()
  return (secrets) => {
    const key = secrets.join("\n")
    if (made.has(key)) return made.get(key) as A
    if (made.size >= callersKept) made.clear()
    const value = make(secrets)
    made.set(key, value)
    return value
  }
}

export const makeRedactor = (): RedactorShape => {
  const bySource = new Map<string, ReadonlyArray<string>>()
  let registered: RegExp | undefined
  let registeredForms: ReadonlyArray<string> = []
  // a caller's pattern is compiled once
  const own = perCaller(pattern)
  return {
    register: (source, secrets) => {
      bySource.set(source, [...secrets].filter((s): s is string => s !== undefined))
      registeredForms = secretForms([...bySource.values()].flat())
      registered = patternOf(registeredForms)
    },
    forms: () => registeredForms,
    mask: (text, extra = []) => {
      let out = registered === undefined ? text : text.replace(registered, mask)
      const theirs = extra.length === 0 ? undefined : own(extra)
      return theirs === undefined ? out : out.replace(theirs, mask)
    }
  }
}

export class Redactor extends Context.Service<Redactor, RedactorShape>()("orka/Redactor") {
  static readonly layer = (redactor: RedactorShape) => Layer.succeed(Redactor, redactor)
  /** a new, empty one (tests) */
  static readonly layerFresh = Layer.sync(Redactor, makeRedactor)
}

/** Header names whose values are credentials, beside `authorization`. */
export const isSensitiveHeader = (name: string): boolean =>
  /^(authorization|proxy-authorization|cookie)$|api[-_]?key|token|secret|password|credential|signature/i.test(name)

/** The credential inside a header value: `Bearer x` → `x`, else the value itself. */
export const headerSecret = (value: string): string => value.replace(/^\s*(bearer|basic|token)\s+/i, "").trim()

/** The credentials among these headers (see isSensitiveHeader). */
export const headerSecrets = (headers: Readonly<Record<string, string>>): Array<string> =>
  Object.entries(headers).flatMap(([name, value]) => (isSensitiveHeader(name) ? [headerSecret(value)] : []))

/** Messages are bounded where they are shown, so a huge client or upstream string is never echoed whole. */
export const clampText = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`)
