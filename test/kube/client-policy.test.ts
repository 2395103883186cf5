import { describe, expect, it } from "vitest"
import { readFileSync } from "node:fs"
import { parseAllDocuments } from "yaml"
import type { KubeObject } from "../../src/kube/client.ts"
import { decodeClientPolicies, PolicyApiVersion } from "../../src/kube/client-policy.ts"

const policy = (name: string, spec: unknown, namespace?: string): KubeObject => ({
  apiVersion: PolicyApiVersion,
  kind: "ClientPolicy",
  metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
  spec
} as KubeObject)

/** A valid spec with `fields` replaced. */
const spec = (fields: Record<string, unknown>) => ({ subjects: [{ user: "alice" }], limits: { requestsPerMinute: 60 }, ...fields })

/** Why the one policy with `spec` does not decode. */
const whyNot = (s: unknown) => {
  const { valid, invalid } = decodeClientPolicies([policy("p", s)], "default")
  expect(valid).toEqual([])
  return invalid.get("p")
}

describe("decodeClientPolicies", () => {
  it("decodes valid policies, with the namespace and scope defaulted", () => {
    const { valid, invalid } = decodeClientPolicies([
      policy("team-a", { subjects: [{ serviceAccount: "team-a/*" }], scope: "shared", limits: { tokensPerDay: 1_000_000, requestsPerMinute: 600 } }),
      policy("reviewer", { subjects: [{ serviceAccount: "team-a/reviewer" }], providers: ["claude"], limits: { concurrentRequests: 4 } }, "orka-system"),
      policy("people", {
        subjects: [{ group: "oidc:ml" }, { user: "alice@example.com" }, { serviceAccount: "ml/agent.v2" }],
        limits: { tokensPerMinute: 1, tokensPerMonth: 2 }
      })
    ], "default")
    expect(invalid).toEqual(new Map())
    expect(valid).toEqual([
      {
        name: "team-a",
        namespace: "default",
        spec: { subjects: [{ serviceAccount: "team-a/*" }], scope: "shared", limits: { tokensPerDay: 1_000_000, requestsPerMinute: 600 } }
      },
      {
        name: "reviewer",
        namespace: "orka-system",
        spec: { subjects: [{ serviceAccount: "team-a/reviewer" }], providers: ["claude"], scope: "caller", limits: { concurrentRequests: 4 } }
      },
      {
        name: "people",
        namespace: "default",
        spec: { subjects: [{ group: "oidc:ml" }, { user: "alice@example.com" }, { serviceAccount: "ml/agent.v2" }], scope: "caller", limits: { tokensPerMinute: 1, tokensPerMonth: 2 } }
      }
    ])
  })

  it("says, field by field, why a policy does not decode", () => {
    const exactlyOne = "spec.subjects.0: exactly one of serviceAccount, group or user is required"
    const serviceAccount = `spec.subjects.0.serviceAccount: Expected a ServiceAccount as "namespace/name" or "namespace/*"`
    const cases: Array<[string, unknown, string]> = [
      ["two subject kinds", spec({ subjects: [{ serviceAccount: "team-a/*", user: "alice" }] }), exactlyOne],
      ["no subject kind", spec({ subjects: [{}] }), exactlyOne],
      ["no subjects", spec({ subjects: [] }), "spec.subjects: Expected at least one subject"],
      ["a ServiceAccount without its namespace", spec({ subjects: [{ serviceAccount: "agent" }] }), serviceAccount],
      ["a ServiceAccount that is no Kubernetes name", spec({ subjects: [{ serviceAccount: "Team_A/agent" }] }), serviceAccount],
      ["a wildcard namespace", spec({ subjects: [{ serviceAccount: "*/agent" }] }), serviceAccount],
      ["an empty group", spec({ subjects: [{ group: "" }] }), "spec.subjects.0.group: Expected a value with a length of at least 1"],
      ["no limit set", spec({ limits: {} }), "spec.limits: at least one limit is required (requestsPerMinute, tokensPerMinute, concurrentRequests, tokensPerDay, tokensPerMonth)"],
      ["no limits", { subjects: [{ user: "alice" }] }, "spec.limits: Missing key"],
      ["a limit of 0", spec({ limits: { tokensPerDay: 0 } }), "spec.limits.tokensPerDay: Expected a value greater than 0"],
      ["a fractional limit", spec({ limits: { requestsPerMinute: 1.5 } }), "spec.limits.requestsPerMinute: Expected an integer"],
      ["an unknown scope", spec({ scope: "team" }), `spec.scope: Expected "caller" | "shared"`],
      ["an empty Provider name", spec({ providers: [""] }), "spec.providers.0: Expected a value with a length of at least 1"]
    ]
    for (const [what, s, message] of cases) expect(whyNot(s), what).toBe(message)
  })

  it("keeps the valid policies beside the invalid ones, by name", () => {
    const { valid, invalid } = decodeClientPolicies([
      policy("ok", spec({})),
      policy("broken", spec({ limits: {} })),
      { apiVersion: "core.orka.ai/v1alpha1", kind: "ClientPolicy", metadata: { name: "old-group" }, spec: spec({}) } as KubeObject
    ], "default")
    expect(valid.map((p) => p.name)).toEqual(["ok"])
    expect([...invalid.keys()]).toEqual(["broken", "old-group"])
    expect(invalid.get("old-group")).toBe(`apiVersion: Expected "gateway.orka.ai/v1alpha1"`)
  })

  it("decodes the examples", () => {
    const text = readFileSync(new URL("../../k8s/examples/client-policy.yaml", import.meta.url), "utf8")
    const objects = parseAllDocuments(text).map((d) => d.toJS() as KubeObject)
    const { valid, invalid } = decodeClientPolicies(objects, "orka-system")
    expect(invalid).toEqual(new Map())
    expect(valid.map((p) => [p.name, p.spec.scope])).toEqual([["team-a", "shared"], ["team-a-reviewer", "caller"]])
  })
})
