/**
 * Portkey's open-source gateway (npm @portkey-ai/gateway), the comparison: not a dependency of the
 * project, installed on first use into ~/.cache/orka-gateway/bench/portkey-<version> and started as
 * its own process (`build/start-server.js --port=N --headless`, NODE_ENV=production: no log UI).
 * Version: the newest on npm (1.9.8 is the only other one the registry offers).
 * It is pointed at the fake upstream per request: `x-portkey-provider: anthropic` and
 * `x-portkey-custom-host: <upstream>/<prefix>/v1` (its Anthropic base URL, to which it appends
 * `/messages`); the Authorization bearer becomes the upstream's `x-api-key`.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { type Child, freePort, startChild, waitFor200 } from "./processes.ts"

export const portkeyVersion = "1.15.2"

const dir = join(homedir(), ".cache", "orka-gateway", "bench", `portkey-${portkeyVersion}`)
const entry = join(dir, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js")

/**
 * Its web-server layer pinned to what Portkey's own package-lock.json (at 1.15.2) resolves: its
 * range `^1.3.3` resolves to @hono/node-server 1.19, whose lightweight Response keeps the upstream
 * fetch's immutable Headers, so every streamed answer fails ("TypeError: immutable", 500).
 */
const pins = { "@hono/node-server": "1.13.5", hono: "4.9.7" }

/** Installs Portkey if needed; throws with npm's complaint when it cannot. */
const install = () => {
  if (existsSync(entry)) return
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, dependencies: { "@portkey-ai/gateway": portkeyVersion }, overrides: pins }))
  // --ignore-scripts: its postinstall (patch-package) is for its own development tree
  execFileSync("npm", ["install", "--prefix", dir, "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel", "error"],
    { stdio: ["ignore", "ignore", "pipe"], timeout: 180_000 })
  if (!existsSync(entry)) throw new Error(`npm install left no ${entry}`)
}

export interface Portkey {
  readonly child: Child
  readonly port: number
  /** the request headers that send an OpenAI chat request to the Anthropic upstream under `prefix` */
  readonly headers: (upstreamPort: number, prefix: string) => Record<string, string>
}

export const startPortkey = async (): Promise<Portkey> => {
  try {
    install()
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim().split("\n").slice(-2).join(" ")
    throw new Error(`npm install @portkey-ai/gateway@${portkeyVersion} failed: ${stderr || (e as Error).message}`)
  }
  const port = await freePort()
  const child = startChild("portkey", process.execPath, [entry, `--port=${port}`, "--headless"], { env: { NODE_ENV: "production" }, stdout: "ignore" })
  await waitFor200(`http://127.0.0.1:${port}/`, 20_000, 50).catch(async (e: Error) => {
    await child.stop()
    throw e
  })
  return {
    child,
    port,
    headers: (upstreamPort, prefix) => ({
      "x-portkey-provider": "anthropic",
      "x-portkey-custom-host": `http://127.0.0.1:${upstreamPort}/${prefix}/v1`,
      authorization: "Bearer sk-bench-upstream"
    })
  }
}
