import { describe, expect, it } from "vitest"
import type { KubeObject } from "../../src/kube/client.ts"
import { buildToolSnapshot } from "../../src/tools/custom-tools.ts"

const tool = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: "core.orka.ai/v1alpha1", kind: "Tool", metadata: { name }, spec } as KubeObject)
const secret = (name: string, data: Record<string, string>): KubeObject => ({ apiVersion: "v1", kind: "Secret", metadata: { name }, stringData: data } as KubeObject)

describe("buildToolSnapshot", () => {
  it("offers the Tools that can run, with their keys, and says why the others cannot", () => {
    const snapshot = buildToolSnapshot([
      tool("open", { description: "no auth", http: { url: "https://a.test" } }),
      tool("keyed", { description: "auth", http: { url: "https://b.test", authSecretRef: { name: "s", key: "token" } } }),
      tool("nokey", { description: "auth", http: { url: "https://c.test", authSecretRef: { name: "s", key: "missing" } } }),
      tool("nosecret", { description: "auth", http: { url: "https://c.test", authSecretRef: { name: "gone", key: "k" } } }),
      tool("mcp", { description: "mcp", mcp: { substrateActor: { templateRef: { name: "x" } } } }),
      tool("broken", { http: { url: "https://d.test" } }),
      tool("empty", { description: "", http: { url: "https://d.test" } })
    ], [secret("s", { token: "t-123" })], "default")
    expect(snapshot.usable.map((u) => [u.tool.metadata.name, u.authKey])).toEqual([["open", undefined], ["keyed", "t-123"]])
    expect(Object.fromEntries(snapshot.unusable)).toEqual({
      nokey: { reason: "SecretKeyMissing", message: "Secret default/s has no non-empty key \"missing\"" },
      nosecret: { reason: "SecretNotFound", message: "Secret default/gone not found" },
      mcp: { reason: "Unsupported", message: "MCP tools are not supported yet" },
      broken: { reason: "InvalidSpec", message: expect.stringContaining("invalid spec") },
      empty: { reason: "InvalidSpec", message: "spec.description and spec.http.url must not be empty" }
    })
  })
})
