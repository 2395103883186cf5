/**
 * Every metric the gateway exports on `/metrics`, in one table: its name, kind, labels and meaning
 * (the README's metric table is generated from it, `npm run docs`), and the Effect metric each module
 * records. Names follow the OpenTelemetry GenAI semantic conventions where one exists
 * (`gen_ai_*`), the gateway's own otherwise (`orka_*`). Labels are bounded: models and Providers are
 * the operator's, callers are capped (`--metrics-max-callers`), tools are the configured ones.
 */
import * as Metric from "effect/Metric"

/** Seconds, for LLM latencies: 10 ms to 30 s for the first token, up to 10 min for a whole answer. */
const firstTokenSeconds = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30]
const requestSeconds = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68, 655.36]
const perTokenSeconds = [0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5]
const tokenCounts = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216]

/** The labels of a request's GenAI metrics. */
const genAi = ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model", "orka_provider", "orka_dialect"] as const

interface Entry {
  readonly name: string
  readonly kind: "counter" | "gauge" | "histogram"
  readonly labels: ReadonlyArray<string>
  readonly description: string
}

type Attributes = Readonly<Record<string, string>>

const counter = (name: string, labels: ReadonlyArray<string>, description: string) =>
  entryOf({ name, kind: "counter", labels, description }, (attributes?: Attributes) =>
    Metric.counter(name, { description, incremental: true, ...(attributes === undefined ? {} : { attributes }) }))
const gauge = (name: string, labels: ReadonlyArray<string>, description: string) =>
  entryOf({ name, kind: "gauge", labels, description }, (attributes?: Attributes) =>
    Metric.gauge(name, { description, ...(attributes === undefined ? {} : { attributes }) }))
const histogram = (name: string, labels: ReadonlyArray<string>, description: string, boundaries: ReadonlyArray<number>) =>
  entryOf({ name, kind: "histogram", labels, description }, (attributes?: Attributes) =>
    Metric.histogram(name, { description, boundaries, ...(attributes === undefined ? {} : { attributes }) }))

/** How to make a metric with its labels set, by the metric: what `labelled` uses. */
const makers = new WeakMap<object, (attributes: Attributes) => Metric.Metric<any, any>>()

const entryOf = <M extends Metric.Metric<any, any>>(entry: Entry, make: (attributes?: Attributes) => M) => {
  const metric = make()
  makers.set(metric, make)
  return { entry, metric }
}

