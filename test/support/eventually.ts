import { Effect } from "effect"

/** Polls `check` every 20 ms until it holds; dies after `timeoutMs` (real clock: use in it.live). */
export const eventually = (check: () => boolean, timeoutMs = 3000, what = "condition") =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`${what} not met within ${timeoutMs} ms`))
      yield* Effect.sleep(20)
    }
  })
