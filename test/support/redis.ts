/**
 * A real Redis for the response store's Redis tier: Debian's redis-server on a free loopback port,
 * nothing saved to disk, in a temporary directory. `stop` and `start` again on the same port make an
 * outage. Install it with scripts/install-test-deps.sh (apt-get install redis-server).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort, onPath } from "./host.ts"


/** Why the Redis tier cannot run, or undefined when it can. */
export const redisMissing: string | undefined = onPath("redis-server")
  ? undefined
  : "redis-server is not installed (apt-get install redis-server, or run scripts/install-test-deps.sh)"
export const redisAvailable = redisMissing === undefined

export interface RealRedis {
  /** `redis://[:password@]127.0.0.1:port` */
  readonly url: string
  /** kills the server (an outage); the port stays this server's */
  readonly stop: () => Promise<void>
  /** starts it again, empty, on the same port */
  readonly start: () => Promise<void>
  /** freezes the server (SIGSTOP): connections stay open and commands get no answer; `resume` thaws it */
  readonly pause: () => void
  readonly resume: () => void
  readonly close: () => Promise<void>
}


/** Whether the server at `port` answers PING (after AUTH when it has a password). */
const answersPing = (port: number, password: string | undefined) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1")
    let reply = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on("error", () => done(false))
    socket.on("connect", () => socket.write(`${password === undefined ? "" : `AUTH ${password}\r\n`}PING\r\n`))
    socket.on("data", (chunk) => {
      reply += chunk.toString()
      if (reply.includes("+PONG")) done(true)
      else if (reply.startsWith("-")) done(false)
    })
  })

export const startRedis = async (options: { readonly password?: string } = {}): Promise<RealRedis> => {
  const dir = mkdtempSync(join(tmpdir(), "orka-redis-"))
  const port = await freePort()
  const password = options.password
  let server: ChildProcess | undefined
  let output = ""

  const start = async () => {
    output = ""
    const child = spawn("redis-server", [
      "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
      ...(password === undefined ? [] : ["--requirepass", password])
    ], { stdio: ["ignore", "pipe", "pipe"] })
    server = child
    const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-4000))
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    const deadline = Date.now() + 10_000
    while (!(await answersPing(port, password))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL")
        throw new Error(`redis-server did not come up on port ${port}:\n${output}`)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  const stop = () =>
    new Promise<void>((resolve) => {
      const child = server
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill("SIGKILL")
    })

  process.once("exit", () => server?.kill("SIGKILL"))
  await start()
  return {
    url: `redis://${password === undefined ? "" : `:${encodeURIComponent(password)}@`}127.0.0.1:${port}`,
    stop,
    start,
    pause: () => void server?.kill("SIGSTOP"),
    resume: () => void server?.kill("SIGCONT"),
    close: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
