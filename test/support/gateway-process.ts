/**
 * Another replica of a running test gateway: `orka-gateway serve` from the bin entry, in its own
 * process, over the first one's manifests and tokens (as the Deployment's second replica reads the
 * same cluster), with the flags given; resolved once it is ready.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { RunningGateway } from "./gateway.ts"
import { freePort } from "./host.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))

export interface GatewayProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly openaiURL: string
}

export const startGatewayProcess = async (gateway: RunningGateway, flags: ReadonlyArray<string>): Promise<GatewayProcess> => {
  const port = await freePort()
  const child = spawn(process.execPath, [
    "bin/orka-gateway.js", "serve", "--manifests", join(gateway.dir, "manifests"), "--token-auth-file", join(gateway.dir, "tokens.csv"),
    ...flags, "--host", "127.0.0.1", "--port", String(port), "--log-level", "error"
  ], { cwd: root, stdio: "ignore" })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 15_000
  while ((await fetch(`${url}/readyz`).then((r) => r.status, () => 0)) !== 200) {
    if (Date.now() > deadline) throw new Error("the second gateway process did not become ready")
    await new Promise((r) => setTimeout(r, 50))
  }
  return { child, url, openaiURL: `${url}/openai/v1` }
}
