/**
 * Starts the real gateway (the same layers `main.ts` serves) on a loopback port, in local mode over
 * a temporary manifests directory, for integration tests driven by the official SDKs.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { appLayer, type ModeLayers, localMode } from "../../src/app.ts"
import { type GatewayConfigShape } from "../../src/config.ts"
import { testConfig } from "./config.ts"
import { parseManifests } from "../../src/kube/manifests.ts"
import { answerClientErrors } from "../../src/server.ts"
import { fakeKubeClient, makeFakeKube } from "./fake-kube.ts"

export const demoToken = "test-token-1"

/** Where the gateway reads Providers and Secrets from: files (local mode) or the in-memory fake. */
export type KubeSource = "manifests" | "fake"

export interface RunningGateway {
  readonly url: string
  /** base URL for the `openai` SDK */
  readonly openaiURL: string
  readonly dir: string
  readonly lifecycle: { draining: boolean }
  /** adds or replaces objects (given as manifest text), as `kubectl apply` would */
  readonly apply: (file: string, yaml: string) => Promise<void>
  readonly close: () => Promise<void>
  /** a POST as a plain client sends it, with the caller's token (overridable in `headers`) */
  readonly post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<PlainAnswer>
}

export interface PlainAnswer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

export const startGateway = async (options: {
  readonly manifests: Record<string, string>
  readonly config?: Partial<GatewayConfigShape>
  /** the mode's layers (default: local mode over the manifests), e.g. cluster mode against a fake API server */
  readonly mode?: (config: GatewayConfigShape) => ModeLayers
  readonly kube?: KubeSource
  /** the caller's token (default `demoToken`) */
  readonly token?: string
  /** more callers, as token → user name */
  readonly otherTokens?: Readonly<Record<string, string>>
}): Promise<RunningGateway> => {
  const dir = mkdtempSync(join(tmpdir(), "orka-gw-"))
  const manifestsDir = join(dir, "manifests")
  mkdirSync(manifestsDir)
  for (const [file, yaml] of Object.entries(options.manifests)) writeFileSync(join(manifestsDir, file), yaml)
  const tokens = join(dir, "tokens.csv")
  const others = Object.entries(options.otherTokens ?? {}).map(([token, user], i) => `${token},${user},u-${i + 2},"team-b"\n`)
  writeFileSync(tokens, [`${options.token ?? demoToken},alice,u-1,"team-a"\n`, ...others].join(""))

  const config = testConfig({
    manifests: manifestsDir,
    tokenAuthFile: tokens,
    auth: "auto",
    logLevel: "error",
    ...options.config
  })
  const lifecycle = { draining: false }
  const fake = options.kube === "fake"
    ? await Effect.runPromise(makeFakeKube(Object.values(options.manifests).flatMap((yaml) => parseManifests(yaml, "fixture"))))
    : undefined
  const mode = options.mode?.(config) ?? { ...localMode(config), ...(fake === undefined ? {} : { kube: fakeKubeClient(fake) }) }
  const layer = appLayer({ config, lifecycle, ...mode }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => answerClientErrors(createServer()), { host: "127.0.0.1", port: 0 }))
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag === "UnixPathAddress") throw new Error("expected a TCP address")
  const url = `http://127.0.0.1:${address.port}`
  // like a load balancer: wait for readiness before sending traffic
  const deadline = Date.now() + 5_000
  while ((await fetch(`${url}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error("the gateway did not become ready")
    await new Promise((r) => setTimeout(r, 10))
  }
  return {
    url,
    openaiURL: `${url}/openai/v1`,
    dir,
    lifecycle,
    apply: async (file, yaml) => {
      if (fake === undefined) return writeFileSync(join(manifestsDir, file), yaml)
      for (const object of parseManifests(yaml, file)) {
        const cache = object.kind === "Secret" ? fake.secrets : object.kind === "Tool" ? fake.tools : fake.providers
        await Effect.runPromise(cache.upsert({ ...object, metadata: { ...object.metadata, namespace: "default" } }))
      }
    },
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
    post: async (path, body, headers = {}) => {
      const res = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${options.token ?? demoToken}`, "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body)
      })
      return { status: res.status, headers: res.headers, text: await res.text() }
    }
  }
}

export const providerYaml = (name: string, spec: Record<string, unknown>): string =>
  JSON.stringify({ apiVersion: "core.orka.ai/v1alpha1", kind: "Provider", metadata: { name }, spec })

export const secretYaml = (name: string, data: Record<string, string>): string =>
  JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name }, stringData: data })

/**
 * The Providers most tests run against: `claude` (Anthropic) and `gpt` (OpenAI) on a scripted
 * upstream at `url`, with the key in Secret `keys`, plus the `mock`; `extra` adds more Provider specs
 * by name.
 */
export const scriptedProviders = (url: string, extra: Record<string, Record<string, unknown>> = {}): Record<string, string> => ({
  "keys.yaml": secretYaml("keys", { "api-key": "sk-upstream-secret" }),
  "providers.yaml": [
    providerYaml("claude", { type: "anthropic", secretRef: { name: "keys" }, baseURL: url, defaultModel: "claude-test" }),
    providerYaml("gpt", { type: "openai", secretRef: { name: "keys" }, baseURL: `${url}/v1`, defaultModel: "gpt-test" }),
    providerYaml("mock", { type: "mock", defaultModel: "mock-1" }),
    ...Object.entries(extra).map(([name, spec]) => providerYaml(name, spec))
  ].join("\n---\n")
})

/** Everything written to stdout from now on (the gateway's log lines), until `stop`. */
export const captureStdout = () => {
  const written = process.stdout.write.bind(process.stdout)
  let text = ""
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: Array<never>) => {
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString()
    return written(chunk, ...rest)
  }) as typeof process.stdout.write
  return {
    text: () => text,
    /** the JSON log lines of one request, by its id */
    lines: (requestId: string): Array<Record<string, unknown>> =>
      text.split("\n").filter((l) => l.includes(`"request_id":"${requestId}"`)).map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: () => void (process.stdout.write = written)
  }
}
