import { describe, expect, it } from "@effect/vitest"
import { labelled, metrics } from "../src/metrics.ts"

describe("labelled", () => {
  it("makes one metric per set of labels and finds it again, whatever values the labels share", () => {
    const loops = labelled(metrics.toolLoops)
    const answered = loops({ outcome: "answered" })
    expect(loops({ outcome: "answered" })).toBe(answered)
    expect(loops({ outcome: "client_tool" })).not.toBe(answered)
    const calls = labelled(metrics.toolCalls)
    const a = calls({ tool: "web_fetch", outcome: "ok" })
    // the same values under other names, or a prefix of the set, are other series
    expect(calls({ tool: "ok", outcome: "web_fetch" })).not.toBe(a)
    expect(calls({ tool: "web_fetch" })).not.toBe(a)
    expect(calls({ tool: "web_fetch", outcome: "ok" })).toBe(a)
    expect(() => labelled({ id: "not-ours" } as never)).toThrow("not a metric of this catalog")
  })
})
