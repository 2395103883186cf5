/** The deployment in k8s/: built like `kubectl apply -k k8s/` would, then checked object by object. */
import { readFileSync } from "node:fs"
import { parse, parseAllDocuments } from "yaml"
import { describe, expect, it } from "vitest"

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any }
const root = new URL("../../k8s/", import.meta.url)
const read = (file: string) => readFileSync(new URL(file, root), "utf8")

const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"])

/** The subset of kustomize the base uses: resources, namespace, labels. */
const build = (): Array<Obj> => {
  const k = parse(read("kustomization.yaml")) as { namespace: string; resources: Array<string>; labels: Array<{ pairs: Record<string, string> }> }
  return k.resources.flatMap((file) => parseAllDocuments(read(file)).map((d) => d.toJS() as Obj)).map((o) => ({
    ...o,
    metadata: {
      ...o.metadata,
      ...(clusterScoped.has(o.kind) ? {} : { namespace: k.namespace }),
      labels: { ...o.metadata.labels, ...Object.assign({}, ...k.labels.map((l) => l.pairs)) }
    }
  }))
}

const objects = build()
const find = (kind: string, name?: string) => {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name))
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ""}`)
  return found
}

const known = new Set([
  "v1/Namespace", "v1/ServiceAccount", "v1/Service", "apps/v1/Deployment", "policy/v1/PodDisruptionBudget",
  "rbac.authorization.k8s.io/v1/Role", "rbac.authorization.k8s.io/v1/RoleBinding",
  "rbac.authorization.k8s.io/v1/ClusterRole", "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
  "apiextensions.k8s.io/v1/CustomResourceDefinition"
])

describe("k8s/ kustomization", () => {
  it("holds only known kinds, everything namespaced in orka-system", () => {
    expect(objects.length).toBe(12)
    for (const o of objects) {
      expect(known.has(`${o.apiVersion}/${o.kind}`), `${o.apiVersion}/${o.kind}`).toBe(true)
      if (!clusterScoped.has(o.kind)) expect(o.metadata.namespace).toBe("orka-system")
    }
  })

  it("runs the gateway hardened, probed, and with time for long streams", () => {
    const d = find("Deployment", "orka-gateway")
    const pod = d.spec.template.spec
    const c = pod.containers[0]
    expect(d.spec.replicas).toBe(2)
    expect(pod.serviceAccountName).toBe("orka-gateway")
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } })
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } })
    expect(c.livenessProbe.httpGet.path).toBe("/healthz")
    expect(c.readinessProbe.httpGet.path).toBe("/readyz")
    expect(c.resources.requests).toBeDefined()
    expect(c.resources.limits.memory).toBeDefined()
    // shutdown delay (5 s) + grace period (300 s) fit in the kubelet's wait
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(305)
    expect(c.env.find((e: { name: string }) => e.name === "ORKA_NAMESPACE").valueFrom.fieldRef.fieldPath).toBe("metadata.namespace")
  })

  it("grants the gateway exactly what it uses", () => {
    const role = find("Role", "orka-gateway")
    expect(role.rules).toEqual([
      { apiGroups: ["core.orka.ai"], resources: ["providers", "tools"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["core.orka.ai"], resources: ["providers/status", "tools/status"], verbs: ["get", "patch", "update"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }
    ])
    expect(find("ClusterRole", "orka-gateway-reviewer").rules).toEqual([
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
      { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] }
    ])
    for (const [kind, name] of [["RoleBinding", "orka-gateway"], ["ClusterRoleBinding", "orka-gateway-reviewer"]] as const) {
      expect(find(kind, name).subjects).toEqual([{ kind: "ServiceAccount", name: "orka-gateway", ...(kind === "ClusterRoleBinding" ? { namespace: "orka-system" } : {}) }])
    }
    find("ServiceAccount", "orka-gateway")
  })

  it("lets users chat with the orka-task-viewer ClusterRole", () => {
    const rules = find("ClusterRole", "orka-task-viewer").rules as Array<{ resources: Array<string>; verbs: Array<string> }>
    expect(rules.find((r) => r.resources.includes("chats"))?.verbs).toEqual(["create", "list"])
  })

  it("selects the gateway's pods from the Service and the PodDisruptionBudget", () => {
    const labels = find("Deployment").spec.template.metadata.labels
    for (const selector of [find("Service").spec.selector, find("PodDisruptionBudget").spec.selector.matchLabels]) {
      for (const [k, v] of Object.entries(selector)) expect(labels[k]).toBe(v)
    }
    expect(find("Service").spec.ports[0].targetPort).toBe(find("Deployment").spec.template.spec.containers[0].ports[0].name)
  })
})

describe("Dockerfile", () => {
  it("builds a non-root Node 24 image that runs `serve`", () => {
    const dockerfile = readFileSync(new URL("../../Dockerfile", import.meta.url), "utf8")
    expect(dockerfile).toMatch(/^FROM node:24-slim AS deps$/m)
    expect(dockerfile).toMatch(/^USER 10001/m)
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/orka-gateway.js"]')
    expect(find("Deployment").spec.template.spec.securityContext.runAsUser).toBe(10001)
  })
})
