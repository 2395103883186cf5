/**
 * A small Kubernetes API server for tests, speaking the real REST and watch protocol closely enough
 * that @kubernetes/client-node runs against it unmodified: namespaced collections (list with a
 * resourceVersion, get, create, replace with conflict detection, delete), watches (newline-delimited
 * ADDED / MODIFIED / DELETED events, resumable from a resourceVersion, `410 Expired` after a
 * compaction), the status subresource with merge patches, TokenReview and SubjectAccessReview.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

type Obj = { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; creationTimestamp?: string; generation?: number }; [k: string]: unknown }

interface WatchEvent {
  readonly rv: number
  readonly type: "ADDED" | "MODIFIED" | "DELETED"
  readonly object: Obj
}

export interface Grant {
  readonly user?: string
  readonly group?: string
  readonly verb: string
  readonly resource: string
  readonly name?: string
  readonly namespace?: string
}

export interface FakeApiServer {
  readonly url: string
  /** a kubeconfig pointing at this server with the admin token */
  readonly kubeconfig: string
  /** token → user; a token may be limited to audiences */
  readonly tokens: Map<string, { username: string; uid?: string; groups?: Array<string>; audiences?: Array<string> }>
  readonly grants: Array<Grant>
  /** requests by "METHOD kind" (e.g. "POST tokenreviews", "PATCH providers/status", "GET providers") */
  readonly calls: Map<string, number>
  /** collections whose CRD is not installed: every request to one answers 404, as a real API server does */
  readonly uninstalled: Set<string>
  readonly put: (collection: string, object: Obj) => Obj
  readonly remove: (collection: string, namespace: string, name: string) => void
  readonly get: (collection: string, namespace: string, name: string) => Obj | undefined
  /** forget events up to now: watches resuming from before get 410 Expired */
  readonly compact: () => void
  /** close every open watch (as an API server restart would) */
  readonly dropWatches: () => void
  /** refuse connections for a while, then listen on the same port again */
  readonly outage: (ms: number) => Promise<void>
  readonly close: () => Promise<void>
}

const adminToken = "fake-admin-token"

/** `/apis/g/v/namespaces/ns/plural[/name[/status]]` or `/api/v1/namespaces/ns/plural[...]` */
const route = (path: string) => {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/([^/]+))\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(path)
  if (m === null) return undefined
  return { collection: m[4]!, namespace: m[3]!, name: m[5], subresource: m[6] }
}

const kinds: Record<string, { apiVersion: string; kind: string }> = {
  secrets: { apiVersion: "v1", kind: "Secret" },
  providers: { apiVersion: "core.orka.ai/v1alpha1", kind: "Provider" },
  tools: { apiVersion: "core.orka.ai/v1alpha1", kind: "Tool" },
  clientpolicies: { apiVersion: "gateway.orka.ai/v1alpha1", kind: "ClientPolicy" },
  leases: { apiVersion: "coordination.k8s.io/v1", kind: "Lease" }
}

const status = (res: ServerResponse, code: number, reason: string, message: string) => {
  res.writeHead(code, { "content-type": "application/json" })
  res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code }))
}

const readBody = (req: IncomingMessage) =>
  new Promise<any>((resolve) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      try {
        resolve(text === "" ? undefined : JSON.parse(text))
      } catch {
        resolve(undefined)
      }
    })
  })

