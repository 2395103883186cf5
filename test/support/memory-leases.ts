/** The Lease half of KubeApi in memory, with optimistic concurrency, shared by several "replicas". */
import { Effect } from "effect"
import { KubeApiError, type KubeApiShape, type Lease } from "../../src/kube/api.ts"

export const memoryLeases = (leases: Map<string, Lease>): Pick<KubeApiShape, "getLease" | "writeLease"> => {
  let version = 0
  return {
    getLease: (_ns, name) => Effect.sync(() => leases.get(name)),
    writeLease: (_ns, name, holder, durationSeconds, previous) =>
      Effect.suspend(() => {
        const current = leases.get(name)
        if (current?.resourceVersion !== previous?.resourceVersion) {
          return Effect.fail(new KubeApiError({ message: "conflict", status: 409 }))
        }
        const lease = { holder, durationSeconds, renewedAt: Date.now(), resourceVersion: String(++version) }
        leases.set(name, lease)
        return Effect.succeed(lease)
      })
  }
}
