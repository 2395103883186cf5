/**
 * Another replica of a running test gateway: `orka-gateway serve` from the bin entry, in its own
 * process, over the first one's manifests and tokens (as the Deployment's second replica reads the
 * same cluster), with the flags given; resolved once it is ready.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { GatewayConfigShape } from "../../src/config.ts"
import { type RunningGateway, scriptedProviders, startGateway } from "./gateway.ts"
import { freePort } from "./host.ts"
import { type RealRedis, startRedis } from "./redis.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "./scripted-upstream.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))

export interface GatewayProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly openaiURL: string
  /** what it has written so far (its log lines), stdout and stderr */
  readonly output: () => string
}

/** `env` adds to this process's environment (an undefined value removes a variable); `flags` may set `--log-level` (default error). */
export const startGatewayProcess = async (
  gateway: RunningGateway,
  flags: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = {}
): Promise<GatewayProcess> => {
  const port = await freePort()
  const child = spawn(process.execPath, [
    "bin/orka-gateway.js", "serve", "--manifests", join(gateway.dir, "manifests"), "--token-auth-file", join(gateway.dir, "tokens.csv"),
    "--log-level", "error", ...flags, "--host", "127.0.0.1", "--port", String(port)
  ], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })
  let output = ""
  const keep = (chunk: Buffer) => void (output += chunk.toString())
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 15_000
  while ((await fetch(`${url}/readyz`).then((r) => r.status, () => 0)) !== 200) {
    if (Date.now() > deadline) throw new Error("the second gateway process did not become ready")
    await new Promise((r) => setTimeout(r, 50))
  }
  return { child, url, openaiURL: `${url}/openai/v1`, output: () => output }
}

export interface Replicas {
  readonly redis: RealRedis
  readonly upstream: ScriptedUpstream
  /** served in this process */
  readonly one: RunningGateway
  /** `orka-gateway serve` in its own */
  readonly two: GatewayProcess
  readonly close: () => Promise<void>
}

/**
 * The Deployment's two replicas sharing one real Redis: a gateway in this process and another in its
 * own, over the same manifests (`scriptedProviders` on one scripted upstream, `providers`, and `manifests`),
 * tokens and Redis, both with `claude` for bare models, tools off and no retries. `config` and
 * `flags` add the same settings to each, as a config and as flags.
 */
export const startReplicas = async (options: {
  readonly providers?: (upstreamURL: string) => Record<string, Record<string, unknown>>
  /** more manifest files (ClientPolicies), by file name */
  readonly manifests?: Record<string, string>
  readonly config?: Partial<GatewayConfigShape>
  readonly flags?: ReadonlyArray<string>
} = {}): Promise<Replicas> => {
  const redis = await startRedis()
  const upstream = await startScriptedUpstream()
  const one = await startGateway({
    manifests: { ...scriptedProviders(upstream.url, options.providers?.(upstream.url) ?? {}), ...options.manifests },
    config: { chatProvider: "claude", toolsDefault: "disabled", upstreamRetries: 0, redisUrl: redis.url, ...options.config }
  })
  const two = await startGatewayProcess(one, [
    "--chat-provider", "claude", "--tools-default", "disabled", "--upstream-retries", "0", "--redis-url", redis.url, ...(options.flags ?? [])
  ])
  return {
    redis,
    upstream,
    one,
    two,
    close: async () => {
      two.child.kill("SIGKILL")
      await one.close()
      await upstream.close()
      await redis.close()
    }
  }
}
