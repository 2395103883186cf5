/**
 * A real Kubernetes API server for custom resources: apiextensions-apiserver on etcd, both started
 * here on free loopback ports. It delegates auth to a small "core" stand-in (TokenReview,
 * SubjectAccessReview, and the Services list+watch it needs to start); we talk to it as admin with a
 * client certificate from a CA made with openssl.
 * Build the binary with scripts/apiextensions-apiserver.sh; install etcd with Debian's etcd-server.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { homedir, tmpdir } from "node:os"
import { join } from "node:path"
import { freePort, onPath } from "./host.ts"

export const apiServerBinary = join(process.env["ORKA_TEST_CACHE"] ?? join(homedir(), ".cache", "orka-gateway"), "apiextensions-apiserver", "bin", "apiextensions-apiserver")


/** What is missing to run the real API server tier, or undefined when everything is there. */
export const apiServerMissing = (): string | undefined => {
  if (!onPath("etcd")) return "etcd is not installed (apt-get install etcd-server)"
  if (!onPath("openssl")) return "openssl is not installed"
  if (!existsSync(apiServerBinary)) return `no ${apiServerBinary} (run scripts/apiextensions-apiserver.sh)`
  return undefined
}


const waitFor = async (check: () => Promise<boolean>, what: string, ms: number) => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what} did not come up within ${ms} ms`)
}

/** The core API the apiextensions-apiserver delegates to: every review allowed, no Services. */
const startCore = async (): Promise<Server> => {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x")
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    }
    req.resume()
    if (req.method === "POST" && url.pathname.endsWith("/tokenreviews")) {
      return json(201, { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", status: { authenticated: false } })
    }
    if (req.method === "POST" && url.pathname.endsWith("/subjectaccessreviews")) {
      return json(201, { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", status: { allowed: true } })
    }
    if (url.pathname === "/api/v1/services") {
      if (url.searchParams.get("watch") !== "true") return json(200, { kind: "ServiceList", apiVersion: "v1", metadata: { resourceVersion: "1" }, items: [] })
      res.writeHead(200, { "content-type": "application/json" })
      // a watch-list client waits for this bookmark before it considers the initial list done
      res.write(JSON.stringify({ type: "BOOKMARK", object: { kind: "Service", apiVersion: "v1", metadata: { resourceVersion: "1", annotations: { "k8s.io/initial-events-end": "true" } } } }) + "\n")
      return
    }
    json(404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return server
}

export interface RealApiServer {
  readonly url: string
  readonly kubeconfig: string
  /** makes every resourceVersion seen so far too old (a watch from one gets 410) */
  readonly compact: () => Promise<void>
  /** kills the API server and starts it again on the same port (etcd keeps the data) */
  readonly restart: () => Promise<void>
  readonly stop: () => Promise<void>
}

export const startApiServer = async (): Promise<RealApiServer> => {
  const dir = mkdtempSync(join(tmpdir(), "orka-apiserver-"))
  const ssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" })
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=orka-test-ca", "-keyout", "ca.key", "-out", "ca.crt")
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=system:masters/CN=admin", "-keyout", "admin.key", "-out", "admin.csr")
  ssl("x509", "-req", "-in", "admin.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-out", "admin.crt")

  const core = await startCore()
  const corePort = (core.address() as { port: number }).port
  writeFileSync(join(dir, "core.kubeconfig"), JSON.stringify({
    apiVersion: "v1", kind: "Config", "current-context": "core",
    clusters: [{ name: "core", cluster: { server: `http://127.0.0.1:${corePort}`, "insecure-skip-tls-verify": true } }],
    users: [{ name: "core", user: { token: "core" } }],
    contexts: [{ name: "core", context: { cluster: "core", user: "core" } }]
  }))

  const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()]
  const children: Array<ChildProcess> = []
  const start = (command: string, args: Array<string>) => {
    const child = spawn(command, args, { stdio: "ignore" })
    children.push(child)
    return child
  }
  mkdirSync(join(dir, "etcd"))
  start("etcd", [
    "--data-dir", join(dir, "etcd"),
    "--listen-client-urls", `http://127.0.0.1:${etcdClient}`, "--advertise-client-urls", `http://127.0.0.1:${etcdClient}`,
    "--listen-peer-urls", `http://127.0.0.1:${etcdPeer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${etcdPeer}`,
    "--initial-cluster", `default=http://127.0.0.1:${etcdPeer}`
  ])
  const etcd = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${etcdClient}/v3/${path}`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>)
  await waitFor(async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, "etcd", 10_000)

  const url = `https://127.0.0.1:${securePort}`
  const kubeconfig = join(dir, "admin.kubeconfig")
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: "v1", kind: "Config", "current-context": "admin",
    clusters: [{ name: "test", cluster: { server: url, "insecure-skip-tls-verify": true } }],
    users: [{ name: "admin", user: { "client-certificate": join(dir, "admin.crt"), "client-key": join(dir, "admin.key") } }],
    contexts: [{ name: "admin", context: { cluster: "test", user: "admin", namespace: "default" } }]
  }))

  let apiserver: ChildProcess | undefined
  const launch = async () => {
    apiserver = start(apiServerBinary, [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`, "--bind-address=127.0.0.1", `--secure-port=${securePort}`,
      `--cert-dir=${join(dir, "certs")}`, `--client-ca-file=${join(dir, "ca.crt")}`,
      `--kubeconfig=${join(dir, "core.kubeconfig")}`, `--authentication-kubeconfig=${join(dir, "core.kubeconfig")}`,
      `--authorization-kubeconfig=${join(dir, "core.kubeconfig")}`, "--authentication-skip-lookup",
      "--enable-priority-and-fairness=false",
      "--disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy"
    ])
    // readiness needs the admin certificate: the server asks the client for one
    await waitFor(async () => {
      execFileSync("curl", ["-sfk", "--cert", join(dir, "admin.crt"), "--key", join(dir, "admin.key"), `${url}/readyz`], { stdio: "ignore" })
      return true
    }, "apiextensions-apiserver", 20_000)
  }
  await launch()

  const stopChild = (child: ChildProcess | undefined) =>
    new Promise<void>((r) => {
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return r()
      child.once("exit", () => r())
      child.kill("SIGKILL")
    })

  const stop = async () => {
    await Promise.all(children.map(stopChild))
    core.closeAllConnections()
    await new Promise<void>((r) => core.close(() => r()))
    rmSync(dir, { recursive: true, force: true })
  }
  process.once("exit", () => children.forEach((c) => c.kill("SIGKILL")))

  return {
    url,
    kubeconfig,
    compact: async () => {
      const revision = (await etcd("kv/range", { key: Buffer.from("/").toString("base64") })).header.revision
      await etcd("kv/compaction", { revision, physical: true })
    },
    restart: async () => {
      await stopChild(apiserver)
      await launch()
    },
    stop
  }
}
