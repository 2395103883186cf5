/**
 * k8s/components/redis, built by the real kustomize (`kubectl kustomize`) on top of k8s/, as an
 * operator's kustomization would include it: one Redis in the gateway's namespace, and the gateway's
 * replicas pointed at it. The tier skips loudly where kubectl is not installed.
 */
import { describe, expect, it } from "vitest"
import { kustomizeWith, missing } from "../support/host.ts"

const kubectlMissing = missing("kubectl", ["version", "--client"], "kubectl, for its kustomize")
if (kubectlMissing !== undefined) {
  console.warn(`\n*** SKIPPING the Redis kustomize component build: ${kubectlMissing}. k8s/components/redis is not checked in this run. ***\n`)
}

describe.skipIf(kubectlMissing !== undefined)("k8s/components/redis", () => {
  const built = () => kustomizeWith("redis")

  it("adds one Redis in the gateway's namespace and points every gateway replica at its Service", () => {
    const objects = built()
    const redis = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "orka-redis")
    const service = objects.find((o) => o.kind === "Service" && o.metadata.name === "orka-redis")
    const gateway = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "orka-gateway")
    for (const o of [redis, service]) expect(o.metadata).toMatchObject({ namespace: "orka-system", labels: { "app.kubernetes.io/part-of": "orka-gateway" } })
    expect(service.spec.selector).toEqual(redis.spec.template.metadata.labels)
    const env = gateway.spec.template.spec.containers[0].env
    expect(env).toContainEqual({ name: "ORKA_REDIS_URL", value: `redis://${service.metadata.name}:${service.spec.ports[0].port}` })
    // the base's own env is kept beside it
    expect(env.map((e: { name: string }) => e.name)).toContain("ORKA_NAMESPACE")
    expect(gateway.spec.replicas).toBe(2)
  })

  it("runs Redis hardened, without persistence, its memory capped, keeping the keys in use when full", () => {
    const redis = built().find((o) => o.kind === "Deployment" && o.metadata.name === "orka-redis")
    const container = redis.spec.template.spec.containers[0]
    expect(redis.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true })
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } })
    expect(container.args).toEqual(expect.arrayContaining(["--appendonly", "no", "--maxmemory-policy", "volatile-lru"]))
    expect(container.resources.limits.memory).toBeDefined()
  })
})
