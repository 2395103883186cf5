import { describe, expect, it } from "vitest"
import { makeCooldown } from "../../src/providers/cooldown.ts"

describe("cooldown", () => {
  it("skips after failures in a row, then lets one request try; a failure there cools it down again", () => {
    let now = 1_000
    const c = makeCooldown(2, 100, () => now)
    c.failed("p")
    expect(c.admits("p")).toBe(true)
    c.failed("p")
    expect(c.admits("p")).toBe(false)
    now += 100
    // half-open: one request, not two
    expect(c.admits("p")).toBe(true)
    expect(c.admits("p")).toBe(false)
    c.failed("p")
    expect(c.admits("p")).toBe(false)
    now += 100
    expect(c.admits("p")).toBe(true)
    c.succeeded("p")
    expect(c.admits("p")).toBe(true)
  })

  it("frees the half-open period after a while when its one try never reports (its caller went away)", () => {
    let now = 0
    const c = makeCooldown(1, 100, () => now)
    c.failed("p")
    now = 100
    expect(c.admits("p")).toBe(true)
    expect(c.admits("p")).toBe(false)
    now = 200
    expect(c.admits("p")).toBe(true)
  })

  it("counts failures in a row only, per Provider, and never skips with 0", () => {
    const c = makeCooldown(2, 100)
    c.failed("p")
    c.succeeded("p")
    c.failed("p")
    expect(c.admits("p")).toBe(true)
    c.failed("q")
    c.failed("q")
    expect(c.admits("q")).toBe(false)
    expect(c.admits("p")).toBe(true)
    const never = makeCooldown(0, 100)
    for (let i = 0; i < 10; i++) never.failed("p")
    expect(never.admits("p")).toBe(true)
  })
})
