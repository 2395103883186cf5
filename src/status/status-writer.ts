/**
 * The loop the Provider, Tool and ClientPolicy status writers share: for each object, what its status should
 * say, merge-patched only when the object says otherwise and not written just now (the watch has not
 * echoed the last write back yet), each write logged; a failed write is logged and tried again on
 * the next reconcile, never fatal.
 */
import * as Effect from "effect/Effect"
import type { KubeApiError } from "../kube/api.ts"
import type { KubeObject } from "../kube/client.ts"
import { makeEchoGuard } from "./ready-condition.ts"

export type StatusObject<S> = KubeObject & { readonly status?: S; readonly metadata?: { readonly generation?: number } }

export const makeStatusWriter = <S, W>(options: {
  /** the resource, as the log lines name it (`tool`, `client policy`) */
  readonly kind: string
  /** the log field naming the object (`tool`, `policy`) */
  readonly field: string
  readonly namespace: string
  /** the merge patch, or undefined when the observed status already says it */
  readonly patch: (observed: S | undefined, want: W, generation: number | undefined, now: string) => Record<string, unknown> | undefined
  readonly write: (namespace: string, name: string, patch: Record<string, unknown>) => Effect.Effect<void, KubeApiError>
  /** what a write's log line says of it */
  readonly said: (want: W) => Record<string, unknown>
}) => {
  const written = makeEchoGuard()
  /** `want`: what the status of the object named should say now, or undefined when that is not known */
  return (objects: ReadonlyArray<StatusObject<S>>, want: (name: string) => W | undefined): Effect.Effect<void> =>
    Effect.gen(function*() {
      const now = new Date().toISOString()
      for (const object of objects) {
        const name = object.metadata?.name
        if (name === undefined) continue
        const wanted = want(name)
        if (wanted === undefined) continue
        const patch = options.patch(object.status, wanted, object.metadata?.generation, now)
        if (patch === undefined || written.recent(name, wanted)) continue
        yield* options.write(object.metadata?.namespace ?? options.namespace, name, patch).pipe(
          Effect.tap(() => Effect.sync(() => written.wrote(name, wanted))),
          Effect.tap(() => Effect.logInfo(`${options.kind} status written`).pipe(Effect.annotateLogs({ [options.field]: name, ...options.said(wanted) }))),
          Effect.catch((e) => Effect.logWarning(`${options.kind} status not written`).pipe(Effect.annotateLogs({ [options.field]: name, error: e.message })))
        )
      }
    })
}
