/**
 * A chat request's metrics, recorded once when it ends (with its access log line), from what its
 * note says: the GenAI latency and usage histograms, and the per-caller counters for chargeback.
 * Callers are capped: past `maxCallers` distinct ones, the rest count as `other`, so a spray of
 * tokens cannot make series without end; a requested model the Provider does not list is `other`,
 * so neither can a spray of model ids (nor a secret typed as one end up in /metrics).
 */
import { Effect, Metric } from "effect"
import { labelled, metrics } from "../metrics.ts"
import type { RequestNote } from "../request-note.ts"

/** The OpenTelemetry GenAI names of the provider types (`gen_ai.provider.name`). */
const providerNames: Readonly<Record<string, string>> = { anthropic: "anthropic", openai: "openai", "azure-openai": "azure.ai.openai", mock: "orka.mock" }

/** `system:serviceaccount:ns:name` → `ns/name`; any other user as it is. */
export const identityOf = (user: string): string => {
  const parts = user.split(":")
  return parts.length === 4 && parts[0] === "system" && parts[1] === "serviceaccount" ? `${parts[2]}/${parts[3]}` : user
}

const defined = (labels: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ""))

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
    Effect.suspend(() => {
      if (note.operation === undefined) return Effect.void
      // a model id the Provider does not list is the client's text: one series for all of them
      const requestModel = note.model === undefined ? undefined : note.model_listed === true ? note.model : "other"
      const labels = defined({
        gen_ai_operation_name: note.operation,
        gen_ai_provider_name: note.provider_type === undefined ? undefined : providerNames[note.provider_type] ?? note.provider_type,
        gen_ai_request_model: requestModel,
        // some servers echo the model they were asked for: the same rule
        gen_ai_response_model: note.model_listed === true ? note.response_model ?? requestModel : requestModel,
        orka_provider: note.provider,
        orka_dialect: note.dialect
      })
      const failed = outcome !== "completed" || note.error_type !== undefined
      const errorType = note.error_type ?? (outcome === "client_closed" ? "client_closed" : "_OTHER")
      const tokens = defined({
        input: note.input_tokens === undefined ? undefined : String(note.input_tokens),
        output: note.output_tokens === undefined ? undefined : String(note.output_tokens),
        cached_input: note.cached_input_tokens ? String(note.cached_input_tokens) : undefined,
        reasoning: note.reasoning_tokens ? String(note.reasoning_tokens) : undefined
      })
      const caller = { ...callerLabels(note.identity), ...defined({ orka_provider: note.provider }) }
      const updates: Array<Effect.Effect<void>> = [
        Metric.update(duration(failed ? { ...labels, error_type: errorType } : labels), durationMs / 1000),
        Metric.update(callerRequests({ ...caller, outcome: failed && outcome === "completed" ? "failed" : outcome }), 1)
      ]
      for (const [type, value] of Object.entries(tokens)) {
        updates.push(
          Metric.update(tokenUsage({ ...labels, gen_ai_token_type: type }), Number(value)),
          Metric.update(callerTokens({ ...caller, gen_ai_token_type: type }), Number(value))
        )
      }
      if (note.stream === true && note.ttft_ms !== undefined) {
        updates.push(Metric.update(firstToken(labels), note.ttft_ms / 1000))
        const after = (note.output_tokens ?? 0) - 1
        if (after > 0) updates.push(Metric.update(perToken(labels), (durationMs - note.ttft_ms) / after / 1000))
      }
      return Effect.all(updates, { discard: true })
    })
}
