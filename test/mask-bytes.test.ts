import { Stream } from "effect"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { byteMask, maskChunk, maskStream } from "../src/mask-bytes.ts"
import { makeRedactor } from "../src/redact.ts"

const key = "sk-ant-api03-secret-0001"
const bytes = (text: string) => new TextEncoder().encode(text)
const text = (chunks: ReadonlyArray<Uint8Array>) => Buffer.concat(chunks).toString()
const run = (chunks: ReadonlyArray<string>, forms: ReadonlyArray<string>) =>
  Effect.runPromise(Stream.runCollect(maskStream(byteMask(forms), Stream.fromIterable(chunks.map(bytes)))))

describe("masking bytes", () => {
  it("replaces every occurrence in a body and leaves every other byte as it was", () => {
    const body = Buffer.concat([bytes(`{"a":"${key}","é":"`), Buffer.from([0xff, 0xfe]), bytes(`${key}"}`)])
    const out = Buffer.from(maskChunk(byteMask([key]), body))
    expect(out.toString("latin1")).toBe(Buffer.concat([bytes(`{"a":"***","é":"`), Buffer.from([0xff, 0xfe]), bytes(`***"}`)]).toString("latin1"))
    const clean = bytes("nothing here")
    expect(maskChunk(byteMask([key]), clean)).toBe(clean) // untouched, not copied
  })

  it("catches a secret split across chunks at every offset, and holds back nothing else", async () => {
    const stream = `event: error\ndata: {"message":"bad key ${key} given"}\n\n`
    for (let cut = 1; cut < stream.length; cut++) {
      const out = await run([stream.slice(0, cut), stream.slice(cut)], [key])
      expect(text(out)).toBe(stream.replace(key, "***"))
    }
    // chunks that end in a newline are sent whole, at once
    const events = ["data: one\n\n", "data: two\n\n"]
    expect((await run(events, [key])).map((c) => Buffer.from(c).toString())).toEqual(events)
  })

  it("sends what it held at the end when no secret followed", async () => {
    const out = await run(["the last word is sk-ant-", "api03-not-it"], [key])
    expect(text(out)).toBe("the last word is sk-ant-api03-not-it")
    expect(text(await run(["ends with sk-an"], [key]))).toBe("ends with sk-an")
  })

  it("the redactor knows each secret's URL-encoded and JSON-escaped forms, and ignores short ones", () => {
    const redactor = makeRedactor()
    redactor.register("tools", ["p@ss/wo\"rd+123", "short", undefined])
    expect(redactor.mask(`a p@ss/wo"rd+123 b ${encodeURIComponent("p@ss/wo\"rd+123")} c ${JSON.stringify("p@ss/wo\"rd+123")} short`))
      .toBe(`a *** b *** c "***" short`)
    expect(redactor.mask("token caller-secret-9 here", ["caller-secret-9"])).toBe("token *** here")
  })
})
