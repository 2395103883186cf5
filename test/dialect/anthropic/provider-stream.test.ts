import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import type * as Sse from "effect/encoding/Sse"
import { anthropicCodec } from "../../../src/dialect/anthropic/provider.ts"

const sse = (event: string, data: unknown): Sse.Event => ({ _tag: "Event", event, id: undefined, data: typeof data === "string" ? data : JSON.stringify(data) })
const start = sse("message_start", { type: "message_start", message: { id: "msg_1", model: "claude-test", usage: { input_tokens: 3, output_tokens: 1 } } })
const stop = [
  sse("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 4 } }),
  sse("message_stop", { type: "message_stop" })
]
const decoded = (events: ReadonlyArray<Sse.Event>) =>
  Effect.exit(Stream.runCollect(anthropicCodec.decodeStream("claude", Stream.fromIterable(events))))
const delta = (d: unknown, extra: Record<string, unknown> = {}) => sse("content_block_delta", { type: "content_block_delta", index: 0, delta: d, ...extra })

describe("the Anthropic provider's stream", () => {
  it.effect("reads text deltas, whatever else they carry, as the answer's text", () =>
    Effect.gen(function*() {
      const exit = yield* decoded([
        start,
        delta({ type: "text_delta", text: "Hé" }),
        delta({ type: "text_delta", text: "" }),
        delta({ type: "text_delta", text: "llo ✓", extra: true }, { also: [1] }),
        // no `type` in the data: the event's name says what it is
        sse("content_block_delta", { index: 0, delta: { type: "text_delta", text: "!" } }),
        ...stop
      ])
      expect(Exit.isSuccess(exit) && exit.value.filter((e) => e.type === "text").map((e) => (e as { text: string }).text)).toEqual(["Hé", "", "llo ✓", "!"])
    }))

  it.effect("fails on a text delta whose text is not a string, and on data that is not JSON", () =>
    Effect.gen(function*() {
      for (const bad of [delta({ type: "text_delta", text: 5 }), sse("content_block_delta", "{\"type\":\"content_block_delta\",")]) {
        const exit = yield* decoded([start, bad, ...stop])
        expect(Exit.isFailure(exit)).toBe(true)
        expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("claude")
      }
    }))
})
