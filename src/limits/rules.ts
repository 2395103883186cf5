/**
 * Which limits a request is under: its Provider's `spec.rateLimit` (all its callers together) and
 * every ClientPolicy that matches the caller and covers that Provider (each applies, so the strictest
 * decides), and the period each one counts in. Pure: the limiter charges what this returns.
 */
import type { Identity } from "../auth/auth.ts"
import type { ClientPolicySpec, ValidPolicy } from "../kube/client-policy.ts"
import type { ResolvedProvider } from "../providers/provider.ts"

export type LimitName = "requests_per_minute" | "tokens_per_minute" | "tokens_per_day" | "tokens_per_month" | "concurrent_requests"

export interface Rule {
  readonly source: "provider" | "policy"
  /** `Provider claude`, `ClientPolicy team-a`: what a refusal names */
  readonly owner: string
  readonly name: LimitName
  readonly limit: number
  /** its counters' key, without the period: the caller's own under a policy of scope `caller` */
  readonly key: string
  /** a policy's limit counts each caller alone */
  readonly perCaller: boolean
}

type Subject = ClientPolicySpec["subjects"][number]

const serviceAccountPrefix = "system:serviceaccount:"

/** The ServiceAccount a user name is (`system:serviceaccount:<namespace>:<name>`), if it is one. */
const serviceAccountOf = (user: string): { readonly namespace: string; readonly name: string } | undefined => {
  if (!user.startsWith(serviceAccountPrefix)) return undefined
  const rest = user.slice(serviceAccountPrefix.length)
  const colon = rest.indexOf(":")
  return colon < 0 ? undefined : { namespace: rest.slice(0, colon), name: rest.slice(colon + 1) }
}

export const subjectMatches = (subject: Subject, identity: Identity): boolean => {
  if (subject.user !== undefined) return identity.user === subject.user
  if (subject.group !== undefined) return identity.groups.includes(subject.group)
  const account = serviceAccountOf(identity.user)
  if (subject.serviceAccount === undefined || account === undefined) return false
  const [namespace, name] = subject.serviceAccount.split("/")
  return account.namespace === namespace && (name === "*" || account.name === name)
}

export const policyApplies = (policy: ValidPolicy, identity: Identity, provider: string): boolean =>
  (policy.spec.providers === undefined || policy.spec.providers.includes(provider)) &&
  policy.spec.subjects.some((s) => subjectMatches(s, identity))

/** The policies by the subjects they name, made when they change: a request looks up only its own. */
export interface PolicyIndex {
  /** by user name, group name, `namespace/name` of a ServiceAccount or `namespace` for `namespace/*` */
  readonly bySubject: ReadonlyMap<string, ReadonlyArray<number>>
  readonly policies: ReadonlyArray<ValidPolicy>
}

const subjectKey = (subject: Subject): string =>
  subject.user !== undefined ? `user:${subject.user}`
    : subject.group !== undefined ? `group:${subject.group}`
    : subject.serviceAccount!.endsWith("/*") ? `namespace:${subject.serviceAccount!.slice(0, -2)}`
    : `serviceaccount:${subject.serviceAccount}`

export const indexPolicies = (policies: ReadonlyArray<ValidPolicy>): PolicyIndex => {
  const bySubject = new Map<string, Array<number>>()
  policies.forEach((policy, i) => {
    for (const key of new Set(policy.spec.subjects.map(subjectKey))) {
      const named = bySubject.get(key)
      if (named === undefined) bySubject.set(key, [i])
      else named.push(i)
    }
  })
  return { bySubject, policies }
}

/** The policies naming this caller, each once, in their order. */
export const policiesFor = (index: PolicyIndex, identity: Identity): ReadonlyArray<ValidPolicy> => {
  if (index.policies.length === 0) return []
  const keys = [`user:${identity.user}`, ...identity.groups.map((g) => `group:${g}`)]
  const account = serviceAccountOf(identity.user)
  if (account !== undefined) keys.push(`serviceaccount:${account.namespace}/${account.name}`, `namespace:${account.namespace}`)
  const found = new Set<number>()
  for (const key of keys) for (const i of index.bySubject.get(key) ?? []) found.add(i)
  return [...found].sort((a, b) => a - b).map((i) => index.policies[i]!)
}

