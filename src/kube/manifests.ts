/**
 * Local mode: the KubeClient read from manifest files (Providers, Secrets, Tools and ClientPolicies),
 * the same YAML one would `kubectl apply`
 * (multi-document files, `kind: List`, a file or a directory of `.yaml`/`.yml`/`.json` files).
 * Files are re-read when they change; a file that stops parsing keeps its last good objects.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import { existsSync, readdirSync, readFileSync, statSync, watch } from "node:fs"
import { basename, dirname, extname, join, resolve } from "node:path"
import { parseAllDocuments } from "yaml"
import { GatewayConfig } from "../config.ts"
import { KubeClient, type KubeObject } from "./client.ts"
import { makeMemoryCache } from "./memory-cache.ts"

const manifestExtensions = new Set([".yaml", ".yml", ".json"])

export class ManifestError extends Error {}

/** The objects in one file's text; `kind: List` is flattened. Throws ManifestError on bad YAML. */
export const parseManifests = (text: string, file: string): ReadonlyArray<KubeObject> => {
  const objects: Array<KubeObject> = []
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new ManifestError(`${file}: ${doc.errors[0]!.message.split("\n")[0]}`)
    const value = doc.toJS() as unknown
    if (value === null || value === undefined) continue
    if (typeof value !== "object" || Array.isArray(value)) throw new ManifestError(`${file}: a document is not an object`)
    const object = value as KubeObject & { items?: ReadonlyArray<KubeObject> }
    if (object.kind === "List" || (object.kind?.endsWith("List") && Array.isArray(object.items))) {
      objects.push(...(object.items ?? []))
    } else {
      objects.push(object)
    }
  }
  return objects
}

const manifestFiles = (path: string): ReadonlyArray<string> => {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path)
    .filter((f) => manifestExtensions.has(extname(f)) && !f.startsWith("."))
    .sort()
    .map((f) => join(path, f))
}

const isProvider = (o: KubeObject) => o.kind === "Provider" && (o.apiVersion ?? "").startsWith("core.orka.ai/")
const isTool = (o: KubeObject) => o.kind === "Tool" && (o.apiVersion ?? "").startsWith("core.orka.ai/")
const isClientPolicy = (o: KubeObject) => o.kind === "ClientPolicy" && (o.apiVersion ?? "").startsWith("gateway.orka.ai/")
const isSecret = (o: KubeObject) => o.kind === "Secret" && o.apiVersion === "v1"

export const layer = Layer.effect(
  KubeClient,
  Effect.gen(function*() {
    const config = yield* GatewayConfig
    const root = resolve(config.manifests ?? ".")
    if (!existsSync(root)) return yield* Effect.die(new ManifestError(`--manifests ${root} does not exist`))
    const providers = yield* makeMemoryCache
    const secrets = yield* makeMemoryCache
    const tools = yield* makeMemoryCache
    const clientPolicies = yield* makeMemoryCache
    const lastGood = new Map<string, ReadonlyArray<KubeObject>>()

    const load = Effect.gen(function*() {
      const current = new Set<string>()
      for (const file of manifestFiles(root)) {
        current.add(file)
        const parsed = yield* Effect.try({
          try: () => parseManifests(readFileSync(file, "utf8"), file),
          catch: (e) => e instanceof ManifestError ? e : new ManifestError(`${file}: ${String(e)}`)
        }).pipe(Effect.tapError((e) => Effect.logWarning("manifest skipped").pipe(Effect.annotateLogs({ error: e.message }))), Effect.option)
        if (parsed._tag === "Some") lastGood.set(file, parsed.value)
      }
      for (const file of [...lastGood.keys()]) if (!current.has(file)) lastGood.delete(file)

      const all = [...lastGood.values()].flat()
      const inNamespace = all.filter((o) => {
        const ns = o.metadata?.namespace
        return ns === undefined || ns === config.namespace
      })
      const withNamespace = inNamespace.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: config.namespace } }))
      yield* providers.replace(withNamespace.filter(isProvider))
      yield* secrets.replace(withNamespace.filter(isSecret))
      yield* tools.replace(withNamespace.filter(isTool))
      yield* clientPolicies.replace(withNamespace.filter(isClientPolicy))
    })

    yield* load
    yield* Effect.logInfo("manifests loaded").pipe(Effect.annotateLogs({ path: root, providers: providers.cache.items().length }))

    // Watch the directory (a file's own watch dies when an editor replaces it) and re-read on change.
    const isDir = statSync(root).isDirectory()
    const touched = yield* Queue.sliding<void>(1)
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        watch(isDir ? root : dirname(root), (_event, name) => {
          if (isDir || name === null || name === basename(root)) Queue.offerUnsafe(touched, undefined)
        })
      ),
      (watcher) => Effect.sync(() => watcher.close())
    )
    yield* Queue.take(touched).pipe(
      Effect.andThen(Effect.sleep(50)), // editors write in several steps: let them finish
      Effect.andThen(Queue.clear(touched)),
      Effect.andThen(load),
      Effect.andThen(Effect.logInfo("manifests reloaded").pipe(Effect.annotateLogs({ path: root }))),
      Effect.forever,
      Effect.forkScoped
    )
    return KubeClient.of({ providers: providers.cache, secrets: secrets.cache, tools: tools.cache, clientPolicies: clientPolicies.cache })
  })
)
