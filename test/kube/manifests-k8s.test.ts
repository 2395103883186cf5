/**
 * The deployment in k8s/, built as `kubectl apply -k k8s/` would build it, then checked object by
 * object; and the Dockerfile the Deployment's image comes from.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { parse, parseAllDocuments } from "yaml"
import { describe, expect, it } from "vitest"
import { settings } from "../../src/config.ts"
import { mallocEnv, nodeFlags } from "../../src/memory.ts"

// Manifests are YAML: the test reads them as loosely as kubectl does.
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any }
type Rule = { apiGroups: Array<string>; resources: Array<string>; verbs: Array<string>; resourceNames?: Array<string> }

const root = new URL("../../", import.meta.url)
const read = (file: string) => readFileSync(new URL(file, root), "utf8")
const documents = (file: string) => parseAllDocuments(read(file)).map((d) => d.toJS() as Obj).filter((o) => o !== null)

/** Kinds kustomize knows to be cluster-scoped among those we use; every other kind gets the namespace. */
const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"])

/** The kustomize features the base uses; anything else would make this in-process build lie. */
const supportedFields = new Set(["apiVersion", "kind", "namespace", "labels", "resources"])

interface Kustomization {
  apiVersion: string
  kind: string
  namespace: string
  resources: Array<string>
  labels?: Array<{ pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }>
}

const kustomization = parse(read("k8s/kustomization.yaml")) as Kustomization

/** kustomize's namespace and labels transformers, as `kubectl apply -k` runs them. */
const build = (k: Kustomization): Array<Obj> => {
  const labels = Object.assign({}, ...(k.labels ?? []).map((l) => l.pairs)) as Record<string, string>
  return k.resources.flatMap((file) => documents(`k8s/${file}`)).map((o) => ({
    ...o,
    metadata: {
      ...o.metadata,
      ...(clusterScoped.has(o.kind) ? {} : { namespace: k.namespace }),
      labels: { ...o.metadata.labels, ...labels }
    },
    // kustomize sets the namespace of (Cluster)RoleBinding subjects named `default` only
    ...(o.kind.endsWith("RoleBinding")
      ? { subjects: o["subjects"].map((s: { name: string }) => (s.name === "default" ? { ...s, namespace: k.namespace } : s)) }
      : {})
  }))
}

const objects = build(kustomization)
const all = (kind: string) => objects.filter((o) => o.kind === kind)
const find = (kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name)
  if (found === undefined) throw new Error(`the kustomization has no ${kind} ${name}`)
  return found
}
const sortedRules = (rules: Array<Rule>) =>
  rules.map((r) => ({ ...r, apiGroups: [...r.apiGroups].sort(), resources: [...r.resources].sort(), verbs: [...r.verbs].sort() }))

const deployment = find("Deployment", "orka-gateway")
const pod = deployment.spec.template.spec
const container = pod.containers[0]
const podLabels = deployment.spec.template.metadata.labels as Record<string, string>
const selects = (selector: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => podLabels[k] === v)