const policyLimits: ReadonlyArray<readonly [keyof ClientPolicySpec["limits"], LimitName]> = [
  ["requestsPerMinute", "requests_per_minute"],
  ["tokensPerMinute", "tokens_per_minute"],
  ["tokensPerDay", "tokens_per_day"],
  ["tokensPerMonth", "tokens_per_month"],
  ["concurrentRequests", "concurrent_requests"]
]

/** Every limit the request is under; none when nothing limits it (the common case: next to no work). */
export const rulesFor = (provider: ResolvedProvider, identity: Identity, index: PolicyIndex): ReadonlyArray<Rule> => {
  const rules: Array<Rule> = []
  const { requestsPerMinute, tokensPerMinute } = provider.rateLimit
  const providerKey = `provider:${provider.namespace}/${provider.name}`
  const owner = `Provider ${provider.name}`
  if (requestsPerMinute !== undefined) rules.push({ source: "provider", owner, name: "requests_per_minute", limit: requestsPerMinute, key: `${providerKey}:rpm`, perCaller: false })
  if (tokensPerMinute !== undefined) rules.push({ source: "provider", owner, name: "tokens_per_minute", limit: tokensPerMinute, key: `${providerKey}:tpm`, perCaller: false })
  for (const policy of policiesFor(index, identity)) {
    if (!policyApplies(policy, identity, provider.name)) continue
    const perCaller = policy.spec.scope !== "shared"
    const key = `policy:${policy.namespace}/${policy.name}:${perCaller ? `user:${identity.user}` : "shared"}`
    for (const [field, name] of policyLimits) {
      const limit = policy.spec.limits[field]
      if (limit !== undefined) rules.push({ source: "policy", owner: `ClientPolicy ${policy.name}`, name, limit, key: `${key}:${name}`, perCaller })
    }
  }
  return rules
}

/** The period a counted limit counts in at `now`: its stamp (part of the key), when it began and when it ends. */
export const periodOf = (
  name: Exclude<LimitName, "concurrent_requests">,
  now: number,
  windowMs: number
): { readonly stamp: string; readonly startsAt: number; readonly resetAt: number } => {
  if (name === "requests_per_minute" || name === "tokens_per_minute") {
    const window = Math.floor(now / windowMs)
    return { stamp: `w${window}`, startsAt: window * windowMs, resetAt: (window + 1) * windowMs }
  }
  const date = new Date(now)
  const year = date.getUTCFullYear()
  const month = date.getUTCMonth()
  if (name === "tokens_per_month") return { stamp: `m${year}-${month + 1}`, startsAt: Date.UTC(year, month, 1), resetAt: Date.UTC(year, month + 1, 1) }
  const day = date.getUTCDate()
  return { stamp: `d${year}-${month + 1}-${day}`, startsAt: Date.UTC(year, month, day), resetAt: Date.UTC(year, month, day + 1) }
}

/** What a refusal says of each limit. */
export const limitText = (name: LimitName, limit: number, windowMs: number): string => {
  const window = windowMs === 60_000 ? "per minute" : `per ${windowMs / 1000} s`
  switch (name) {
    case "requests_per_minute":
      return `${limit} requests ${window}`
    case "tokens_per_minute":
      return `${limit} tokens ${window}`
    case "tokens_per_day":
      return `${limit} tokens a UTC day`
    case "tokens_per_month":
      return `${limit} tokens a UTC month`
    case "concurrent_requests":
      return `${limit} concurrent request${limit === 1 ? "" : "s"}`
  }
}

/** The most output tokens a request asks for, in any of the three formats' fields. */
const requestedOutput = (body: Readonly<Record<string, unknown>>): number | undefined => {
  for (const field of ["max_output_tokens", "max_completion_tokens", "max_tokens"]) {
    const value = body[field]
    if (typeof value === "number" && Number.isInteger(value) && value > 0) return value
  }
  return undefined
}

/** Output reserved for a request that sets no maximum. */
const unstatedOutput = 4096

/** What an image costs at most: Anthropic's count for a full-size one (about 1.15 megapixels); OpenAI's is lower. */
const tokensPerImage = 1600

