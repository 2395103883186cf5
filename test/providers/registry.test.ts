import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Result } from "effect"
import { GatewayConfig } from "../../src/config.ts"
import { testConfig } from "../support/config.ts"
import { buildSnapshot, listModels, ProviderRegistry, resolveModel } from "../../src/providers/registry.ts"
import { FakeKube, fakeKubeLayer, provider, secret } from "../support/fake-kube.ts"
import { Redactor } from "../../src/redact.ts"

const objects = [
  provider("anthropic", { type: "anthropic", secretRef: { name: "keys", key: "anthropic" }, defaultModel: "claude-x", models: ["claude-y"] }),
  provider("openai", { type: "openai", secretRef: { name: "keys" }, defaultModel: "gpt-4o" }),
  provider("azure", { type: "azure-openai", secretRef: { name: "keys" }, baseURL: "https://r.openai.azure.com", azure: { deploymentName: "dep" } }),
  provider("mock", { type: "mock", defaultModel: "mock-1" }),
  provider("nokey", { type: "openai", secretRef: { name: "missing" } }),
  provider("emptykey", { type: "openai", secretRef: { name: "keys", key: "empty" } }),
  provider("badtype", { type: "gemini" }),
  provider("noazureurl", { type: "azure-openai", secretRef: { name: "keys" } }),
  secret("keys", { anthropic: "sk-ant", "api-key": "sk-openai", empty: "  " })
]
const snapshot = buildSnapshot(objects.filter((o) => o.kind === "Provider"), objects.filter((o) => o.kind === "Secret"), "default")
const resolve = (model: string, chat?: string) => resolveModel(snapshot, model, chat)

describe("buildSnapshot", () => {
  it("validates Providers, applies defaults and explains the rejected ones", () => {
    expect([...snapshot.ready.keys()].sort()).toEqual(["anthropic", "azure", "mock", "openai"])
    const openai = snapshot.ready.get("openai")!
    expect(openai.baseURL).toBe("https://api.openai.com/v1")
    expect(snapshot.ready.get("anthropic")!.baseURL).toBe("https://api.anthropic.com")
    expect(snapshot.ready.get("azure")!.azure).toEqual({ deploymentName: "dep", apiVersion: "2024-02-15-preview" })
    expect(snapshot.notReady.get("nokey")).toEqual({ reason: "SecretNotFound", message: "Secret default/missing not found", fallbacks: [] })
    expect(snapshot.notReady.get("emptykey")?.reason).toBe("SecretKeyMissing")
    expect(snapshot.notReady.get("badtype")?.reason).toBe("InvalidSpec")
    expect(snapshot.notReady.get("badtype")?.message).toContain("spec.type")
    expect(snapshot.notReady.get("noazureurl")).toEqual({ reason: "InvalidSpec", message: "spec.baseURL is required for type azure-openai", fallbacks: [] })
  })

  it("never puts the key in a message", () => {
    for (const r of snapshot.notReady.values()) expect(r.message).not.toMatch(/sk-/)
  })
})

describe("resolveModel", () => {
  it("splits provider/model at the first slash only", () => {
    const r = Result.getOrThrow(resolve("openai/ft:gpt-4o:org/x"))
    expect(r.provider.name).toBe("openai")
    expect(r.model).toBe("ft:gpt-4o:org/x")
  })

  it("uses the provider's defaultModel for `provider/` and `provider`-only requests", () => {
    expect(Result.getOrThrow(resolve("anthropic/")).model).toBe("claude-x")
  })

  it("sends bare models to --chat-provider, else to the Provider named default", () => {
    expect(Result.getOrThrow(resolve("gpt-4o-mini", "openai")).provider.name).toBe("openai")
    const withDefault = buildSnapshot([provider("default", { type: "mock" })], [], "default")
    expect(Result.getOrThrow(resolveModel(withDefault, "anything", undefined)).provider.name).toBe("default")
  })

  it("400 naming the fix when a bare model has no default provider", () => {
    const e = Result.getFailure(resolve("gpt-4o"))
    expect(e._tag === "Some" && e.value).toMatchObject({ kind: "invalid_request", param: "model" })
    expect(e._tag === "Some" && e.value.message).toContain("--chat-provider")
  })

  it("404 model_not_found naming an unknown provider", () => {
    const e = Result.getFailure(resolve("nope/gpt-4o"))
    expect(e._tag === "Some" && e.value).toMatchObject({ kind: "not_found", code: "model_not_found" })
    expect(e._tag === "Some" && e.value.message).toContain("provider nope")
  })

  it("503 for a Provider that exists but cannot serve, with its reason", () => {
    const e = Result.getFailure(resolve("nokey/gpt-4o"))
    expect(e._tag === "Some" && e.value).toMatchObject({ kind: "overloaded", code: "provider_not_ready" })
    expect(e._tag === "Some" && e.value.message).toContain("Secret default/missing not found")
  })
})

describe("listModels", () => {
  it("lists provider/defaultModel and provider/<models>, plus bare ids of the default provider", () => {
    const ids = listModels(snapshot, "mock").map((m) => m.id)
    expect(ids).toEqual(["anthropic/claude-x", "anthropic/claude-y", "azure/dep", "mock/mock-1", "openai/gpt-4o", "mock-1"])
  })
})

describe("ProviderRegistry over a watched KubeClient", () => {
  const layer = ProviderRegistry.layer.pipe(
    Layer.provideMerge(fakeKubeLayer([provider("mock", { type: "mock", defaultModel: "m" })])),
    Layer.provide(GatewayConfig.layer(testConfig())),
    Layer.provide(Redactor.layerFresh)
  )

  it.live("applies added, changed and deleted Providers and rotated Secrets without restart", () =>
    Effect.gen(function*() {
      const registry = yield* ProviderRegistry
      const fake = yield* FakeKube
      yield* registry.synced
      expect(Result.isSuccess(resolveModel(registry.snapshot(), "mock/x", undefined))).toBe(true)

      yield* fake.providers.upsert(provider("openai", { type: "openai", secretRef: { name: "k" } }))
      yield* Effect.sleep(10)
      expect(registry.snapshot().notReady.get("openai")?.reason).toBe("SecretNotFound")

      yield* fake.secrets.upsert(secret("k", { "api-key": "first" }))
      yield* Effect.sleep(10)
      const key1 = (yield* registry.resolve("openai/gpt")).provider.apiKey
      yield* fake.secrets.upsert(secret("k", { "api-key": "second" }))
      yield* Effect.sleep(10)
      const key2 = (yield* registry.resolve("openai/gpt")).provider.apiKey
      expect(String(key1)).not.toContain("first") // Redacted hides the key from logs and errors
      expect(Redacted.value(key1!)).toBe("first")
      expect(Redacted.value(key2!)).toBe("second")

      yield* fake.providers.remove("default", "openai")
      yield* Effect.sleep(10)
      const gone = yield* Effect.flip(registry.resolve("openai/gpt"))
      expect(gone.kind).toBe("not_found")
    }).pipe(Effect.provide(layer)))
})
