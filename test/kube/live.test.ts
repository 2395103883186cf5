/**
 * The live informers against the fake API server, for what the limits rely on: the ClientPolicy
 * cache syncs, with no policies or with a CRD that is not installed yet.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, References } from "effect"
import { GatewayConfig } from "../../src/config.ts"
import { KubeClient } from "../../src/kube/client.ts"
import * as LiveKube from "../../src/kube/live.ts"
import { testConfig } from "../support/config.ts"
import { eventually } from "../support/eventually.ts"
import { startFakeApiServer } from "../support/fake-apiserver.ts"

describe("live KubeClient", () => {
  it.live("syncs an installed ClientPolicy CRD without policies at once", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(startFakeApiServer), (s) => Effect.promise(s.close))
      const config = GatewayConfig.layer(testConfig({ kubeconfig: server.kubeconfig }))
      const kube = Context.get(yield* Layer.build(LiveKube.layer.pipe(Layer.provide(config))), KubeClient)
      yield* kube.clientPolicies.synced.pipe(Effect.timeout("2 seconds"))
      expect(kube.clientPolicies.items()).toEqual([])
    }))

  it.live("counts a ClientPolicy CRD that is not installed as synced with no policies, says so once, and finds the CRD once installed", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(startFakeApiServer), (s) => Effect.promise(s.close))
      server.uninstalled.add("clientpolicies")
      const warnings: Array<{ message: unknown; resource: unknown }> = []
      const logger = Logger.make(({ fiber, logLevel, message }) => {
        if (logLevel === "Warn") warnings.push({ message: [message].flat()[0], resource: fiber.getRef(References.CurrentLogAnnotations)["resource"] })
      })
      const config = GatewayConfig.layer(testConfig({ kubeconfig: server.kubeconfig }))
      const kube = Context.get(yield* Layer.build(LiveKube.layer.pipe(Layer.provide(config), Layer.provide(Logger.layer([logger])))), KubeClient)

      yield* kube.clientPolicies.synced.pipe(Effect.timeout("2 seconds"))
      expect(kube.clientPolicies.items()).toEqual([])
      yield* Effect.sleep(2_000) // two more lists, both 404
      expect(warnings).toEqual([{ message: expect.stringContaining("ClientPolicy CRD is not installed"), resource: "clientpolicies" }])

      server.uninstalled.delete("clientpolicies")
      server.put("clientpolicies", {
        metadata: { name: "team-a" },
        spec: { subjects: [{ serviceAccount: "team-a/*" }], limits: { tokensPerDay: 1000 } }
      })
      yield* eventually(() => kube.clientPolicies.items().length === 1, 10_000, "the policy, once the CRD is installed")
      expect(kube.clientPolicies.items()[0]).toMatchObject({ apiVersion: "gateway.orka.ai/v1alpha1", kind: "ClientPolicy", metadata: { name: "team-a" } })
      expect(warnings).toHaveLength(1)
    }))
})