describe("k8s/kustomization.yaml", () => {
  it("uses only what this build understands, and lists files that exist", () => {
    expect(Object.keys(kustomization).filter((k) => !supportedFields.has(k))).toEqual([])
    expect(kustomization).toMatchObject({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", namespace: "orka-system" })
    for (const l of kustomization.labels ?? []) expect(l.includeSelectors ?? false, "labels must not rewrite selectors").toBe(false)
    for (const file of kustomization.resources) expect(existsSync(new URL(`k8s/${file}`, root)), file).toBe(true)
  })

  it("deploys every generated CRD, and no example", () => {
    const crds = readdirSync(new URL("k8s/crds", root)).map((f) => `crds/${f}`)
    expect(kustomization.resources.filter((r) => r.startsWith("crds/")).sort()).toEqual(crds.sort())
    expect(kustomization.resources.filter((r) => r.startsWith("examples/"))).toEqual([])
    expect(all("CustomResourceDefinition").map((o) => o.metadata.name).sort()).toEqual([
      "clientpolicies.gateway.orka.ai", "providers.core.orka.ai", "tools.core.orka.ai"
    ])
  })

  it("holds only known kinds, each object once, namespaced ones in orka-system", () => {
    const known = new Set([
      "v1/Namespace", "v1/ServiceAccount", "v1/Service", "apps/v1/Deployment", "policy/v1/PodDisruptionBudget",
      "rbac.authorization.k8s.io/v1/Role", "rbac.authorization.k8s.io/v1/RoleBinding",
      "rbac.authorization.k8s.io/v1/ClusterRole", "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
      "apiextensions.k8s.io/v1/CustomResourceDefinition"
    ])
    const ids = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`)
    expect(new Set(ids).size).toBe(ids.length)
    for (const o of objects) {
      expect(known.has(`${o.apiVersion}/${o.kind}`), `${o.apiVersion} ${o.kind}`).toBe(true)
      expect(o.metadata.namespace).toBe(clusterScoped.has(o.kind) ? undefined : "orka-system")
      expect(o.metadata.labels?.["app.kubernetes.io/part-of"]).toBe("orka-gateway")
    }
    expect(all("Namespace").map((o) => o.metadata.name)).toEqual([kustomization.namespace])
  })
})

describe("the gateway Deployment", () => {
  it("runs two replicas of the image with serve, the namespace from the downward API, and known flags", () => {
    expect(deployment.spec.replicas).toBe(2)
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true)
    expect(pod.containers).toHaveLength(1)
    expect(container.image).toBe("ghcr.io/orka-ai/orka-gateway:latest")
    expect(container.args).toEqual(["serve", "--port", "8080"])
    const flags = new Set(Object.values(settings).map((s) => s.flag))
    const envs = new Set(Object.values(settings).map((s) => s.env))
    for (const arg of container.args.filter((a: string) => a.startsWith("--"))) expect(flags.has(arg), arg).toBe(true)
    for (const env of container.env) expect(envs.has(env.name), env.name).toBe(true)
    const namespace = container.env.find((e: { name: string }) => e.name === "ORKA_NAMESPACE")
    expect(namespace).toEqual({ name: "ORKA_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } })
    expect(container.ports).toEqual([{ name: "http", containerPort: 8080 }])
  })

  it("is probed on /healthz and /readyz through the http port, and sized", () => {
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" })
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" })
    expect(Object.keys(container.resources.requests).sort()).toEqual(["cpu", "memory"])
    expect(container.resources.limits.memory).toMatch(/^\d+(Mi|Gi)$/)
  })

  it("runs hardened: non-root 10001, read-only root, no privilege escalation, no capabilities, default seccomp", () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } })
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } })
    expect(pod.hostNetwork ?? false).toBe(false)
    // the only writable place is /tmp, and it is not the node's disk without bound
    const tmp = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/tmp")
    const volume = pod.volumes.find((v: { name: string }) => v.name === tmp.name)
    expect(volume.emptyDir).toBeDefined()
    expect(volume.emptyDir.sizeLimit).toBeDefined()
  })

  it("waits for long streams on shutdown and spreads its replicas across nodes", () => {
    // readiness turns 503, the listener closes after the delay, then streams get the grace period
    const drain = Number(settings.shutdownDelay.default) + Number(settings.shutdownGracePeriod.default)
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drain)
    expect(pod.terminationGracePeriodSeconds).toBe(330)
    const spread = (pod.topologySpreadConstraints ?? []) as Array<{ topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }>
    const antiAffinity = (pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) as Array<{ podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } } }>
    const acrossNodes = [...spread, ...antiAffinity.map((a) => a.podAffinityTerm)]
      .filter((c) => c.topologyKey === "kubernetes.io/hostname" && selects(c.labelSelector.matchLabels))
    expect(acrossNodes.length).toBeGreaterThan(0)
    // a rollout never drops below the replicas that serve
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0)
  })

  it("runs as its own ServiceAccount, with the token mounted", () => {
    const account = find("ServiceAccount", pod.serviceAccountName)
    expect(account.metadata.namespace).toBe("orka-system")
    expect(pod.automountServiceAccountToken).toBe(true)
    expect(account.automountServiceAccountToken ?? true).toBe(true)
  })
})

describe("the gateway's RBAC", () => {
  const subjectIsGateway = (binding: Obj) =>
    expect(binding.subjects.map((s: { kind: string; name: string; namespace?: string }) => ({ ...s, namespace: s.namespace ?? binding.metadata.namespace })))
      .toEqual([{ kind: "ServiceAccount", name: pod.serviceAccountName, namespace: "orka-system" }])

  it("grants exactly what the gateway calls, in its namespace", () => {
    const bindings = all("RoleBinding").filter((b) => b.subjects.some((s: { name: string }) => s.name === pod.serviceAccountName))
    expect(bindings).toHaveLength(1)
    const binding = bindings[0]!
    subjectIsGateway(binding)
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "orka-gateway" })
    expect(sortedRules(find("Role", binding.roleRef.name).rules)).toEqual(sortedRules([
      { apiGroups: ["core.orka.ai"], resources: ["providers", "tools"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["core.orka.ai"], resources: ["providers/status", "tools/status"], verbs: ["patch", "update"] },
      { apiGroups: ["gateway.orka.ai"], resources: ["clientpolicies"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["gateway.orka.ai"], resources: ["clientpolicies/status"], verbs: ["patch"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }
    ]))
  })

  it("lets the gateway review tokens and access cluster-wide, and nothing more", () => {
    const bindings = all("ClusterRoleBinding").filter((b) => b.subjects.some((s: { name: string }) => s.name === pod.serviceAccountName))
    expect(bindings).toHaveLength(1)
    const binding = bindings[0]!
    subjectIsGateway(binding)
    expect(binding.roleRef).toMatchObject({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole" })
    expect(sortedRules(find("ClusterRole", binding.roleRef.name).rules)).toEqual([
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
      { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] }
    ])
  })

  it("gives people and agents orka-task-viewer: see Providers, Tools and ClientPolicies, chat, list models", () => {
    expect(sortedRules(find("ClusterRole", "orka-task-viewer").rules)).toEqual(sortedRules([
      { apiGroups: ["core.orka.ai"], resources: ["providers", "tools"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["gateway.orka.ai"], resources: ["clientpolicies"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["core.orka.ai"], resources: ["chats"], verbs: ["create", "list"] }
    ]))
  })

  it("names only resources that exist: the CRDs' plurals in their group, their status, and the gateway's virtual chats", () => {
    const resourcesOf = (group: string) => {
      const plurals = all("CustomResourceDefinition").filter((c) => c.spec.group === group).map((c) => c.spec.names.plural as string)
      return new Set([...plurals, ...plurals.map((p) => `${p}/status`), ...(group === "core.orka.ai" ? ["chats"] : [])])
    }
    const rules = [...all("Role"), ...all("ClusterRole"), ...documents("k8s/examples/chat-role.yaml").filter((o) => o.kind === "Role")]
      .flatMap((r) => r.rules as Array<Rule>)
    for (const rule of rules) {
      for (const group of rule.apiGroups.filter((g) => g.endsWith("orka.ai"))) {
        for (const resource of rule.resources) expect(resourcesOf(group).has(resource), `${group} ${resource}`).toBe(true)
      }
    }
  })
})

describe("the Service and the PodDisruptionBudget", () => {
  it("expose the pods on port 80 through the named http port", () => {
    const service = find("Service", "orka-gateway")
    expect(service.spec.type).toBe("ClusterIP")
    expect(selects(service.spec.selector)).toBe(true)
    expect(service.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http" }])
    expect(container.ports.map((p: { name: string }) => p.name)).toContain(service.spec.ports[0].targetPort)
  })

  it("keep one pod while nodes drain, without blocking drains", () => {
    const pdb = find("PodDisruptionBudget", "orka-gateway")
    expect(pdb.spec.minAvailable).toBe(1)
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas)
    expect(selects(pdb.spec.selector.matchLabels)).toBe(true)
  })
})

describe("k8s/examples", () => {
  it("chat-role.yaml lets one ServiceAccount chat, list models, and use one Provider and some tools", () => {
    const objs = documents("k8s/examples/chat-role.yaml")
    const account = objs.find((o) => o.kind === "ServiceAccount")!
    const role = objs.find((o) => o.kind === "Role")!
    const binding = objs.find((o) => o.kind === "RoleBinding")!
    expect(sortedRules(role.rules)).toEqual(sortedRules([
      { apiGroups: ["core.orka.ai"], resources: ["chats"], verbs: ["create", "list"] },
      { apiGroups: ["core.orka.ai"], resources: ["providers"], resourceNames: ["anthropic"], verbs: ["use"] },
      { apiGroups: ["core.orka.ai"], resources: ["tools"], resourceNames: ["web_fetch", "ticket"], verbs: ["use"] }
    ]))
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name })
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: account.metadata.name, namespace: account.metadata.namespace }])
    for (const o of objs) expect(o.metadata.namespace).toBe("orka-system")
    // the Provider it may use is the example one
    const provider = documents("k8s/examples/provider-anthropic.yaml").find((o) => o.kind === "Provider")!
    expect(role.rules.find((r: Rule) => r.resources.includes("providers")).resourceNames).toEqual([provider.metadata.name])
    // and the custom tool is the example one
    const tool = documents("k8s/examples/tool-http.yaml").find((o) => o.kind === "Tool")!
    expect(role.rules.find((r: Rule) => r.resources.includes("tools")).resourceNames).toContain(tool.metadata.name)
  })

  it("provider-anthropic.yaml pairs the Provider with the Secret it names", () => {
    const objs = documents("k8s/examples/provider-anthropic.yaml")
    const provider = objs.find((o) => o.kind === "Provider")!
    const secret = objs.find((o) => o.kind === "Secret")!
    expect(provider.spec.secretRef.name).toBe(secret.metadata.name)
    expect(Object.keys(secret.stringData)).toEqual([provider.spec.secretRef.key ?? "api-key"])
    expect(provider.metadata.namespace).toBe(secret.metadata.namespace)
  })
})

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile")
  const instructions = dockerfile.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"))
  const finalStage = instructions.slice(instructions.findLastIndex((l) => l.startsWith("FROM ")))

  it("builds on Node 24 and installs only production dependencies, without install scripts", () => {
    const bases = instructions.filter((l) => l.startsWith("FROM "))
    expect(bases.length).toBeGreaterThanOrEqual(2)
    for (const base of bases) expect(base).toMatch(/^FROM node:24-slim( AS \w+)?$/)
    expect(dockerfile).toContain("COPY package.json package-lock.json ./")
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev --ignore-scripts\b/m)
  })

  it("bundles the sources in a stage of its own, as npm run build does", () => {
    const build = instructions.slice(instructions.findIndex((l) => l === "FROM node:24-slim AS build"))
    expect(build.slice(0, build.findIndex((l, i) => i > 0 && l.startsWith("FROM ")))).toEqual(expect.arrayContaining([
      "COPY bin ./bin", "COPY src ./src", "COPY scripts/build.ts ./scripts/", "RUN node scripts/build.ts"
    ]))
    expect(JSON.parse(read("package.json")).scripts.build).toBe("node scripts/build.ts")
  })

  it("runs the bundle as a non-root numeric user, the same the Deployment asks for", () => {
    expect(finalStage).toContain("ENV NODE_ENV=production")
    expect(finalStage).toEqual(expect.arrayContaining(["COPY --from=build /app/dist ./dist", "COPY package.json ./"]))
    const user = finalStage.find((l) => l.startsWith("USER "))
    expect(user).toMatch(/^USER 10001(:10001)?$/)
    expect(Number(user!.slice(5).split(":")[0])).toBe(pod.securityContext.runAsUser)
    expect(finalStage.at(-2)).toMatch(/^ENTRYPOINT \["node", (.+, )?"dist\/orka-gateway.js"\]$/)
    expect(finalStage.at(-1)).toBe('CMD ["serve"]')
    expect(finalStage).toContain(`EXPOSE ${container.ports[0].containerPort}`)
    for (const file of ["bin/orka-gateway.js", "src/main.ts", "scripts/build.ts", "package-lock.json"]) expect(existsSync(new URL(file, root)), file).toBe(true)
  })

  it("starts the gateway with the malloc setting and Node flags of src/memory.ts, as npm start and the Nix image do", () => {
    const [name, value] = Object.entries(mallocEnv)[0]!
    expect(finalStage).toContain(`ENV ${name}=${value}`)
    expect(finalStage).toContain(`ENTRYPOINT ${JSON.stringify(["node", ...nodeFlags, "dist/orka-gateway.js"]).replaceAll(",", ", ")}`)
    expect(JSON.parse(read("package.json")).scripts.start).toContain(`${name}=${value} node ${nodeFlags.join(" ")} dist/orka-gateway.js serve`)
    expect(read("flake.nix")).toContain(`"${name}=${value}"`)
    expect(read("flake.nix")).toContain(`--add-flags "${nodeFlags.join(" ")} $out/lib/orka-gateway/bin/orka-gateway.js"`)
  })

  it("gets a small build context that still holds what it copies", () => {
    const ignored = read(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", ".git", "test"]))
    for (const needed of ["src", "bin", "package.json", "package-lock.json", "scripts"]) expect(ignored).not.toContain(needed)
    // scripts/ is left out but for the build script
    expect(ignored).toEqual(expect.arrayContaining(["scripts/*", "!scripts/build.ts"]))
  })
})
