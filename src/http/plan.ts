/**
 * How a chat request is served, decided in one place for every front door:
 *
 * - `Passthrough`: the provider speaks the client's format and no server-side tools run. The body
 *   goes upstream untouched but for `model`, so nothing in it is judged here: the provider does.
 *   A request that asks for tools still passes through, without them, when it holds what the IR
 *   cannot carry or does not decode: the loop never drops what a client sent to its own dialect.
 * - `Translate` / `ToolLoop`: the request is read whole into IR and answered by the provider's
 *   backend, or by the tool loop around it. Towards a provider of another format, what the IR
 *   cannot carry is left out (`leftOut`), which the log and the `x-orka-left-out` header say: a
 *   conversation's history is the client's to keep, and a session must not stick on one part.
 * - `Reject`: towards a provider of another format, a request that does not decode, one whose
 *   answer cannot be given without what is left out (`n` > 1), or one with nothing left to send.
 *
 * Pure: `decode` is called only when the request must be read whole; the caller acts on the plan.
 */
import * as Result from "effect/Result"
import type { DecodedRequest, Untranslatable } from "../dialect/wire.ts"
import { type GatewayError, invalidRequest } from "../errors.ts"

export type ToolsSetting = "enabled" | "disabled"

/** Whether server-side tools are asked for: `X-Orka-Tools`, else the Provider's `spec.tools.default`, else `--tools-default`. */
export const toolsAsked = (header: ToolsSetting | undefined, provider: ToolsSetting | undefined, flag: ToolsSetting): boolean =>
  (header ?? provider ?? flag) === "enabled"

export interface Admitted {
  /** the provider speaks the client's format */
  readonly native: boolean
  /** server-side tools are on for this request */
  readonly tools: boolean
}

export type Plan<Extra = unknown> =
  | {
    readonly _tag: "Passthrough"
    /** why the tools asked for do not run; empty when none were asked for */
    readonly toolsSkipped: ReadonlyArray<string>
  }
  | {
    readonly _tag: "Translate" | "ToolLoop"
    readonly request: DecodedRequest<Extra>
    /** what the provider will not get of the request */
    readonly leftOut: ReadonlyArray<Untranslatable>
  }
  | { readonly _tag: "Reject"; readonly error: GatewayError }

export const plan = <Extra>(admitted: Admitted, decode: () => Result.Result<DecodedRequest<Extra>, GatewayError>): Plan<Extra> => {
  const { native, tools } = admitted
  // only translation and the tool loop read the whole request
  if (native && !tools) return { _tag: "Passthrough", toolsSkipped: [] }
  const decoded = decode()
  if (Result.isFailure(decoded)) {
    return native ? { _tag: "Passthrough", toolsSkipped: [decoded.failure.message] } : { _tag: "Reject", error: decoded.failure }
  }
  const request = decoded.success
  const untranslatable = request.untranslatable
  if (native && untranslatable.length > 0) return { _tag: "Passthrough", toolsSkipped: untranslatable.map((u) => `${u.param}: ${u.message}`) }
  if (!native) {
    const essential = untranslatable.find((u) => u.essential === true)
    if (essential !== undefined) return reject(essential, "")
    const [first] = untranslatable
    if (first !== undefined && request.conversation.messages.length === 0) return reject(first, "; nothing else is left of the conversation")
  }
  return { _tag: tools ? "ToolLoop" : "Translate", request, leftOut: native ? [] : untranslatable }
}

const reject = (u: Untranslatable, more: string): Plan<never> => ({
  _tag: "Reject",
  error: invalidRequest(`${u.param}: ${u.message}, and this model's provider speaks another format${more}`, u.param)
})
