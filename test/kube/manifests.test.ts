import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { GatewayConfig } from "../../src/config.ts"
import { testConfig } from "../support/config.ts"
import { KubeClient } from "../../src/kube/client.ts"
import * as Manifests from "../../src/kube/manifests.ts"
import { parseManifests } from "../../src/kube/manifests.ts"
import { eventually } from "../support/eventually.ts"

const providerYaml = (name: string, model: string) => `
apiVersion: core.orka.ai/v1alpha1
kind: Provider
metadata: { name: ${name} }
spec: { type: mock, defaultModel: ${model} }
`

describe("parseManifests", () => {
  it("reads multi-document YAML and flattens Lists", () => {
    const objects = parseManifests(
      `${providerYaml("a", "m")}---\napiVersion: v1\nkind: List\nitems:\n  - { apiVersion: v1, kind: Secret, metadata: { name: s } }\n---\n`,
      "f.yaml"
    )
    expect(objects.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(["Provider/a", "Secret/s"])
  })

  it("names the file of a broken document", () => {
    expect(() => parseManifests("a: [unclosed", "broken.yaml")).toThrow("broken.yaml")
  })
})

describe("manifests KubeClient", () => {
  it.live("loads a directory, keeps only the gateway's namespace, and reloads on change", () => {
    const dir = mkdtempSync(join(tmpdir(), "orka-manifests-"))
    writeFileSync(join(dir, "a.yaml"), providerYaml("a", "m1"))
    writeFileSync(join(dir, "other-ns.yaml"), providerYaml("b", "m").replace("{ name: b }", "{ name: b, namespace: elsewhere }"))
    writeFileSync(join(dir, "notes.txt"), "not a manifest")
    writeFileSync(join(dir, "tool.yaml"), "apiVersion: core.orka.ai/v1alpha1\nkind: Tool\nmetadata: { name: tickets }\nspec: { description: d, http: { url: 'https://t.test/{{id}}' } }\n")
    const clientPolicy = (name: string, apiVersion: string) =>
      `apiVersion: ${apiVersion}\nkind: ClientPolicy\nmetadata: { name: ${name} }\nspec: { subjects: [{ user: alice }], limits: { tokensPerDay: 1000 } }\n`
    // a ClientPolicy is of the gateway's group, not core.orka.ai
    writeFileSync(join(dir, "policy.yaml"), `${clientPolicy("alice", "gateway.orka.ai/v1alpha1")}---\n${clientPolicy("wrong-group", "core.orka.ai/v1alpha1")}`)
    const names = (kube: typeof KubeClient.Service) => kube.providers.items().map((o) => o.metadata?.name)
    const model = (kube: typeof KubeClient.Service) =>
      (kube.providers.items()[0] as { spec?: { defaultModel?: string } } | undefined)?.spec?.defaultModel

    return Effect.gen(function*() {
      const kube = yield* KubeClient
      yield* kube.providers.synced
      expect(names(kube)).toEqual(["a"])
      expect(kube.tools.items().map((o) => o.metadata?.name)).toEqual(["tickets"])
      yield* kube.clientPolicies.synced
      expect(kube.clientPolicies.items()).toMatchObject([{ kind: "ClientPolicy", metadata: { name: "alice", namespace: "default" }, spec: { limits: { tokensPerDay: 1000 } } }])
      expect(kube.providers.items()[0]?.metadata?.namespace).toBe("default")

      writeFileSync(join(dir, "a.yaml"), providerYaml("a", "m2"))
      yield* eventually(() => model(kube) === "m2")

      writeFileSync(join(dir, "a.yaml"), "kind: [broken") // a half-written file keeps the last good objects
      yield* Effect.sleep(300)
      expect(model(kube)).toBe("m2")
    }).pipe(Effect.provide(Manifests.layer.pipe(Layer.provide(GatewayConfig.layer(testConfig({ manifests: dir }))))))
  })
})