const defined = {
  requestDuration: histogram("gen_ai_server_request_duration_seconds", [...genAi, "error_type"], "Chat requests, from the request to the answer's end (a stream's last event); `error_type` on failures", requestSeconds),
  timeToFirstToken: histogram("gen_ai_server_time_to_first_token_seconds", genAi, "Streams: from the request to the first output the model streamed", firstTokenSeconds),
  timePerOutputToken: histogram("gen_ai_server_time_per_output_token_seconds", genAi, "Streams: the time after the first output, per output token after the first", perTokenSeconds),
  tokenUsage: histogram("gen_ai_client_token_usage", [...genAi, "gen_ai_token_type"], "Tokens per request (`input`, `output`, and `cached_input` and `reasoning` where the provider reports them), summed over a tool loop's model calls, abandoned streams included", tokenCounts),
  callerRequests: counter("orka_caller_requests_total", ["namespace", "serviceaccount", "orka_provider", "outcome"], "Chat requests per caller (`other` beyond --metrics-max-callers), by outcome (`completed`, `failed`, `client_closed`)"),
  callerTokens: counter("orka_caller_tokens_total", ["namespace", "serviceaccount", "orka_provider", "gen_ai_token_type"], "Tokens per caller (`other` beyond --metrics-max-callers), for chargeback"),
  requestsInFlight: gauge("orka_requests_in_flight", ["orka_dialect"], "API requests being answered"),
  streamsInFlight: gauge("orka_streams_in_flight", ["orka_dialect"], "Streamed answers being sent"),
  upstreamAttempts: counter("orka_upstream_attempts_total", ["orka_provider", "status"], "Calls to providers, by the provider's HTTP status (`error`: no answer, or none in time)"),
  upstreamRetries: counter("orka_upstream_retries_total", ["orka_provider", "reason"], "Provider calls tried again, by the failure's kind (`rate_limit`, `overloaded`, `upstream`, `timeout`)"),
  fallbacks: counter("orka_fallbacks_total", ["from", "to", "reason"], "Chats served by a Provider's fallback, by the failure's kind (`cooldown`: skipped, cooling down)"),
  rateLimited: counter("orka_rate_limited_total", ["orka_provider", "source", "limit"], "Requests refused (429) or passed to a fallback for a limit: `source` is `provider` (its `spec.rateLimit`) or `policy` (a ClientPolicy), `limit` which one (`requests_per_minute`, `tokens_per_minute`, `tokens_per_day`, `tokens_per_month`, `concurrent_requests`)"),
  limitStoreFailures: counter("orka_limit_store_failures_total", ["decision"], "Limit checks whose counters (Redis) could not be reached, by what --limits-on-store-failure made of them (`allow`, `deny`)"),
  authCache: counter("orka_auth_cache_total", ["cache", "result"], "TokenReview (`authentication`) and SubjectAccessReview (`authorization`) cache lookups, `hit` or `miss`"),
  watchErrors: counter("orka_kube_watch_errors_total", ["resource"], "Kubernetes list/watch failures (the cached objects keep serving)"),
  watchRestarts: counter("orka_kube_watch_restarts_total", ["resource"], "Kubernetes informers restarted after a failure"),
  toolCalls: counter("orka_tool_calls_total", ["tool", "outcome"], "Server-side tool calls by tool and outcome"),
  toolSeconds: histogram("orka_tool_call_seconds", ["tool"], "Server-side tool call duration", Metric.exponentialBoundaries({ start: 0.01, factor: 2, count: 14 })),
  toolLoops: counter("orka_tool_loops_total", ["outcome"], "Tool loops by how they ended (`answered`, `client_tool`, `iteration_limit`, `deadline`)"),
  toolLoopModelCalls: histogram("orka_tool_loop_model_calls", [], "Model calls per tool loop", [1, 2, 3, 5, 8, 13, 21]),
  mixedTurns: counter("orka_tool_loop_mixed_turns_total", [], "Turns calling server-side and client tools together")
}

type Defined = typeof defined

/** The metrics to record, by the name the code knows them by. */
export const metrics = Object.fromEntries(Object.entries(defined).map(([key, d]) => [key, d.metric])) as { readonly [K in keyof Defined]: Defined[K]["metric"] }

/** The table of every exported metric, in order: what the README lists. */
export const metricCatalog: ReadonlyArray<Entry> = Object.values(defined).map((d) => d.entry)

/**
 * `metric` with these labels, made once per distinct set, as a metric of its own with the labels
 * as its attributes: a metric caches its series key for one set of attributes, so series of one
 * metric made by `Metric.withAttributes` (which share the metric underneath) compute their key again
 * on every update that alternates between them. The sets are bounded (see above), and so is this cache.
 */
export const labelled = <M extends Metric.Metric<any, any>>(metric: M): (labels: Attributes) => M => {
  // a tree of label names and values, looked up one label at a time: a request finds its series
  // without building a key (it looks up a dozen per request)
  interface Node {
    readonly next: Map<string, Map<unknown, Node>>
    made?: M
  }
  const root: Node = { next: new Map() }
  const make = makers.get(metric)
  if (make === undefined) throw new Error(`labelled: ${metric.id} is not a metric of this catalog`)
  return (labels) => {
    let node = root
    for (const name in labels) {
      const value = labels[name]
      let byValue = node.next.get(name)
      if (byValue === undefined) node.next.set(name, byValue = new Map())
      let child = byValue.get(value)
      if (child === undefined) byValue.set(value, child = { next: new Map() })
      node = child
    }
    return node.made ??= make(labels) as M
  }
}
