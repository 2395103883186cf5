/**
 * Every way a chat request can be served, for every client format and provider type: the requests
 * are real bodies decoded by the formats' own decoders.
 */
import { describe, expect, it } from "vitest"
import { anthropicClient } from "../../src/dialect/anthropic/client.ts"
import { openaiClient } from "../../src/dialect/openai/client.ts"
import { responsesClient } from "../../src/dialect/responses/client.ts"
import type { ClientFormat } from "../../src/dialect/wire.ts"
import { plan, type Plan, toolsAsked, type ToolsSetting } from "../../src/http/plan.ts"
import { ProviderTypes } from "../../src/kube/resources.ts"

describe("toolsAsked: the header, else the Provider's default, else the flag", () => {
  const settings: ReadonlyArray<ToolsSetting | undefined> = [undefined, "enabled", "disabled"]
  const expected = (header?: ToolsSetting, provider?: ToolsSetting, flag?: ToolsSetting) => (header ?? provider ?? flag) === "enabled"
  for (const header of settings) {
    for (const provider of settings) {
      for (const flag of ["enabled", "disabled"] as const) {
        it(`header ${header ?? "absent"}, Provider ${provider ?? "unset"}, flag ${flag}`, () => {
          expect(toolsAsked(header, provider, flag)).toBe(expected(header, provider, flag))
        })
      }
    }
  }
  it("the header wins over both", () => {
    expect(toolsAsked("disabled", "enabled", "enabled")).toBe(false)
    expect(toolsAsked("enabled", "disabled", "disabled")).toBe(true)
    expect(toolsAsked(undefined, "disabled", "enabled")).toBe(false)
  })
})

type Kind = "plain" | "untranslatable" | "essential" | "nothing left" | "invalid"

/** Bodies of each kind, as clients send them. */
type Dialect = "openai" | "anthropic" | "responses"

const bodies: Record<Dialect, Partial<Record<Kind, Record<string, unknown>>>> = {
  openai: {
    plain: { model: "p/m", messages: [{ role: "user", content: "hi" }] },
    untranslatable: {
      model: "p/m",
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }, { type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] }],
      tools: [{ type: "custom", name: "apply_patch" }]
    },
    essential: { model: "p/m", n: 3, messages: [{ role: "user", content: "hi" }] },
    "nothing left": { model: "p/m", messages: [{ role: "user", content: [{ type: "file", file: { file_id: "f" } }] }] },
    invalid: { model: "p/m", messages: [{ role: "user", content: [{ type: "text" }] }] }
  },
  anthropic: {
    plain: { model: "p/m", max_tokens: 5, messages: [{ role: "user", content: "hi" }] },
    untranslatable: {
      model: "p/m",
      max_tokens: 5,
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }, { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBE" } }] }],
      tools: [{ type: "web_search_20250305", name: "web_search" }]
    },
    "nothing left": { model: "p/m", max_tokens: 5, messages: [{ role: "user", content: [{ type: "redacted_thinking", data: "x" }] }] },
    invalid: { model: "p/m", messages: [{ role: "user", content: "hi" }] } // no max_tokens
  },
  responses: {
    plain: { model: "p/m", input: "hi" },
    untranslatable: {
      model: "p/m",
      input: [{ role: "user", content: [{ type: "input_text", text: "hi" }, { type: "input_file", file_id: "file-1" }] }, { type: "reasoning", summary: [], encrypted_content: "gAAAA" }]
    },
    essential: { model: "p/m", input: "hi", tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] },
    "nothing left": { model: "p/m", input: [{ role: "user", content: [{ type: "input_file", file_id: "file-1" }] }] },
    invalid: { model: "p/m", input: [{ role: "robot", content: "hi" }] }
  }
}

const leftOut = {
  openai: ["messages.0.content.1.type", "tools.0.type"],
  anthropic: ["messages.0.content.1", "tools.0"],
  responses: ["input.0.content.1.type", "input.1"]
}

