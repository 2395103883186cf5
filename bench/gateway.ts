/**
 * The gateway as production runs it: the bundle (`dist/orka-gateway.js serve`, built once per bench
 * process by scripts/build.ts, as `npm start` does), its own process, auth on.
 * Local mode reads the Providers below from a manifests directory and the caller's token from a
 * tokens.csv; cluster mode gets the same objects from the fake API server of test/support (TokenReview,
 * SubjectAccessReview and informers over HTTP), running in the bench's own process.
 * Providers: `claude` (anthropic) and `gpt` (openai) on the fake upstream, one pair per path prefix
 * (`claude`/`gpt` on /fast, `claude-held`/`gpt-held` on /held), all with the key of Secret `keys`.
 */
import { execFileSync } from "node:child_process"
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { mallocEnv, nodeFlags } from "../src/memory.ts"
import { providerYaml, secretYaml } from "../test/support/gateway.ts"
import { type FakeApiServer, startFakeApiServer } from "../test/support/fake-apiserver.ts"
import { type Child, freePort, startChild, waitFor200 } from "./processes.ts"

export const token = "bench-token-1"
const root = new URL("..", import.meta.url).pathname

let built = false
/** dist/orka-gateway.js, built from the sources as they are now (once per bench process). */
export const bundled = (): string => {
  if (!built) execFileSync(process.execPath, [join(root, "scripts", "build.ts")], { stdio: "inherit" })
  built = true
  return join(root, "dist", "orka-gateway.js")
}

/**
 * `prefixes`: Provider name suffix → upstream path prefix, e.g. { "": "fast", "-held": "held" };
 * `extra`: more of every Provider's spec (a `rateLimit`).
 */
const providers = (upstreamPort: number, prefixes: Record<string, string>, extra: Record<string, unknown> = {}) =>
  Object.entries(prefixes).flatMap(([suffix, prefix]) => [
    { name: `claude${suffix}`, spec: { type: "anthropic", secretRef: { name: "keys" }, baseURL: `http://127.0.0.1:${upstreamPort}/${prefix}`, defaultModel: "claude-test", ...extra } },
    { name: `gpt${suffix}`, spec: { type: "openai", secretRef: { name: "keys" }, baseURL: `http://127.0.0.1:${upstreamPort}/${prefix}/v1`, defaultModel: "gpt-test", ...extra } }
  ])

/**
 * Limits that a bench never reaches but that are all checked: a Provider's rate limit and a
 * ClientPolicy of the caller's with each kind of limit, on the `-limited` twin of every Provider
 * (local mode only), so that one gateway serves the same request with and without limits.
 */
const unreachedLimits = {
  rateLimit: { requestsPerMinute: 1_000_000_000, tokensPerMinute: 1_000_000_000 },
  policy: (providers: ReadonlyArray<string>) => JSON.stringify({
    apiVersion: "gateway.orka.ai/v1alpha1",
    kind: "ClientPolicy",
    metadata: { name: "bench" },
    spec: {
      subjects: [{ user: "bench" }],
      providers,
      limits: { requestsPerMinute: 1_000_000_000, tokensPerMinute: 1_000_000_000, tokensPerDay: 1_000_000_000, tokensPerMonth: 1_000_000_000, concurrentRequests: 100_000 }
    }
  })
}

export interface Gateway {
  readonly child: Child
  readonly port: number
  /** milliseconds from spawn to the first 200 of /readyz */
  readonly readyMs: number
  readonly stop: () => Promise<void>
}

export const startGateway = async (options: {
  readonly upstreamPort: number
  readonly prefixes: Record<string, string>
  readonly mode?: "local" | "cluster"
  readonly flags?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  /** every Provider also as `<name>-limited`, under limits never reached (see `unreachedLimits`) */
  readonly limited?: boolean
  /** the command it runs under and its arguments, ending with the Node to run (callgrind, for bench/instructions.ts) */
  readonly under?: ReadonlyArray<string>
  /** how long it may take to become ready (ms; 30 s by default) */
  readonly readyTimeoutMs?: number
}): Promise<Gateway> => {
  const dir = mkdtempSync(join(tmpdir(), "orka-bench-"))
  const free = providers(options.upstreamPort, options.prefixes)
  const limited = options.limited === true
    ? providers(options.upstreamPort, options.prefixes, { rateLimit: unreachedLimits.rateLimit }).map((p) => ({ ...p, name: `${p.name}-limited` }))
    : []
  const list = [...free, ...limited]
  let api: FakeApiServer | undefined
  let modeFlags: Array<string>
  if (options.mode === "cluster") {
    api = await startFakeApiServer()
    api.tokens.set(token, { username: "bench", groups: ["bench"] })
    api.grants.push({ user: "bench", verb: "create", resource: "chats", namespace: "default" })
    api.put("secrets", { apiVersion: "v1", kind: "Secret", metadata: { name: "keys", namespace: "default" }, data: { "api-key": Buffer.from("sk-bench-upstream").toString("base64") } })
    for (const p of list) api.put("providers", { apiVersion: "core.orka.ai/v1alpha1", kind: "Provider", metadata: { name: p.name, namespace: "default" }, spec: p.spec })
    modeFlags = ["--kubeconfig", api.kubeconfig, "--namespace", "default", "--pod-name", "bench"]
  } else {
    const policies = limited.length > 0 ? [unreachedLimits.policy(limited.map((p) => p.name))] : []
    writeFileSync(join(dir, "providers.yaml"), [secretYaml("keys", { "api-key": "sk-bench-upstream" }), ...list.map((p) => providerYaml(p.name, p.spec)), ...policies].join("\n---\n"))
    writeFileSync(join(dir, "tokens.csv"), `${token},bench,u-1,"bench"\n`)
    modeFlags = ["--manifests", join(dir, "providers.yaml"), "--token-auth-file", join(dir, "tokens.csv")]
  }
  const port = await freePort()
  const gateway = bundled()
  const started = performance.now()
  // its JSON log (the default level: an access log line per request) goes to a file, named in the error if it does not start
  const log = join(dir, "gateway.log")
  const logFd = openSync(log, "w")
  const [command, ...under] = options.under ?? [process.execPath, ...nodeFlags]
  const child = startChild("gateway", command!, [
    ...under, gateway, "serve", ...modeFlags, "--host", "127.0.0.1", "--port", String(port), ...(options.flags ?? [])
  ], { stdout: logFd, cwd: root, env: { ...options.env, ...mallocEnv } })
  closeSync(logFd)
  try {
    await waitFor200(`http://127.0.0.1:${port}/readyz`, options.readyTimeoutMs ?? 30_000, 5)
  } catch (e) {
    await child.stop()
    await api?.close()
    throw new Error(`the gateway did not become ready (log: ${log}): ${(e as Error).message}`)
  }
  const readyMs = performance.now() - started
  return {
    child,
    port,
    readyMs,
    // killed at once: its graceful shutdown waits --shutdown-delay (5 s), which nothing here measures
    stop: async () => {
      await child.stop(0)
      await api?.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
