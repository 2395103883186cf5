/**
 * A real Redis for the response store's Redis tier: Debian's redis-server on a free loopback port,
 * nothing saved to disk, in a temporary directory. `stop` and `start` again on the same port make an
 * outage. With `tls`, it speaks only TLS, with a certificate from a CA made for it (openssl).
 * Install it with scripts/install-test-deps.sh (apt-get install redis-server).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { connect as tlsConnect } from "node:tls"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { encodeCommands } from "../../src/store/resp.ts"
import { freePort, onPath } from "./host.ts"


/** Why the Redis tier cannot run, or undefined when it can. */
export const redisMissing: string | undefined = onPath("redis-server")
  ? undefined
  : "redis-server is not installed (apt-get install redis-server, or run scripts/install-test-deps.sh)"
export const redisAvailable = redisMissing === undefined

export interface RealRedis {
  /** `redis://[:password@]127.0.0.1:port`, or `rediss://[:password@]localhost:port` with TLS */
  readonly url: string
  /** the PEM of the CA that signed the server's certificate (for NODE_EXTRA_CA_CERTS); undefined without TLS */
  readonly caFile: string | undefined
  /** kills the server (an outage); the port stays this server's */
  readonly stop: () => Promise<void>
  /** starts it again, empty, on the same port */
  readonly start: () => Promise<void>
  /** freezes the server (SIGSTOP): connections stay open and commands get no answer; `resume` thaws it */
  readonly pause: () => void
  readonly resume: () => void
  readonly close: () => Promise<void>
}


/**
 * A CA and a certificate it signs for localhost and 127.0.0.1, in `dir`: the server's certificate is
 * then checked as a real one is (chain and name), which a self-signed one would not show.
 */
const makeCertificates = (dir: string) => {
  const file = (name: string) => join(dir, name)
  const req = (args: ReadonlyArray<string>) =>
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", ...args], { stdio: "pipe" })
  req(["-keyout", file("ca.key"), "-out", file("ca.pem"), "-subj", "/CN=orka test CA"])
  req([
    "-keyout", file("server.key"), "-out", file("server.pem"), "-subj", "/CN=localhost", "-CA", file("ca.pem"), "-CAkey", file("ca.key"),
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"
  ])
  return { ca: file("ca.pem"), cert: file("server.pem"), key: file("server.key") }
}

/** Whether the server at `port` answers PING (after AUTH when it has a password), over TLS when given its CA. */
const answersPing = (port: number, password: string | undefined, ca: string | undefined) =>
  new Promise<boolean>((resolve) => {
    const socket = ca === undefined ? connect(port, "127.0.0.1") : tlsConnect({ port, host: "127.0.0.1", ca, servername: "localhost" })
    let reply = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on("error", () => done(false))
    // as RESP, not inline: a password may hold spaces
    socket.on(ca === undefined ? "connect" : "secureConnect", () => socket.write(encodeCommands([...(password === undefined ? [] : [["AUTH", password]]), ["PING"]])))
    socket.on("data", (chunk) => {
      reply += chunk.toString()
      if (reply.includes("+PONG")) done(true)
      else if (reply.startsWith("-")) done(false)
    })
  })

/** What `make` returns; should it throw, `dir` is removed first. */
const removingDirOnFailure = <A>(dir: string, make: () => A): A => {
  try {
    return make()
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
}

export const startRedis = async (options: { readonly password?: string; readonly tls?: boolean } = {}): Promise<RealRedis> => {
  const dir = mkdtempSync(join(tmpdir(), "orka-redis-"))
  const port = await freePort()
  const password = options.password
  // made once: a restarted server (`start`) keeps the certificate its clients already trust
  const certificates = options.tls === true ? removingDirOnFailure(dir, () => makeCertificates(dir)) : undefined
  const ca = certificates === undefined ? undefined : readFileSync(certificates.ca, "utf8")
  let server: ChildProcess | undefined
  let output = ""

  const start = async () => {
    output = ""
    const child = spawn("redis-server", [
      ...(certificates === undefined ? ["--port", String(port)] : [
        // TLS only: no plain port to fall back to
        "--port", "0", "--tls-port", String(port), "--tls-cert-file", certificates.cert, "--tls-key-file", certificates.key,
        "--tls-ca-cert-file", certificates.ca, "--tls-auth-clients", "no"
      ]),
      "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
      ...(password === undefined ? [] : ["--requirepass", password])
    ], { stdio: ["ignore", "pipe", "pipe"] })
    server = child
    const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-4000))
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    const deadline = Date.now() + 10_000
    while (!(await answersPing(port, password, ca))) {
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
  // a server that never came up leaves nothing behind
  await start().catch((e: unknown) => {
    rmSync(dir, { recursive: true, force: true })
    throw e
  })
  const credentials = password === undefined ? "" : `:${encodeURIComponent(password)}@`
  return {
    // by name with TLS: the name the certificate is checked against, as in production
    url: certificates === undefined ? `redis://${credentials}127.0.0.1:${port}` : `rediss://${credentials}localhost:${port}`,
    caFile: certificates?.ca,
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
