/** A streamed body's context: made once from its writer's, seen by every pull, and not left behind in the writer. */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { describe, expect, it } from "vitest"
import { inContextOf } from "../../src/http/in-context.ts"

const Tag = Context.Reference<string>("test/Tag", { defaultValue: () => "writer's" })
const Writer = Context.Reference<string>("test/Writer", { defaultValue: () => "none" })

describe("inContextOf", () => {
  it("gives every pull the context made from the writer's, once, and leaves the writer's as it was", async () => {
    let made = 0
    const seen = Stream.fromEffect(Effect.all([Tag, Writer])).pipe(
      Stream.forever,
      Stream.take(4),
      inContextOf((context) => {
        made++
        return Context.add(context, Tag, "the request's")
      })
    )
    const result = await Effect.runPromise(Effect.gen(function*() {
      const pulled: Array<readonly [string, string]> = []
      const afterEachPull: Array<string> = []
      yield* Stream.runForEach(seen, (pair) =>
        Effect.map(Tag, (tag) => {
          pulled.push(pair)
          afterEachPull.push(tag)
        }))
      return { pulled, afterEachPull }
    }).pipe(Effect.provideService(Writer, "the writer's own")))
    expect(made).toBe(1)
    expect(result.pulled).toEqual(Array(4).fill(["the request's", "the writer's own"]))
    expect(result.afterEachPull).toEqual(Array(4).fill("writer's"))
  })
})
