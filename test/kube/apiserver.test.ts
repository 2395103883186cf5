/**
 * The generated CRDs and the live Provider informer against a real API server
 * (apiextensions-apiserver on etcd): schema validation, add/update/delete, a compaction (410),
 * a restart mid-watch, and the status subresource (Providers, Tools and ClientPolicies).
 */
import { ApiextensionsV1Api, CustomObjectsApi, KubeConfig, setHeaderOptions } from "@kubernetes/client-node"
import { request, type RequestOptions } from "node:https"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { readFileSync } from "node:fs"
import { parse } from "yaml"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GatewayConfig } from "../../src/config.ts"
import { testConfig } from "../support/config.ts"
import { KubeApi } from "../../src/kube/api.ts"
import { KubeClient, type KubeClientShape } from "../../src/kube/client.ts"
import * as LiveKube from "../../src/kube/live.ts"
import * as LiveApi from "../../src/kube/live-api.ts"
import { apiServerMissing, type RealApiServer, startApiServer } from "../support/apiserver.ts"

const missing = apiServerMissing()
if (missing !== undefined) {
  console.warn(`\n*** SKIPPING the real API server tier: ${missing}. The CRDs and the live informer are not checked against a real API server in this run. ***\n`)
}

const group = "core.orka.ai"
const version = "v1alpha1"
const provider = (name: string, spec: Record<string, unknown>) => ({ apiVersion: `${group}/${version}`, kind: "Provider", metadata: { name }, spec })

const postJson = async (kc: KubeConfig, url: string, body: unknown, method: "POST" | "PUT" = "POST") => {
  const options: RequestOptions = { method, headers: { "content-type": "application/json" } }
  await kc.applyToHTTPSOptions(options)
  await new Promise<void>((resolve, reject) => {
    const req = request(url, options, (res) => {
      res.resume()
      res.on("end", () => (res.statusCode === 201 || res.statusCode === 200 ? resolve() : reject(new Error(`${method} ${url}: ${res.statusCode}`))))
    })
    req.on("error", reject)
    req.end(JSON.stringify(body))
  })
}