const rejected = {
  openai: { essential: "n", "nothing left": "messages.0.content.0.type", invalid: "messages.0.content.0.text" },
  anthropic: { "nothing left": "messages.0.content.0", invalid: "max_tokens" },
  responses: { essential: "tools.0.type", "nothing left": "input.0.content.0.type", invalid: "input.0.role" }
} as const

/** The plan, in short: its tag and what it names. */
const summary = (p: Plan): string => {
  switch (p._tag) {
    case "Passthrough":
      return p.toolsSkipped.length === 0 ? "Passthrough" : "Passthrough without tools"
    case "Reject":
      return `Reject ${p.error.kind} ${p.error.param}`
    default:
      return `${p._tag}${p.leftOut.length === 0 ? "" : ` leaving out ${p.leftOut.map((u) => u.param).join(",")}`}`
  }
}

/** What each kind of request becomes: [native and tools off, native and tools on, other format and tools off, other format and tools on]. */
const expected = (dialect: Dialect, kind: Kind): [string, string, string, string] => {
  const reject = `Reject invalid_request ${(rejected[dialect] as Partial<Record<Kind, string>>)[kind]}`
  switch (kind) {
    case "plain":
      return ["Passthrough", "ToolLoop", "Translate", "ToolLoop"]
    case "untranslatable":
      return ["Passthrough", "Passthrough without tools", `Translate leaving out ${leftOut[dialect].join(",")}`, `ToolLoop leaving out ${leftOut[dialect].join(",")}`]
    case "essential":
    case "nothing left":
    case "invalid":
      return ["Passthrough", "Passthrough without tools", reject, reject]
  }
}

const natives = { openai: ["openai", "azure-openai"], anthropic: ["anthropic"], responses: ["openai", "azure-openai"] }

const everyWay = <Extra, Prepared>(format: ClientFormat<Extra, Prepared | undefined>, name: Dialect) => {
  it(`${name} is native to ${natives[name].join(", ")} only`, () => {
    expect(ProviderTypes.filter((t) => format.nativeTo.includes(t))).toEqual(natives[name])
  })
  for (const [kind, body] of Object.entries(bodies[name]) as Array<[Kind, Record<string, unknown>]>) {
    for (const type of ProviderTypes) {
      for (const tools of [false, true]) {
        const native = format.nativeTo.includes(type)
        const want = expected(name, kind)[(native ? 0 : 2) + (tools ? 1 : 0)]
        it(`${name} door, ${kind} request, ${type} provider, tools ${tools ? "on" : "off"} → ${want}`, () => {
          let decoded = 0
          const served = plan({ native, tools }, () => {
            decoded++
            return format.decodeRequest(body, "m", undefined)
          })
          expect(summary(served)).toBe(want)
          // the fast path never reads the request
          expect(decoded).toBe(native && !tools ? 0 : 1)
        })
      }
    }
  }
}

describe("plan: client format × provider type × tools × request", () => {
  everyWay(openaiClient, "openai")
  everyWay(anthropicClient, "anthropic")
  everyWay(responsesClient, "responses")

  it("what is left out keeps the rest of the request: the conversation the provider gets", () => {
    const served = plan({ native: false, tools: false }, () => openaiClient.decodeRequest(bodies.openai.untranslatable, "m", undefined))
    if (served._tag !== "Translate") throw new Error(served._tag)
    expect(served.request.conversation.messages).toEqual([{ role: "user", content: [{ type: "text", text: "hi" }] }])
    expect(served.request.conversation.tools).toEqual([])
  })

  it("a rejection says why, in the caller's terms", () => {
    const served = plan({ native: false, tools: true }, () => openaiClient.decodeRequest(bodies.openai.essential, "m", undefined))
    if (served._tag !== "Reject") throw new Error(served._tag)
    expect(served.error.message).toBe("n: more than one choice (n = 3) is answered by OpenAI-shaped providers only, and this model's provider speaks another format")
  })
})
