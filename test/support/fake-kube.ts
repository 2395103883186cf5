/** An in-memory KubeClient whose objects tests change at will, like watch events would. */
import { Context, Effect, Layer } from "effect"
import { KubeClient, type KubeObject } from "../../src/kube/client.ts"
import { makeMemoryCache, type MemoryCache } from "../../src/kube/memory-cache.ts"

export class FakeKube extends Context.Service<FakeKube, {
  readonly providers: MemoryCache
  readonly secrets: MemoryCache
}>()("test/FakeKube") {}

/** Provides both the KubeClient and the FakeKube handle; both caches start synced with `initial`. */
export const fakeKubeLayer = (initial: ReadonlyArray<KubeObject> = []) => {
  const handle = Layer.effect(
    FakeKube,
    Effect.gen(function*() {
      const providers = yield* makeMemoryCache
      const secrets = yield* makeMemoryCache
      yield* providers.replace(initial.filter((o) => o.kind === "Provider"))
      yield* secrets.replace(initial.filter((o) => o.kind === "Secret"))
      return { providers, secrets }
    })
  )
  const client = Layer.effect(KubeClient, Effect.gen(function*() {
    const fake = yield* FakeKube
    return { providers: fake.providers.cache, secrets: fake.secrets.cache }
  }))
  return Layer.provideMerge(client, handle)
}

export const provider = (name: string, spec: Record<string, unknown>, namespace = "default"): KubeObject => ({
  apiVersion: "core.orka.ai/v1alpha1",
  kind: "Provider",
  metadata: { name, namespace, creationTimestamp: "2026-01-01T00:00:00Z" },
  spec
} as KubeObject)

export const secret = (name: string, data: Record<string, string>, namespace = "default"): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace },
  stringData: data
} as KubeObject)
