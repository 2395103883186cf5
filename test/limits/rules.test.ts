/** Which limits a request is under, the periods they count in, and the token estimate. */
import { describe, expect, it } from "vitest"
import type { Identity } from "../../src/auth/auth.ts"
import type { ValidPolicy } from "../../src/kube/client-policy.ts"
import { estimateTokens, indexPolicies, makeRuleCache, periodOf, policiesFor, policyApplies, rulesFor, subjectMatches } from "../../src/limits/rules.ts"
import type { ResolvedProvider } from "../../src/providers/provider.ts"

const sa = (namespace: string, name: string): Identity => ({ user: `system:serviceaccount:${namespace}:${name}`, uid: "u", groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`] })

const provider = (name: string, rateLimit: ResolvedProvider["rateLimit"] = {}) => ({ name, namespace: "orka", rateLimit, maxOutputTokens: { all: undefined, byModel: {} } }) as unknown as ResolvedProvider

const policy = (name: string, spec: Partial<ValidPolicy["spec"]>): ValidPolicy => ({
  name,
  namespace: "orka",
  spec: { subjects: [{ serviceAccount: "team-a/*" }], limits: { requestsPerMinute: 10 }, scope: "caller", ...spec }
})

describe("subjects", () => {
  it("match a ServiceAccount, a namespace's ServiceAccounts, a group or a user", () => {
    expect(subjectMatches({ serviceAccount: "team-a/bot" }, sa("team-a", "bot"))).toBe(true)
    expect(subjectMatches({ serviceAccount: "team-a/bot" }, sa("team-a", "bot2"))).toBe(false)
    expect(subjectMatches({ serviceAccount: "team-a/*" }, sa("team-a", "anything"))).toBe(true)
    // a namespace whose name starts like another's is not it
    expect(subjectMatches({ serviceAccount: "team-a/*" }, sa("team-ab", "bot"))).toBe(false)
    expect(subjectMatches({ group: "system:serviceaccounts:team-a" }, sa("team-a", "bot"))).toBe(true)
    expect(subjectMatches({ group: "admins" }, sa("team-a", "bot"))).toBe(false)
    expect(subjectMatches({ user: "alice" }, { user: "alice", uid: "", groups: [] })).toBe(true)
    expect(subjectMatches({ user: "alice" }, { user: "alicia", uid: "", groups: [] })).toBe(false)
  })

  it("a policy naming Providers applies to those only", () => {
    const only = policy("only", { providers: ["claude"] })
    expect(policyApplies(only, sa("team-a", "bot"), "claude")).toBe(true)
    expect(policyApplies(only, sa("team-a", "bot"), "gpt")).toBe(false)
    expect(policyApplies(policy("all", {}), sa("team-a", "bot"), "gpt")).toBe(true)
  })
})

describe("the policy index", () => {
  it("finds for a caller exactly the policies whose subjects match it, each once, in their order", () => {
    const policies = [
      policy("ns", { subjects: [{ serviceAccount: "team-a/*" }] }),
      policy("bot", { subjects: [{ serviceAccount: "team-a/bot" }, { group: "system:serviceaccounts:team-a" }] }),
      policy("other-ns", { subjects: [{ serviceAccount: "team-b/*" }] }),
      policy("alice", { subjects: [{ user: "alice" }, { group: "admins" }] }),
      policy("admins", { subjects: [{ group: "admins" }] }),
      policy("prefix", { subjects: [{ serviceAccount: "team/*" }] })
    ]
    const index = indexPolicies(policies)
    const callers: ReadonlyArray<Identity> = [
      sa("team-a", "bot"), sa("team-a", "other"), sa("team-b", "bot"), sa("team", "x"),
      { user: "alice", uid: "", groups: [] }, { user: "bob", uid: "", groups: ["admins"] }, { user: "system:serviceaccount:team-a", uid: "", groups: [] }, { user: "system:serviceaccount:team-a:bot:extra", uid: "", groups: [] }
    ]
    for (const caller of callers) {
      const linear = policies.filter((p) => p.spec.subjects.some((s) => subjectMatches(s, caller)))
      expect(policiesFor(index, caller).map((p) => p.name)).toEqual(linear.map((p) => p.name))
    }
    expect(policiesFor(index, sa("team-a", "bot")).map((p) => p.name)).toEqual(["ns", "bot"])
  })
})

describe("rulesFor", () => {
  it("is empty when nothing limits the request", () => {
    expect(rulesFor(provider("claude"), sa("team-a", "bot"), indexPolicies([policy("other", { subjects: [{ user: "alice" }] })]))).toEqual([])
  })

  it("takes the Provider's limits and every matching policy's, each caller's counters its own unless the policy is shared", () => {
    const rules = rulesFor(provider("claude", { requestsPerMinute: 60, tokensPerMinute: 1000 }), sa("team-a", "bot"), indexPolicies([
      policy("each", { limits: { tokensPerDay: 5000, concurrentRequests: 2 } }),
      policy("team", { scope: "shared", limits: { tokensPerMonth: 90000 } })
    ]))
    expect(rules.map((r) => [r.owner, r.name, r.limit, r.key])).toEqual([
      ["Provider claude", "requests_per_minute", 60, "provider:orka/claude:rpm"],
      ["Provider claude", "tokens_per_minute", 1000, "provider:orka/claude:tpm"],
      ["ClientPolicy each", "tokens_per_day", 5000, "policy:orka/each:user:system:serviceaccount:team-a:bot:tokens_per_day"],
      ["ClientPolicy each", "concurrent_requests", 2, "policy:orka/each:user:system:serviceaccount:team-a:bot:concurrent_requests"],
      ["ClientPolicy team", "tokens_per_month", 90000, "policy:orka/team:shared:tokens_per_month"]
    ])
  })
})

describe("periods", () => {
  it("a window starts on its multiple of the window's length", () => {
    const at = Date.UTC(2026, 11, 2, 10, 30, 45)
    expect(periodOf("requests_per_minute", at, 60_000)).toEqual({ stamp: `w${Math.floor(at / 60_000)}`, startsAt: Date.UTC(2026, 11, 2, 10, 30), resetAt: Date.UTC(2026, 11, 2, 10, 31) })
  })

  it("days and months are UTC's, the year's last included", () => {
    const at = Date.UTC(2026, 11, 31, 23, 59, 59)
    expect(periodOf("tokens_per_day", at, 60_000)).toEqual({ stamp: "d2026-12-31", startsAt: Date.UTC(2026, 11, 31), resetAt: Date.UTC(2027, 0, 1) })
    expect(periodOf("tokens_per_month", at, 60_000)).toEqual({ stamp: "m2026-12", startsAt: Date.UTC(2026, 11, 1), resetAt: Date.UTC(2027, 0, 1) })
    expect(periodOf("tokens_per_day", Date.UTC(2027, 0, 1), 60_000).stamp).toBe("d2027-1-1")
  })
})

describe("the rule cache", () => {
  it("gives a caller's rules and a rule's keys once, and new ones when the policies or the period change", () => {
    const caller: Identity = { user: "alice", uid: "1", groups: [] }
    const claude = provider("claude", { requestsPerMinute: 5 })
    let index = indexPolicies([])
    const cache = makeRuleCache(() => index, 60_000)
    const rules = cache.rulesOf(claude, caller)
    expect(cache.rulesOf(claude, caller)).toBe(rules)
    const at = Date.UTC(2026, 11, 3, 10, 0, 30)
    const counter = cache.counterOf(rules[0]!, "requests_per_minute", at)
    expect(cache.counterOf(rules[0]!, "requests_per_minute", at + 29_000)).toBe(counter)
    const next = cache.counterOf(rules[0]!, "requests_per_minute", at + 30_000)
    expect(next.key).not.toBe(counter.key)
    expect(next.resetAt).toBe(Date.UTC(2026, 11, 3, 10, 2))
    // a clock set back finds the earlier period again
    expect(cache.counterOf(rules[0]!, "requests_per_minute", at).key).toBe(counter.key)
    index = indexPolicies([{ name: "p", namespace: "orka", spec: { subjects: [{ user: "alice" }], limits: { concurrentRequests: 2 }, scope: "caller" } } as ValidPolicy])
    const changed = cache.rulesOf(claude, caller)
    expect(changed).not.toBe(rules)
    expect(changed.map((r) => r.name)).toEqual(["requests_per_minute", "concurrent_requests"])
    expect(cache.slotKeyOf(changed[1]!)).toBe("orka:limit:policy:orka/p:user:alice:concurrent_requests")
  })
})

describe("estimateTokens", () => {
  it("is the text at four characters a token plus the output asked for, at most the Provider's cap", () => {
    expect(estimateTokens(400, { max_tokens: 50 }, undefined)).toBe(150)
    expect(estimateTokens(400, { max_completion_tokens: 70 }, undefined)).toBe(170)
    expect(estimateTokens(400, { max_output_tokens: 90 }, undefined)).toBe(190)
    expect(estimateTokens(400, { max_tokens: 32000 }, 1000)).toBe(1100)
    // no maximum asked: a default, still capped
    expect(estimateTokens(400, {}, undefined)).toBe(4196)
    expect(estimateTokens(400, {}, 200)).toBe(300)
  })

  const base64 = "iVBORw0KGgo".repeat(20_000)
  const question = { type: "text", text: "what is in this picture?" }
  const bodies = {
    "OpenAI chat": { model: "m", max_tokens: 100, messages: [{ role: "user", content: [question, { type: "image_url", image_url: { url: `data:image/png;base64,${base64}` } }] }] },
    "Anthropic": { model: "m", max_tokens: 100, messages: [{ role: "user", content: [question, { type: "image", source: { type: "base64", media_type: "image/png", data: base64 } }] }] },
    "Responses": { model: "m", max_output_tokens: 100, input: [{ role: "user", content: [{ type: "input_text", text: question.text }, { type: "input_image", image_url: `data:image/png;base64,${base64}` }] }] }
  }
  it.each(Object.entries(bodies))("counts an inline image as an image, not as its characters (%s)", (_, body) => {
    const text = JSON.stringify(body)
    const imageChars = text.length - JSON.stringify(body).replace(base64, "").length
    const estimate = estimateTokens(text.length, body, undefined)
    // the 220,000 characters of base64 would have been 55,000 tokens; a data URL's prefix goes with it
    expect(Math.abs(estimate - (Math.ceil((text.length - imageChars) / 4) + 1600 + 100))).toBeLessThanOrEqual(8)
  })

  it("counts two images twice, and other inline media by their characters", () => {
    const twice = { messages: [{ role: "user", content: [bodies["OpenAI chat"].messages[0]!.content[1], bodies["Anthropic"].messages[0]!.content[1]] }], max_tokens: 1 }
    expect(estimateTokens(JSON.stringify(twice).length, twice, undefined)).toBeGreaterThan(3200)
    expect(estimateTokens(JSON.stringify(twice).length, twice, undefined)).toBeLessThan(3400)
    const pdf = { max_tokens: 1, messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: base64 } }] }] }
    const chars = JSON.stringify(pdf).length
    expect(estimateTokens(chars, pdf, undefined)).toBe(Math.ceil(chars / 4) + 1)
  })

  it("walks a body nested deeper than the call stack", () => {
    let deep: Record<string, unknown> = { text: "x" }
    for (let i = 0; i < 200_000; i++) deep = { content: [deep] }
    expect(estimateTokens(20_000, { max_tokens: 1, messages: [deep] }, undefined)).toBe(5001)
  })
})
