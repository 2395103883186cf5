/**
 * Cluster mode end to end: the real server with its live layers (informers, TokenReview,
 * SubjectAccessReview, status writer, Lease) on @kubernetes/client-node, against the fake API server.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { clusterMode } from "../../src/app.ts"
import { type FakeApiServer, startFakeApiServer } from "../support/fake-apiserver.ts"
import { type RunningGateway, startGateway } from "../support/gateway.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

let api: FakeApiServer
let upstream: ScriptedUpstream
let gateway: RunningGateway

const provider = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "core.orka.ai/v1alpha1", kind: "Provider", metadata: { name, namespace: "default" }, spec
})
const secret = (name: string, key: string) => ({
  apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "default" }, data: { "api-key": Buffer.from(key).toString("base64") }
})
const clientFor = (token: string) => new OpenAI({ baseURL: gateway.openaiURL, apiKey: token, maxRetries: 0 })
const chat = (token: string, model: string) =>
  clientFor(token).chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] })
const until = async (check: () => boolean | Promise<boolean>, what: string, ms = 3_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
const providerStatus = (name: string) => api.get("providers", "default", name)?.["status"] as { ready?: boolean; conditions?: Array<{ reason: string; status: string }> } | undefined

beforeAll(async () => {
  api = await startFakeApiServer()
  upstream = await startScriptedUpstream()
  api.tokens.set("tok-alice", { username: "system:serviceaccount:team-a:agent", groups: ["system:serviceaccounts"] })
  api.tokens.set("tok-bob", { username: "bob" })
  api.tokens.set("tok-carol", { username: "carol" })
  api.grants.push(
    { user: "carol", verb: "create", resource: "chats", namespace: "default" },
    { user: "carol", verb: "use", resource: "providers", name: "mock", namespace: "default" },
    { user: "carol", verb: "use", resource: "tools", name: "code_exec", namespace: "default" },
    { user: "system:serviceaccount:team-a:agent", verb: "create", resource: "chats", namespace: "default" },
    { user: "system:serviceaccount:team-a:agent", verb: "list", resource: "chats", namespace: "default" },
    { user: "system:serviceaccount:team-a:agent", verb: "use", resource: "providers", name: "mock", namespace: "default" },
    { user: "system:serviceaccount:team-a:agent", verb: "use", resource: "providers", name: "gpt", namespace: "default" }
  )
  api.put("providers", provider("mock", { type: "mock", defaultModel: "m" }))
  api.put("providers", provider("other", { type: "mock", defaultModel: "m" }))
  api.put("providers", provider("gpt", { type: "openai", secretRef: { name: "gpt-key" }, baseURL: `${upstream.url}/v1` }))
  api.put("secrets", secret("gpt-key", "sk-first"))
  gateway = await startGateway({
    manifests: {},
    config: { manifests: undefined, tokenAuthFile: undefined, kubeconfig: api.kubeconfig, namespace: "default", authorizeProviders: true, authorizeTools: true, podName: "pod-1", toolsDefault: "disabled" },
    mode: clusterMode
  })
})
afterAll(async () => {
  await gateway.close()
  await upstream.close()
  await api.close()
})

describe("cluster mode", () => {
  it("authenticates by TokenReview and authorizes by SubjectAccessReview, with clear 401/403", async () => {
    const ok = await chat("tok-alice", "mock/m")
    expect(ok.choices[0]!.message.content).toBe("Echo: hi")
    await expect(chat("tok-nobody", "mock/m")).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    const denied = await chat("tok-bob", "mock/m").catch((e: unknown) => e) as InstanceType<typeof OpenAI.PermissionDeniedError>
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect(denied.message).toContain(`verb "create" on resource "chats" in API group "core.orka.ai" in namespace "default"`)
    expect(denied.message).not.toContain("tok-bob")
    const other = await chat("tok-alice", "other/m").catch((e: unknown) => e) as Error
    expect(other).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect(other.message).toContain(`verb "use" on resource "providers/other"`)
  })

  it("makes one TokenReview and one SubjectAccessReview per distinct check for a burst of requests", async () => {
    api.tokens.set("tok-burst", { username: "system:serviceaccount:team-a:agent", groups: ["system:serviceaccounts"] })
    const before = { tr: api.calls.get("POST tokenreviews") ?? 0, sar: api.calls.get("POST subjectaccessreviews") ?? 0 }
    const client = clientFor("tok-burst")
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 100 }, () => client.chat.completions.create({ model: "mock/m", messages: [{ role: "user", content: "x" }] })))
    }
    expect((api.calls.get("POST tokenreviews") ?? 0) - before.tr).toBe(1)
    // the identity's checks were cached by the first test: create chats, use providers/mock
    expect((api.calls.get("POST subjectaccessreviews") ?? 0) - before.sar).toBe(0)
  })

  it("applies Provider and Secret changes live: add, rotate the key, delete", async () => {
    api.put("providers", provider("late", { type: "mock", defaultModel: "m" }))
    api.grants.push({ user: "system:serviceaccount:team-a:agent", verb: "use", resource: "providers", name: "late" })
    await until(() => chat("tok-alice", "late/m").then(() => true, () => false), "new Provider served", 1_000)

    upstream.script({ answer: { text: ["ok"] } })
    await chat("tok-alice", "gpt/g")
    expect(upstream.requests.at(-1)!.headers["authorization"]).toBe("Bearer sk-first")
    api.put("secrets", secret("gpt-key", "sk-second"))
    await until(async () => {
      await chat("tok-alice", "gpt/g")
      return upstream.requests.at(-1)!.headers["authorization"] === "Bearer sk-second"
    }, "rotated key used")

    api.remove("providers", "default", "late")
    await until(() => chat("tok-alice", "late/m").then(() => false, (e: unknown) => e instanceof OpenAI.NotFoundError), "deleted Provider 404")
  })

  it("writes honest Provider status, as the leader, only on change", async () => {
    await until(() => providerStatus("mock")?.ready === true, "mock Ready")
    expect(providerStatus("mock")?.conditions).toMatchObject([{ type: "Ready", status: "True", reason: "Ready" }])
    expect(api.get("leases", "default", "orka-gateway-leader")?.["spec"]).toMatchObject({ holderIdentity: "pod-1" })

    api.put("providers", provider("broken", { type: "openai", secretRef: { name: "missing" } }))
    await until(() => providerStatus("broken")?.conditions?.[0]?.reason === "SecretNotFound", "SecretNotFound")

    upstream.script({ status: 401, body: { error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" } } })
    await chat("tok-alice", "gpt/g").catch(() => undefined)
    await until(() => providerStatus("gpt")?.conditions?.[0]?.reason === "UpstreamAuthFailed", "UpstreamAuthFailed")

    const writes = api.calls.get("PATCH providers/status") ?? 0
    await new Promise((r) => setTimeout(r, 600))
    expect(api.calls.get("PATCH providers/status")).toBe(writes) // nothing changed, nothing written
  })

  it("keeps serving from its caches while the API server is unreachable, and catches up after", async () => {
    const outage = api.outage(1_500)
    await new Promise((r) => setTimeout(r, 100))
    expect((await chat("tok-alice", "mock/m")).choices[0]!.message.content).toBe("Echo: hi")
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200)
    await outage
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
    expect(metrics).toMatch(/orka_kube_watch_errors_total\{[^}]*resource="(providers|secrets)"[^}]*\} [1-9]/)
    api.put("providers", provider("after", { type: "mock", defaultModel: "m" }))
    api.grants.push({ user: "system:serviceaccount:team-a:agent", verb: "use", resource: "providers", name: "after" })
    await until(() => chat("tok-alice", "after/m").then(() => true, () => false), "Provider added after the outage", 8_000)
  })

  it("offers each server-side tool only to callers who may use it (--authorize-tools)", async () => {
    const ask = (token: string) =>
      clientFor(token).chat.completions.create(
        { model: "mock/m", messages: [{ role: "user", content: "call_tool code_exec {\"language\":\"javascript\",\"code\":\"console.log(6*7)\"}" }] },
        { headers: { "X-Orka-Tools": "enabled" } }
      )
    // carol may use code_exec: the mock sees it offered and calls it
    expect((await ask("tok-carol")).choices[0]!.message.content).toMatch(/^Tool code_exec returned: .*42/)
    // the agent may chat but not use tools: no tool is offered, the mock echoes
    const echoed = (await ask("tok-alice")).choices[0]!.message.content
    expect(echoed).toMatch(/^Echo: call_tool code_exec/)
  })
})
