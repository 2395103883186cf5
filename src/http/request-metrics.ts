/**
 * A chat request's metrics, recorded once when it ends (with its access log line), from what its
 * note says: the GenAI latency and usage histograms, and the per-caller counters for chargeback.
 * Callers are capped: past `maxCallers` distinct ones, the rest count as `other`, so a spray of
 * tokens cannot make series without end; a requested model the Provider does not list is `other`,
 * so neither can a spray of model ids (nor a secret typed as one end up in /metrics).
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { labelled, metrics } from "../metrics.ts"
import type { RequestNote } from "../request-note.ts"
import { genAiProviderName } from "../tracing.ts"

/** `system:serviceaccount:ns:name` → `ns/name`; any other user as it is. */
export const identityOf = (user: string): string => {
  const parts = user.split(":")
  return parts.length === 4 && parts[0] === "system" && parts[1] === "serviceaccount" ? `${parts[2]}/${parts[3]}` : user
}

const defined = (labels: Record<string, string | undefined>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in labels) {
    const value = labels[name]
    if (value !== undefined && value !== "") out[name] = value
  }
  return out
}

export const makeRequestMetrics = (maxCallers: number) => {
  const callers = new Set<string>()
  const duration = labelled(metrics.requestDuration)
  const firstToken = labelled(metrics.timeToFirstToken)
  const perToken = labelled(metrics.timePerOutputToken)
  const tokenUsage = labelled(metrics.tokenUsage)
  const callerRequests = labelled(metrics.callerRequests)
  const callerTokens = labelled(metrics.callerTokens)

  const callerLabels = (identity: string | undefined) => {
    const key = identity ?? ""
    if (!callers.has(key) && callers.size >= maxCallers) return { namespace: "other", serviceaccount: "other" }
    callers.add(key)
    const slash = key.indexOf("/")
    // a user that is no ServiceAccount: `-`, not an empty label, which Prometheus would fill with the pod's namespace
    return slash < 0 ? { namespace: "-", serviceaccount: key } : { namespace: key.slice(0, slash), serviceaccount: key.slice(slash + 1) }
  }

  /** `durationMs` from the request to its end; `outcome` as the access log says it. */
  return (note: RequestNote, durationMs: number, outcome: string): Effect.Effect<void> =>
    Effect.withFiber((fiber) => {
      if (note.operation === undefined) return Effect.void
      // a dozen updates at once, straight to the registry: no effect per update
      const context = fiber.context
      const update = <I>(metric: Metric.Metric<I, unknown>, value: I) => metric.updateUnsafe(value, context)
      // a model id the Provider does not list is the client's text: one series for all of them
      const requestModel = note.model === undefined ? undefined : note.model_listed === true ? note.model : "other"
      const labels = defined({
        gen_ai_operation_name: note.operation,
        gen_ai_provider_name: note.provider_type === undefined ? undefined : genAiProviderName(note.provider_type),
        gen_ai_request_model: requestModel,
        // some servers echo the model they were asked for: the same rule
        gen_ai_response_model: note.model_listed === true ? note.response_model ?? requestModel : requestModel,
        orka_provider: note.provider,
        orka_dialect: note.dialect
      })
      const failed = outcome !== "completed" || note.error_type !== undefined
      const errorType = note.error_type ?? (outcome === "client_closed" ? "client_closed" : "_OTHER")
      const tokens: Array<readonly [string, number]> = []
      if (note.input_tokens !== undefined) tokens.push(["input", note.input_tokens])
      if (note.output_tokens !== undefined) tokens.push(["output", note.output_tokens])
      if (note.cached_input_tokens) tokens.push(["cached_input", note.cached_input_tokens])
      if (note.reasoning_tokens) tokens.push(["reasoning", note.reasoning_tokens])
      const caller = { ...callerLabels(note.identity), ...defined({ orka_provider: note.provider }) }
      update(duration(failed ? { ...labels, error_type: errorType } : labels), durationMs / 1000)
      update(callerRequests({ ...caller, outcome: failed && outcome === "completed" ? "failed" : outcome }), 1)
      for (const [type, value] of tokens) {
        update(tokenUsage({ ...labels, gen_ai_token_type: type }), value)
        update(callerTokens({ ...caller, gen_ai_token_type: type }), value)
      }
      if (note.stream === true && note.ttft_ms !== undefined) {
        update(firstToken(labels), note.ttft_ms / 1000)
        const after = (note.output_tokens ?? 0) - 1
        if (after > 0) update(perToken(labels), (durationMs - note.ttft_ms) / after / 1000)
      }
      return Effect.void
    })
}