const mergePatch = (target: any, patch: any): any => {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch
  const out = typeof target === "object" && target !== null && !Array.isArray(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

const matches = (pattern: string | undefined, value: string | undefined) => pattern === undefined || pattern === "*" || pattern === value

export const startFakeApiServer = async (): Promise<FakeApiServer> => {
  let rv = 100
  let compactedAt = 0
  let uid = 0
  const store = new Map<string, Map<string, Obj>>() // collection → "ns/name" → object
  const history = new Map<string, Array<WatchEvent>>()
  const watchers = new Set<{ collection: string; namespace: string; res: ServerResponse }>()
  const tokens: FakeApiServer["tokens"] = new Map()
  const grants: Array<Grant> = []
  const calls = new Map<string, number>()
  const uninstalled = new Set<string>()
  const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1)

  const objects = (collection: string) => {
    let m = store.get(collection)
    if (m === undefined) store.set(collection, (m = new Map()))
    return m
  }
  const emit = (collection: string, type: WatchEvent["type"], object: Obj) => {
    const event = { rv: Number(object.metadata.resourceVersion), type, object }
    const list = history.get(collection) ?? []
    list.push(event)
    history.set(collection, list)
    for (const w of watchers) {
      if (w.collection === collection && w.namespace === object.metadata.namespace) w.res.write(JSON.stringify({ type, object }) + "\n")
    }
  }
  const put = (collection: string, object: Obj): Obj => {
    const namespace = object.metadata.namespace ?? "default"
    const key = `${namespace}/${object.metadata.name}`
    const previous = objects(collection).get(key)
    const stored: Obj = {
      ...kinds[collection],
      ...object,
      metadata: {
        ...object.metadata,
        namespace,
        uid: previous?.metadata.uid ?? `uid-${++uid}`,
        creationTimestamp: previous?.metadata.creationTimestamp ?? new Date().toISOString(),
        generation: (previous?.metadata.generation ?? 0) + (previous === undefined || JSON.stringify(previous["spec"]) !== JSON.stringify(object["spec"]) ? 1 : 0),
        resourceVersion: String(++rv)
      }
    }
    objects(collection).set(key, stored)
    emit(collection, previous === undefined ? "ADDED" : "MODIFIED", stored)
    return stored
  }
  const remove = (collection: string, namespace: string, name: string) => {
    const existing = objects(collection).get(`${namespace}/${name}`)
    if (existing === undefined) return
    objects(collection).delete(`${namespace}/${name}`)
    emit(collection, "DELETED", { ...existing, metadata: { ...existing.metadata, resourceVersion: String(++rv) } })
  }

  const allowed = (review: any) => {
    const spec = review?.spec ?? {}
    const attrs = spec.resourceAttributes ?? {}
    return grants.some((g) =>
      (g.user === undefined || g.user === spec.user) &&
      (g.group === undefined || (spec.groups ?? []).includes(g.group)) &&
      matches(g.verb, attrs.verb) && matches(g.resource, attrs.resource) && matches(g.name, attrs.name) && matches(g.namespace, attrs.namespace))
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.authorization !== `Bearer ${adminToken}`) return status(res, 401, "Unauthorized", "Unauthorized")
    const url = new URL(req.url ?? "/", "http://x")
    const method = req.method ?? "GET"
    const body = await readBody(req)

    if (method === "POST" && url.pathname === "/apis/authentication.k8s.io/v1/tokenreviews") {
      count("POST tokenreviews")
      const user = tokens.get(body?.spec?.token)
      const wanted: Array<string> = body?.spec?.audiences ?? []
      const audienceOk = wanted.length === 0 || wanted.some((a) => (user?.audiences ?? ["https://kubernetes.default.svc"]).includes(a))
      const ok = user !== undefined && audienceOk
      res.writeHead(201, { "content-type": "application/json" })
      return res.end(JSON.stringify({
        kind: "TokenReview", apiVersion: "authentication.k8s.io/v1", metadata: { creationTimestamp: null }, spec: body?.spec,
        status: ok
          ? { authenticated: true, user: { username: user.username, uid: user.uid ?? `uid-${user.username}`, groups: user.groups ?? ["system:authenticated"] }, audiences: wanted.length ? wanted : ["https://kubernetes.default.svc"] }
          : { user: {}, error: "[invalid bearer token, token lookup failed]" }
      }))
    }
    if (method === "POST" && url.pathname === "/apis/authorization.k8s.io/v1/subjectaccessreviews") {
      count("POST subjectaccessreviews")
      const ok = allowed(body)
      res.writeHead(201, { "content-type": "application/json" })
      return res.end(JSON.stringify({
        kind: "SubjectAccessReview", apiVersion: "authorization.k8s.io/v1", metadata: { creationTimestamp: null }, spec: body?.spec,
        status: ok ? { allowed: true, reason: "granted by test rule" } : { allowed: false }
      }))
    }

    const r = route(url.pathname)
    if (r === undefined || kinds[r.collection] === undefined || uninstalled.has(r.collection)) return status(res, 404, "NotFound", `the server could not find the requested resource (${url.pathname})`)
    count(`${method} ${r.collection}${r.subresource ? `/${r.subresource}` : ""}`)
    const key = `${r.namespace}/${r.name}`

    if (method === "GET" && r.name === undefined) {
      if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
        const from = Number(url.searchParams.get("resourceVersion") ?? rv)
        res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" })
        // as a real API server does: the client counts the watch started (and an empty list synced) on these
        res.flushHeaders()
        if (from < compactedAt) {
          res.write(JSON.stringify({ type: "ERROR", object: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `too old resource version: ${from} (${compactedAt})`, reason: "Expired", code: 410 } }) + "\n")
          return res.end()
        }
        for (const e of history.get(r.collection) ?? []) {
          if (e.rv > from && e.object.metadata.namespace === r.namespace) res.write(JSON.stringify({ type: e.type, object: e.object }) + "\n")
        }
        const watcher = { collection: r.collection, namespace: r.namespace, res }
        watchers.add(watcher)
        res.on("close", () => watchers.delete(watcher))
        const timeout = Number(url.searchParams.get("timeoutSeconds") ?? 0)
        if (timeout > 0) setTimeout(() => res.end(), timeout * 1000).unref()
        return
      }
      const items = [...objects(r.collection).values()].filter((o) => o.metadata.namespace === r.namespace)
      res.writeHead(200, { "content-type": "application/json" })
      return res.end(JSON.stringify({ kind: `${kinds[r.collection]!.kind}List`, apiVersion: kinds[r.collection]!.apiVersion, metadata: { resourceVersion: String(rv) }, items }))
    }
    const existing = objects(r.collection).get(key)
    if (method === "GET") {
      if (existing === undefined) return status(res, 404, "NotFound", `${r.collection} "${r.name}" not found`)
      res.writeHead(200, { "content-type": "application/json" })
      return res.end(JSON.stringify(existing))
    }
    if (method === "POST") {
      const name = body?.metadata?.name
      if (objects(r.collection).has(`${r.namespace}/${name}`)) return status(res, 409, "AlreadyExists", `${r.collection} "${name}" already exists`)
      res.writeHead(201, { "content-type": "application/json" })
      return res.end(JSON.stringify(put(r.collection, { ...body, metadata: { ...body.metadata, namespace: r.namespace } })))
    }
    if (existing === undefined) return status(res, 404, "NotFound", `${r.collection} "${r.name}" not found`)
    if (method === "PUT") {
      if (body?.metadata?.resourceVersion !== undefined && body.metadata.resourceVersion !== existing.metadata.resourceVersion) {
        return status(res, 409, "Conflict", `Operation cannot be fulfilled on ${r.collection} "${r.name}": the object has been modified; please apply your changes to the latest version and try again`)
      }
      res.writeHead(200, { "content-type": "application/json" })
      return res.end(JSON.stringify(put(r.collection, { ...body, metadata: { ...existing.metadata, ...body.metadata } })))
    }
    if (method === "PATCH") {
      if (!String(req.headers["content-type"]).startsWith("application/merge-patch+json")) {
        return status(res, 415, "UnsupportedMediaType", `the body of the request was in an unknown format: ${String(req.headers["content-type"])}`)
      }
      // the status subresource changes only status; the main resource ignores status
      const patched = r.subresource === "status"
        ? { ...existing, status: mergePatch(existing["status"], body?.status) }
        : { ...mergePatch(existing, { ...body, status: undefined }), status: existing["status"] }
      res.writeHead(200, { "content-type": "application/json" })
      return res.end(JSON.stringify(put(r.collection, patched)))
    }
    if (method === "DELETE") {
      remove(r.collection, r.namespace, r.name!)
      res.writeHead(200, { "content-type": "application/json" })
      return res.end(JSON.stringify(existing))
    }
    return status(res, 405, "MethodNotAllowed", `${method} is not supported`)
  }

  let server = createServer((req, res) => void handle(req, res))
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const port = (server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}`
  const dir = mkdtempSync(join(tmpdir(), "fake-apiserver-"))
  const kubeconfig = join(dir, "kubeconfig")
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster: { server: url, "insecure-skip-tls-verify": true } }],
    users: [{ name: "admin", user: { token: adminToken } }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "admin", namespace: "default" } }],
    "current-context": "fake"
  }))

  const dropWatches = () => {
    for (const w of watchers) w.res.destroy()
    watchers.clear()
  }
  const close = () =>
    new Promise<void>((r) => {
      dropWatches()
      server.closeAllConnections()
      server.close(() => r())
    })

  return {
    url,
    kubeconfig,
    tokens,
    grants,
    calls,
    uninstalled,
    put,
    remove,
    get: (collection, namespace, name) => objects(collection).get(`${namespace}/${name}`),
    compact: () => {
      compactedAt = rv
      history.clear()
    },
    dropWatches,
    outage: async (ms) => {
      await close()
      await new Promise((r) => setTimeout(r, ms))
      server = createServer((req, res) => void handle(req, res))
      await new Promise<void>((r) => server.listen(port, "127.0.0.1", r))
    },
    close
  }
}
