/**
 * Memory given back after a burst. V8 keeps the pages of a heap that grew (under load, or for a few
 * large bodies) pooled for reuse, and its memory reducer, which would release them, judges an idle
 * process by its last measured allocation rate, which stays "high" when no GC runs: measured, RSS
 * stayed 350 MB above idle forever after an abusive minute. So once no request has been in flight
 * for `--idle-memory-release` seconds after some activity, one full, memory-reducing GC runs, and the
 * pooled pages go back to the OS.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { GatewayConfig } from "./config.ts"

/**
 * Set where the gateway is started (the image, `npm start`, the bench; a test checks each), since
 * glibc reads it only then. By default its malloc raises the size above which a block is mapped on
 * its own to the largest block freed, up to 32 MB, after which large buffers (a 5 MB body and its
 * copies) come from a heap that it rarely gives back: measured, RSS stayed 83 MB above idle after
 * 5 MB bodies, and 34 MB with the threshold held at its default (128 KiB). Other allocators ignore it.
 */
export const mallocEnv = { MALLOC_MMAP_THRESHOLD_: "131072" } as const

/**
 * Node's flags where the gateway is started, like `mallocEnv`: V8 reads them only then. Node 24 lets
 * the young generation grow to 64 MB per semi-space (134 MB in all) whatever the heap's limit, and
 * many requests or streams in flight take it there. Capped at 32 MB, the peak RSS at 64 concurrent
 * requests was 272 instead of 333 MB, with 1,000 streams held open 253 instead of 307 MB, for the
 * same CPU per request (at 16 MB, 10 % more).
 */
export const nodeFlags = ["--max-semi-space-size=32"] as const

export interface ActivityShape {
  /** a request came in; `end` when its answer is complete */
  readonly begin: () => void
  readonly end: () => void
  readonly inFlight: () => number
  /** when the last request ended (performance.now()), or -Infinity */
  readonly lastEnded: () => number
}

export class Activity extends Context.Service<Activity, ActivityShape>()("orka/Activity") {
  static readonly layer = Layer.sync(Activity, (): ActivityShape => {
    let inFlight = 0
    let lastEnded = Number.NEGATIVE_INFINITY
    return {
      begin: () => void inFlight++,
      end: () => {
        inFlight--
        lastEnded = performance.now()
      },
      inFlight: () => inFlight,
      lastEnded: () => lastEnded
    }
  })
}

type Gc = (options: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void

/** V8's own gc function, made available at run time rather than by a command-line flag. */
const fullGc = (): Gc => {
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as Gc
}

export const IdleMemoryRelease = Layer.effectDiscard(Effect.gen(function*() {
  const config = yield* GatewayConfig
  const activity = yield* Activity
  if (config.idleMemoryRelease === 0) return
  const gc = fullGc()
  // starting up is a burst too: what loading the code and the manifests left behind is released once
  const started = performance.now()
  let released = Number.NEGATIVE_INFINITY
  const check = Effect.suspend(() => {
    const ended = Math.max(activity.lastEnded(), started)
    if (activity.inFlight() > 0 || ended <= released || performance.now() - ended < config.idleMemoryRelease) return Effect.void
    const before = performance.now()
    gc({ type: "major", execution: "sync", flavor: "last-resort" })
    released = performance.now()
    return Effect.logDebug("idle: memory released").pipe(Effect.annotateLogs({ gc_ms: Math.round(released - before) }))
  })
  yield* check.pipe(Effect.repeat(Schedule.spaced(Math.max(1000, config.idleMemoryRelease / 2))), Effect.forkScoped)
}))