/** Below this a body is counted by its characters alone: an image in it is small, and walking costs. */
const walkedFrom = 16_384

/** Base64 this short is not worth counting apart. */
const inlineFrom = 1024

/**
 * Images sent inline in a body, in all three formats: a data URL (`image_url`, `input_image`) or an
 * Anthropic base64 `source`. Their characters are data, not text: a 1 MB image is 1,600 tokens at
 * most, not 250,000. Walked with a stack of its own, as a body may nest deeper than the call stack.
 * Other media (documents, audio) keep their characters: their tokens follow pages or seconds.
 */
const inlineImages = (body: unknown): { readonly images: number; readonly characters: number } => {
  let images = 0
  let characters = 0
  const image = (data: string) => {
    images += 1
    characters += data.length
  }
  // strings are looked at where they are found; only objects and arrays wait on the stack
  const visit = (value: unknown) => {
    if (typeof value === "string") {
      if (value.length >= inlineFrom && value.startsWith("data:image/")) image(value)
    } else if (typeof value === "object" && value !== null) pending.push(value)
  }
  const pending: Array<object> = []
  visit(body)
  while (pending.length > 0) {
    const value = pending.pop()!
    if (Array.isArray(value)) {
      for (const item of value) visit(item)
      continue
    }
    const record = value as Record<string, unknown>
    const data = record["data"]
    if (record["type"] === "base64" && typeof data === "string" && data.length >= inlineFrom && String(record["media_type"]).startsWith("image/")) {
      image(data)
      continue
    }
    for (const key in record) visit(record[key])
  }
  return { images, characters }
}

/**
 * The tokens reserved when a request starts, settled with its real usage when it ends: its text at
 * about four characters a token (an inline image at what an image costs), plus the output it may ask
 * for (at most the Provider's cap).
 */
export const estimateTokens = (bodyChars: number, body: Readonly<Record<string, unknown>>, outputCap: number | undefined): number => {
  const { characters, images } = bodyChars < walkedFrom ? { characters: 0, images: 0 } : inlineImages(body)
  return Math.ceil((bodyChars - characters) / 4) + images * tokensPerImage +
    Math.min(requestedOutput(body) ?? unstatedOutput, outputCap ?? Number.POSITIVE_INFINITY)
}

/**
 * A Provider's and a caller's rules, made once per policy index (both are the registry's and the
 * auth cache's own objects), and each rule's keys, its counter's once per period: the same strings
 * request after request, which the counters look up without hashing them again.
 */
export const makeRuleCache = (policies: () => PolicyIndex, windowMs: number) => {
  let rulesIndex: PolicyIndex | undefined
  let made = new WeakMap<ResolvedProvider, WeakMap<Identity, ReadonlyArray<Rule>>>()
  const periods = new WeakMap<Rule, { readonly key: string; readonly startsAt: number; readonly resetAt: number }>()
  const slotKeys = new WeakMap<Rule, string>()
  return {
    rulesOf: (provider: ResolvedProvider, identity: Identity): ReadonlyArray<Rule> => {
      const index = policies()
      if (index !== rulesIndex) {
        rulesIndex = index
        made = new WeakMap()
      }
      let byCaller = made.get(provider)
      if (byCaller === undefined) made.set(provider, byCaller = new WeakMap())
      let rules = byCaller.get(identity)
      if (rules === undefined) byCaller.set(identity, rules = rulesFor(provider, identity, index))
      return rules
    },
    /** a counted rule's key and period end at `at` */
    counterOf: (rule: Rule, name: Exclude<LimitName, "concurrent_requests">, at: number) => {
      const known = periods.get(rule)
      if (known !== undefined && at >= known.startsAt && at < known.resetAt) return known
      const { resetAt, stamp, startsAt } = periodOf(name, at, windowMs)
      const period = { key: `orka:limit:${rule.key}:${stamp}`, startsAt, resetAt }
      periods.set(rule, period)
      return period
    },
    /** a concurrency rule's slot set */
    slotKeyOf: (rule: Rule): string => {
      let key = slotKeys.get(rule)
      if (key === undefined) slotKeys.set(rule, key = `orka:limit:${rule.key}`)
      return key
    }
  }
}
