/** An in-memory KubeClient whose objects tests change at will, like watch events would. */
import { Context, Effect, Layer } from "effect"
import { KubeClient, type KubeObject } from "../../src/kube/client.ts"
import { makeMemoryCache, type MemoryCache } from "../../src/kube/memory-cache.ts"

export class FakeKube extends Context.Service<FakeKube, {
  readonly providers: MemoryCache
  readonly secrets: MemoryCache
  readonly tools: MemoryCache
  readonly clientPolicies: MemoryCache
}>()("test/FakeKube") {}

export type FakeKubeHandle = typeof FakeKube.Service

/** Every cache, synced with `initial` (objects without a namespace land in `default`). */
export const makeFakeKube = (initial: ReadonlyArray<KubeObject> = []): Effect.Effect<FakeKubeHandle> =>
  Effect.gen(function*() {
    const providers = yield* makeMemoryCache
    const secrets = yield* makeMemoryCache
    const tools = yield* makeMemoryCache
    const clientPolicies = yield* makeMemoryCache
    const placed = initial.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: o.metadata?.namespace ?? "default" } }))
    yield* providers.replace(placed.filter((o) => o.kind === "Provider"))
    yield* secrets.replace(placed.filter((o) => o.kind === "Secret"))
    yield* tools.replace(placed.filter((o) => o.kind === "Tool"))
    yield* clientPolicies.replace(placed.filter((o) => o.kind === "ClientPolicy"))
    return { providers, secrets, tools, clientPolicies }
  })

export const fakeKubeClient = (fake: FakeKubeHandle) =>
  Layer.succeed(KubeClient, {
    providers: fake.providers.cache,
    secrets: fake.secrets.cache,
    tools: fake.tools.cache,
    clientPolicies: fake.clientPolicies.cache
  })

/** Provides both the KubeClient and the FakeKube handle. */
export const fakeKubeLayer = (initial: ReadonlyArray<KubeObject> = []) =>
  Layer.unwrap(Effect.map(makeFakeKube(initial), (fake) => Layer.merge(fakeKubeClient(fake), Layer.succeed(FakeKube, fake))))

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