describe.skipIf(missing !== undefined)("against a real API server", () => {
  let server: RealApiServer
  let custom: CustomObjectsApi
  let kube: KubeClientShape
  let api: typeof KubeApi.Service
  const scope = Effect.runSync(Scope.make())

  const create = (body: object) => custom.createNamespacedCustomObject({ group, version, namespace: "default", plural: "providers", body })
  const names = () => kube.providers.items().map((o) => o.metadata?.name).sort()
  const until = async (check: () => boolean, what: string, ms = 10_000) => {
    const deadline = Date.now() + ms
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (have ${JSON.stringify(names())})`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  beforeAll(async () => {
    server = await startApiServer()
    const kc = new KubeConfig()
    kc.loadFromFile(server.kubeconfig)
    const extensions = kc.makeApiClient(ApiextensionsV1Api)
    custom = kc.makeApiClient(CustomObjectsApi)
    for (const file of ["providers.core.orka.ai", "tools.core.orka.ai", "clientpolicies.gateway.orka.ai"]) {
      const crd = parse(readFileSync(new URL(`../../k8s/crds/${file}.yaml`, import.meta.url), "utf8"))
      // posted as JSON, like kubectl: the typed client would drop fields its model names differently
      // (`enum`, `default`, `x-kubernetes-…`)
      await postJson(kc, `${server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, crd)
      const established = async () => {
        const got = await extensions.readCustomResourceDefinition({ name: file })
        return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true
      }
      const deadline = Date.now() + 10_000
      while (!(await established())) {
        if (Date.now() > deadline) throw new Error(`CRD ${file} not Established`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    const config = GatewayConfig.layer(testConfig({ kubeconfig: server.kubeconfig, namespace: "default", logLevel: "error" }))
    const context = await Effect.runPromise(Layer.buildWithScope(Layer.merge(LiveKube.layer, LiveApi.layer).pipe(Layer.provide(config)), scope))
    kube = Context.get(context, KubeClient)
    api = Context.get(context, KubeApi)
  }, 60_000)

  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await server?.stop()
  }, 30_000)

  it("accepts the example Provider and rejects invalid ones with 422", async () => {
    const example = parse(readFileSync(new URL("../../k8s/examples/provider-anthropic.yaml", import.meta.url), "utf8").split("---")[1]!)
    await create({ ...example, metadata: { name: "anthropic" } })
    for (const spec of [{ type: "gemini" }, { defaultModel: "x" }, { type: "openai", rateLimit: { requestsPerMinute: -1 } }]) {
      await expect(create(provider("bad", spec))).rejects.toMatchObject({ code: 422 })
    }
    const stored = await custom.getNamespacedCustomObject({ group, version, namespace: "default", plural: "providers", name: "anthropic" }) as { spec: { secretRef: { key: string } } }
    expect(stored.spec.secretRef.key).toBe("api-key") // defaulted by the CRD
  })

  it("the informer follows add, update and delete", async () => {
    await Effect.runPromise(kube.providers.synced)
    await create(provider("a", { type: "mock", defaultModel: "m1" }))
    await until(() => names().includes("a"), "add")
    await custom.patchNamespacedCustomObject(
      { group, version, namespace: "default", plural: "providers", name: "a", body: { spec: { defaultModel: "m2" } } },
      setHeaderOptions("Content-Type", "application/merge-patch+json")
    )
    const model = () => (kube.providers.items().find((o) => o.metadata?.name === "a") as { spec?: { defaultModel?: string } } | undefined)?.spec?.defaultModel
    await until(() => model() === "m2", "update")
    await custom.deleteNamespacedCustomObject({ group, version, namespace: "default", plural: "providers", name: "a" })
    await until(() => !names().includes("a"), "delete")
  })

  it("re-lists after a compaction and survives a restart of the API server mid-watch", async () => {
    await server.compact()
    await server.restart() // the watch breaks; resuming from a compacted resourceVersion answers 410
    await create(provider("after-restart", { type: "mock" }))
    await until(() => names().includes("after-restart"), "converged after 410 and restart", 20_000)
    expect(names()).toContain("anthropic") // kept throughout
  })

  it("the Tool informer sees Tool resources", async () => {
    await custom.createNamespacedCustomObject({
      group, version, namespace: "default", plural: "tools",
      body: { apiVersion: `${group}/${version}`, kind: "Tool", metadata: { name: "tickets" }, spec: { description: "Tickets", http: { url: "https://t.test/{{id}}" } } }
    })
    await until(() => kube.tools.items().some((o) => o.metadata?.name === "tickets"), "Tool seen")
    const tool = kube.tools.items().find((o) => o.metadata?.name === "tickets") as { spec: { http: { method: string; timeout: string } } }
    expect(tool.spec.http).toMatchObject({ method: "POST", timeout: "30s" }) // defaults from the CRD
  })

  it("keeps every field of Orka's Tool objects and runs Orka's CEL rules", async () => {
    const tool = (name: string, spec: object) => ({ apiVersion: `${group}/${version}`, kind: "Tool", metadata: { name }, spec })
    const createTool = (body: object) => custom.createNamespacedCustomObject({ group, version, namespace: "default", plural: "tools", body })
    const readTool = async (name: string) =>
      await custom.getNamespacedCustomObject({ group, version, namespace: "default", plural: "tools", name }) as { spec: object; status?: object }
    const http = { url: "https://git.test/{{repo}}", method: "GET", outboundAccessPolicyRef: { name: "egress" } }
    await createTool(tool("orka-http", { description: "Git", brokeredToolClass: "read", http }))
    // http with only auth settings beside an MCP workspace backend: valid for Orka
    const mcp = { workspace: { classRef: { name: "mcp-service" }, port: 8080 }, path: "/mcp" }
    const kc = new KubeConfig()
    kc.loadFromFile(server.kubeconfig)
    await createTool(tool("orka-mcp", { description: "MCP", brokeredToolClass: "coordination", http: { authSecretRef: { name: "m", key: "k" } }, mcp }))
    await createTool(tool("orka-actor", { description: "Actor", mcp: { substrateActor: { templateRef: { name: "t" }, poolRef: { name: "p" }, boot: true } } }))
    expect((await readTool("orka-http")).spec).toMatchObject({ brokeredToolClass: "read", http })
    expect((await readTool("orka-mcp")).spec).toMatchObject({ brokeredToolClass: "coordination", mcp })
    expect((await readTool("orka-actor")).spec).toMatchObject({ mcp: { substrateActor: { templateRef: { name: "t" }, poolRef: { name: "p" }, boot: true } } })

    // what Orka's controller writes into status survives the status subresource
    const status = {
      available: true,
      endpoint: "http://mcp.tools.svc:8080/mcp",
      workspace: { classRef: { name: "mcp-service" }, workspaceRef: { name: "ws-1", uid: "u-1" }, state: "Ready" },
      actor: { provider: "substrate", actorID: "a-1", routeHost: "a-1.actors", templateRef: { name: "t" }, poolRef: { name: "p" } }
    }
    await postJson(kc, `${server.url}/apis/${group}/${version}/namespaces/default/tools/orka-mcp/status`, { ...(await readTool("orka-mcp")), status }, "PUT")
    expect((await readTool("orka-mcp")).status).toEqual(status)

    for (const spec of [
      { description: "nothing to run" },
      { description: "no url", http: { method: "GET" } },
      { description: "both backends", mcp: { substrateActor: { templateRef: {} }, workspace: { classRef: { name: "c" }, port: 1 } } }
    ]) {
      await expect(createTool(tool("bad", spec)), JSON.stringify(spec)).rejects.toMatchObject({ code: 422 })
    }
  })

  it("writes status through the status subresource", async () => {
    await Effect.runPromise(api.patchProviderStatus("default", "anthropic", {
      ready: false,
      message: "Secret default/anthropic-api-key not found",
      conditions: [{ type: "Ready", status: "False", reason: "SecretNotFound", message: "m", lastTransitionTime: new Date().toISOString() }]
    }))
    const stored = await custom.getNamespacedCustomObject({ group, version, namespace: "default", plural: "providers", name: "anthropic" }) as { status?: { ready?: boolean; conditions?: Array<{ reason: string }> } }
    expect(stored.status).toMatchObject({ ready: false, conditions: [{ reason: "SecretNotFound" }] })
  })

  it("writes Tool status through the status subresource, a null error removing it", async () => {
    const at = new Date().toISOString()
    const read = async () =>
      (await custom.getNamespacedCustomObject({ group, version, namespace: "default", plural: "tools", name: "tickets" }) as {
        spec: { description: string }
        status?: { available?: boolean; error?: string; lastCheck?: string; conditions?: Array<{ reason: string }> }
      })
    await Effect.runPromise(api.patchToolStatus("default", "tickets", {
      available: false,
      lastCheck: at,
      error: "Secret default/t not found",
      conditions: [{ type: "Ready", status: "False", reason: "SecretNotFound", message: "Secret default/t not found", lastTransitionTime: at }]
    }))
    expect((await read()).status).toMatchObject({ available: false, error: "Secret default/t not found", lastCheck: at, conditions: [{ reason: "SecretNotFound" }] })
    await Effect.runPromise(api.patchToolStatus("default", "tickets", {
      available: true,
      lastCheck: at,
      error: null,
      conditions: [{ type: "Ready", status: "True", reason: "Available", message: "Tool is available", lastTransitionTime: at }]
    }))
    const stored = await read()
    expect(stored.status).toMatchObject({ available: true, conditions: [{ reason: "Available" }] })
    expect(stored.status?.error).toBeUndefined()
    expect(stored.spec.description).toBe("Tickets") // the status subresource leaves the spec alone
  })

  it("the ClientPolicy informer sees ClientPolicies, the CRD defaults their scope, and CEL refuses what the Schema refuses", async () => {
    const policyGroup = "gateway.orka.ai"
    const policy = (name: string, spec: object) => ({ apiVersion: `${policyGroup}/${version}`, kind: "ClientPolicy", metadata: { name }, spec })
    const createPolicy = (body: object) => custom.createNamespacedCustomObject({ group: policyGroup, version, namespace: "default", plural: "clientpolicies", body })
    await Effect.runPromise(kube.clientPolicies.synced)
    const example = parse(readFileSync(new URL("../../k8s/examples/client-policy.yaml", import.meta.url), "utf8").split("---")[1]!)
    await createPolicy({ ...example, metadata: { name: "reviewer" } })
    await until(() => kube.clientPolicies.items().some((o) => o.metadata?.name === "reviewer"), "ClientPolicy seen")
    const seen = kube.clientPolicies.items().find((o) => o.metadata?.name === "reviewer") as { spec: { scope: string; providers: Array<string> } }
    expect(seen.spec).toMatchObject({ scope: "caller", providers: ["anthropic"] }) // scope defaulted by the CRD

    const exactlyOne = "exactly one of serviceAccount, group or user is required"
    for (const [spec, says] of [
      [{ subjects: [{ serviceAccount: "team-a/*", user: "alice" }], limits: { tokensPerDay: 1 } }, exactlyOne],
      [{ subjects: [{}], limits: { tokensPerDay: 1 } }, exactlyOne],
      [{ subjects: [{ user: "alice" }], limits: {} }, "at least one limit is required"],
      [{ subjects: [{ serviceAccount: "agent" }], limits: { tokensPerDay: 1 } }, "should match"]
    ] as const) {
      await expect(createPolicy(policy("bad", spec)), JSON.stringify(spec)).rejects.toMatchObject({ code: 422, body: expect.stringContaining(says) })
    }

    const at = new Date().toISOString()
    await Effect.runPromise(api.patchClientPolicyStatus("default", "reviewer", {
      valid: true,
      message: "policy applies",
      conditions: [{ type: "Ready", status: "True", reason: "Valid", message: "policy applies", lastTransitionTime: at }]
    }))
    const stored = await custom.getNamespacedCustomObject({ group: policyGroup, version, namespace: "default", plural: "clientpolicies", name: "reviewer" }) as {
      status?: { valid?: boolean; conditions?: Array<{ reason: string }> }
    }
    expect(stored.status).toMatchObject({ valid: true, conditions: [{ reason: "Valid" }] })
  })
})
