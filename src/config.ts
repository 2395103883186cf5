/**
 * Every setting of the gateway: its flag, its env var, its default and what it means.
 * The README's settings table is checked against this list by a test.
 * Precedence: command-line flag, then env var, then default.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Layer from "effect/Layer"
import { existsSync, readFileSync } from "node:fs"
import { hostname } from "node:os"
import { parseCidr } from "./cidr.ts"
import { redisTargetOf } from "./redis-url.ts"

type Kind = "string" | "int" | "seconds" | "enum" | "bool" | "cidrs"

interface SettingSpec<K extends Kind> {
  readonly flag: string
  readonly env: string
  readonly kind: K
  readonly description: string
  readonly default?: string
  readonly values?: ReadonlyArray<string>
}

const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

/** The backends `web_search` knows. */
export const searchBackends = ["searxng", "brave", "tavily", "generic"] as const
export type SearchBackendName = (typeof searchBackends)[number]

export const settings = {
  host: { flag: "--host", env: "ORKA_HOST", kind: "string", default: "0.0.0.0", description: "Address to listen on." },
  port: { flag: "--port", env: "ORKA_PORT", kind: "int", default: "8080", description: "Port to listen on." },
  namespace: {
    flag: "--namespace",
    env: "ORKA_NAMESPACE",
    kind: "string",
    description: "Namespace whose Providers and Secrets are served. Default: the pod's namespace (service-account mount), else `default`."
  },
  chatProvider: {
    flag: "--chat-provider",
    env: "ORKA_CHAT_PROVIDER",
    kind: "string",
    description: "Provider for bare model names (no `provider/` prefix). Without it, a Provider named `default` is used."
  },
  manifests: {
    flag: "--manifests",
    env: "ORKA_MANIFESTS",
    kind: "string",
    description: "Local mode: read Provider and Secret objects from this YAML file or directory instead of a cluster; reloaded on change."
  },
  tokenAuthFile: {
    flag: "--token-auth-file",
    env: "ORKA_TOKEN_AUTH_FILE",
    kind: "string",
    description: "Static tokens in kube-apiserver's CSV format `token,user,uid,\"group1,group2\"`; reloaded on change."
  },
  auth: {
    flag: "--auth",
    env: "ORKA_AUTH",
    kind: "enum",
    values: ["auto", "none"],
    default: "auto",
    description: "`none` accepts every request without a token (local experiments only). `auto` requires one."
  },
  kubeconfig: {
    flag: "--kubeconfig",
    env: "ORKA_KUBECONFIG",
    kind: "string",
    description: "Cluster mode outside a pod: the kubeconfig file. Default: in-cluster config in a pod, else `KUBECONFIG`, else `~/.kube/config`."
  },
  tokenAudience: {
    flag: "--token-audience",
    env: "ORKA_TOKEN_AUDIENCE",
    kind: "string",
    description: "Cluster mode: the audience callers' tokens must be issued for (TokenReview `spec.audiences`)."
  },
  authorizeProviders: {
    flag: "--authorize-providers",
    env: "ORKA_AUTHORIZE_PROVIDERS",
    kind: "bool",
    default: "false",
    description: "Cluster mode: a chat also needs verb `use` on `providers/<name>` (group core.orka.ai) in the Provider's namespace."
  },
  authorizeTools: {
    flag: "--authorize-tools",
    env: "ORKA_AUTHORIZE_TOOLS",
    kind: "bool",
    default: "false",
    description: "Cluster mode: a server-side tool (built-ins included) is offered only to callers with verb `use` on `tools/<name>` (group core.orka.ai) in the gateway's namespace."
  },
  tlsCertFile: {
    flag: "--tls-cert-file",
    env: "ORKA_TLS_CERT_FILE",
    kind: "string",
    description: "Serve HTTPS with this PEM certificate (chain); reloaded on change."
  },
  tlsPrivateKeyFile: {
    flag: "--tls-private-key-file",
    env: "ORKA_TLS_PRIVATE_KEY_FILE",
    kind: "string",
    description: "The PEM private key for --tls-cert-file."
  },
  shutdownDelay: {
    flag: "--shutdown-delay",
    env: "ORKA_SHUTDOWN_DELAY",
    kind: "seconds",
    default: "5",
    description: "Seconds between SIGTERM (readiness turns 503) and closing the listener, so load balancers stop sending first."
  },
  shutdownGracePeriod: {
    flag: "--shutdown-grace-period",
    env: "ORKA_SHUTDOWN_GRACE_PERIOD",
    kind: "seconds",
    default: "300",
    description: "Seconds in-flight requests (long streams included) may take to finish after the listener closes."
  },
  podName: {
    flag: "--pod-name",
    env: "ORKA_POD_NAME",
    kind: "string",
    description: "This replica's identity in the leader Lease. Default: the host name."
  },
  maxBodyBytes: {
    flag: "--max-body-bytes",
    env: "ORKA_MAX_BODY_BYTES",
    kind: "int",
    default: "20971520",
    description: "Largest request body accepted; larger ones get 413."
  },
  maxJsonDepth: {
    flag: "--max-json-depth",
    env: "ORKA_MAX_JSON_DEPTH",
    kind: "int",
    default: "64",
    description: "Deepest nesting of objects and arrays accepted in a request body (and in a provider's JSON answer); deeper ones get 400."
  },
  defaultMaxTokens: {
    flag: "--default-max-tokens",
    env: "ORKA_DEFAULT_MAX_TOKENS",
    kind: "int",
    default: "4096",
    description: "`max_tokens` sent to providers that require one (Anthropic) when the client sets none."
  },
  upstreamTimeout: {
    flag: "--upstream-timeout",
    env: "ORKA_UPSTREAM_TIMEOUT",
    kind: "seconds",
    default: "600",
    description: "Seconds to wait for a provider's response headers (a non-streamed answer arrives with them)."
  },
  streamIdleTimeout: {
    flag: "--stream-idle-timeout",
    env: "ORKA_STREAM_IDLE_TIMEOUT",
    kind: "seconds",
    default: "300",
    description: "Seconds a provider's stream may stay silent before it is failed with a timeout error."
  },
  upstreamRetries: {
    flag: "--upstream-retries",
    env: "ORKA_UPSTREAM_RETRIES",
    kind: "int",
    default: "2",
    description: "Retries of a provider call that failed with 429, 5xx, 529 or a connection error, before anything reached the client."
  },
  retryMaxWait: {
    flag: "--retry-max-wait",
    env: "ORKA_RETRY_MAX_WAIT",
    kind: "seconds",
    default: "30",
    description: "Longest single wait before a retry; a provider asking for more (`retry-after`) gets its error passed on."
  },
  toolsDefault: {
    flag: "--tools-default",
    env: "ORKA_TOOLS_DEFAULT",
    kind: "enum",
    values: ["enabled", "disabled"],
    default: "enabled",
    description: "Server-side tools for requests without an `X-Orka-Tools` header, unless their Provider sets `spec.tools.default`."
  },
  toolTimeout: {
    flag: "--tool-timeout",
    env: "ORKA_TOOL_TIMEOUT",
    kind: "seconds",
    default: "60",
    description: "Seconds one server-side tool call may run; then the model is told it timed out."
  },
  toolMaxIterations: {
    flag: "--tool-max-iterations",
    env: "ORKA_TOOL_MAX_ITERATIONS",
    kind: "int",
    default: "20",
    description: "Model calls one request may make with tools; then one last call without tools asks for a summary."
  },
  toolDeadline: {
    flag: "--tool-deadline",
    env: "ORKA_TOOL_DEADLINE",
    kind: "seconds",
    default: "300",
    description: "Seconds a request may spend in the tool loop before the model is asked to answer with what it has."
  },
  toolMaxConversationBytes: {
    flag: "--tool-max-conversation-bytes",
    env: "ORKA_TOOL_MAX_CONVERSATION_BYTES",
    kind: "int",
    default: "512000",
    description: "Largest conversation (JSON bytes) sent to the model in the tool loop; the oldest tool results are dropped first."
  },
  toolRepeatLimit: {
    flag: "--tool-repeat-limit",
    env: "ORKA_TOOL_REPEAT_LIMIT",
    kind: "int",
    default: "3",
    description: "The same tool call with the same arguments this many times in one loop gets `change your approach` instead of running."
  },
  keepAliveInterval: {
    flag: "--keep-alive-interval",
    env: "ORKA_KEEP_ALIVE_INTERVAL",
    kind: "seconds",
    default: "15",
    description: "Seconds between keep-alives on a stream that waits: `: keep-alive` (OpenAI) or `ping` (Anthropic) while tools run or a translated provider is slow."
  },
  toolAllowCidrs: {
    flag: "--tool-allow-cidrs",
    env: "ORKA_TOOL_ALLOW_CIDRS",
    kind: "cidrs",
    description: "Comma-separated ranges `web_fetch` may reach although they are private, loopback or blocked."
  },
  toolBlockCidrs: {
    flag: "--tool-block-cidrs",
    env: "ORKA_TOOL_BLOCK_CIDRS",
    kind: "cidrs",
    description: "Comma-separated extra ranges `web_fetch` must not reach: the cluster's service and pod CIDRs."
  },
  workspaceQuota: {
    flag: "--workspace-quota",
    env: "ORKA_WORKSPACE_QUOTA",
    kind: "int",
    default: "67108864",
    description: "Bytes a request's tool workspace (`file_write`, `code_exec`) may hold."
  },
  workspaceTotal: {
    flag: "--workspace-total",
    env: "ORKA_WORKSPACE_TOTAL",
    kind: "int",
    default: "1610612736",
    description: "Bytes all tool workspaces of this replica may hold together; keep it below the size of its /tmp."
  },
  codeExecConcurrency: {
    flag: "--code-exec-concurrency",
    env: "ORKA_CODE_EXEC_CONCURRENCY",
    kind: "int",
    default: "2",
    description: "`code_exec` programs running at once in this replica (each takes up to 256 MiB for Python); more wait their turn."
  },
  webSearchBackend: {
    flag: "--web-search-backend",
    env: "ORKA_WEB_SEARCH_BACKEND",
    kind: "enum",
    values: searchBackends,
    description: "Backend of the `web_search` tool: `searxng`, `brave`, `tavily`, or `generic` (`GET <url>?q=&limit=`). Without it, `web_search` is not offered."
  },
  webSearchUrl: {
    flag: "--web-search-url",
    env: "ORKA_WEB_SEARCH_URL",
    kind: "string",
    description: "The search API's URL (required for `searxng` and `generic`; Brave's and Tavily's are the default)."
  },
  webSearchSecret: {
    flag: "--web-search-secret",
    env: "ORKA_WEB_SEARCH_SECRET",
    kind: "string",
    description: "Secret (in --namespace) holding the search API key, as `name` or `name:key` (key default `api-key`)."
  },
  redisUrl: {
    flag: "--redis-url",
    env: "ORKA_REDIS_URL",
    kind: "string",
    description: "Redis for state shared by every replica (`redis://[[user]:password@]host:port[/db]`, `rediss://` for TLS): the Responses API's stored responses and the limit counters. Without it, both are kept in this process's memory."
  },
  responseStoreTtl: {
    flag: "--response-store-ttl",
    env: "ORKA_RESPONSE_STORE_TTL",
    kind: "seconds",
    default: "86400",
    description: "Seconds a stored response (`store: true`) can be continued with `previous_response_id` or read back."
  },
  responseStoreMaxBytes: {
    flag: "--response-store-max-bytes",
    env: "ORKA_RESPONSE_STORE_MAX_BYTES",
    kind: "int",
    default: "268435456",
    description: "Bytes of stored responses kept in memory without --redis-url (the oldest go first); also the largest one response stored in Redis."
  },
  traceToProviders: {
    flag: "--trace-to-providers",
    env: "ORKA_TRACE_TO_PROVIDERS",
    kind: "bool",
    default: "false",
    description: "With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT), send providers a `traceparent` naming the gateway's call, so their spans join the caller's trace. The caller's own trace headers are never forwarded."
  },
  providerCooldownFailures: {
    flag: "--provider-cooldown-failures",
    env: "ORKA_PROVIDER_COOLDOWN_FAILURES",
    kind: "int",
    default: "5",
    description: "Retryable failures in a row after which a Provider with `spec.fallbacks` is skipped (they serve) for --provider-cooldown; then one request tries it again. 0: never skipped."
  },
  providerCooldown: {
    flag: "--provider-cooldown",
    env: "ORKA_PROVIDER_COOLDOWN",
    kind: "seconds",
    default: "30",
    description: "Seconds a failing Provider is skipped (per replica)."
  },
  limitsOnStoreFailure: {
    flag: "--limits-on-store-failure",
    env: "ORKA_LIMITS_ON_STORE_FAILURE",
    kind: "enum",
    values: ["allow", "deny"],
    default: "allow",
    description: "What a request that has limits gets when their counters (Redis) cannot be reached within 250 ms: `allow` serves it unlimited, `deny` answers 503. Logged once per outage, counted in `orka_limit_store_failures_total`."
  },
  limitsWindow: {
    flag: "--limits-window",
    env: "ORKA_LIMITS_WINDOW",
    kind: "seconds",
    default: "60",
    description: "Seconds of the window that `requestsPerMinute` and `tokensPerMinute` count in (Provider `spec.rateLimit`, ClientPolicy `spec.limits`): a limit holds per window, which starts on the minute. Shorter only for tests."
  },
  metricsMaxCallers: {
    flag: "--metrics-max-callers",
    env: "ORKA_METRICS_MAX_CALLERS",
    kind: "int",
    default: "1000",
    description: "Distinct callers (namespace/ServiceAccount) with series of their own in the per-caller metrics; the rest count as `other`."
  },
  idleMemoryRelease: {
    flag: "--idle-memory-release",
    env: "ORKA_IDLE_MEMORY_RELEASE",
    kind: "seconds",
    default: "10",
    description: "Seconds without a request in flight, after some, before the process gives the memory it pooled back to the OS (one full GC); 0 never."
  },
  logLevel: {
    flag: "--log-level",
    env: "ORKA_LOG_LEVEL",
    kind: "enum",
    values: ["debug", "info", "warn", "error"],
    default: "info",
    description: "Least severe log level written."
  }
} as const satisfies Record<string, SettingSpec<Kind>>

export type SettingName = keyof typeof settings

/** The value a setting of this kind parses to (seconds become milliseconds). */
type ValueOf<S> = S extends { readonly kind: "string" } ? string
  : S extends { readonly kind: "int" | "seconds" } ? number
  : S extends { readonly kind: "bool" } ? boolean
  : S extends { readonly kind: "cidrs" } ? ReadonlyArray<string>
  : S extends { readonly kind: "enum"; readonly values: ReadonlyArray<infer V> } ? V
  : never

/** Every setting as parsed: a setting without a default may be absent. */
type Parsed = {
  readonly [K in SettingName]: (typeof settings)[K] extends { readonly default: string } ? ValueOf<(typeof settings)[K]> : ValueOf<(typeof settings)[K]> | undefined
}

/**
 * The gateway's configuration: the table's settings (durations in milliseconds), with the few whose
 * value is completed at start: the namespace (the pod's), the pod name (the host's), the search key's
 * Secret reference.
 */
export type GatewayConfigShape = Omit<Parsed, "namespace" | "podName" | "webSearchSecret" | "toolAllowCidrs" | "toolBlockCidrs"> & {
  readonly namespace: string
  readonly podName: string
  readonly webSearchSecret: { readonly name: string; readonly key: string } | undefined
  readonly toolAllowCidrs: ReadonlyArray<string>
  readonly toolBlockCidrs: ReadonlyArray<string>
}

export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly message: string }> {}

export class GatewayConfig extends Context.Service<GatewayConfig, GatewayConfigShape>()("orka/GatewayConfig") {
  static readonly layer = (config: GatewayConfigShape) => Layer.succeed(GatewayConfig, config)
}

const podNamespace = (): string | undefined => {
  if (!existsSync(serviceAccountNamespaceFile)) return undefined
  return readFileSync(serviceAccountNamespaceFile, "utf8").trim() || undefined
}

type Value = string | number | boolean | ReadonlyArray<string>

const parseValue = (name: SettingName, raw: string, source: string): Value => {
  const spec: SettingSpec<Kind> = settings[name]
  switch (spec.kind) {
    case "string":
      return raw
    case "bool":
      if (raw !== "true" && raw !== "false") throw new ConfigError({ message: `${source}: expected true or false, got "${raw}"` })
      return raw === "true"
    case "enum":
      if (!spec.values?.includes(raw)) {
        throw new ConfigError({ message: `${source}: expected one of ${spec.values?.join(", ")}, got "${raw}"` })
      }
      return raw
    case "int":
    case "seconds": {
      const n = Number(raw)
      if (raw.trim() === "" || !Number.isFinite(n) || n < 0 || (spec.kind === "int" && !Number.isInteger(n))) {
        throw new ConfigError({ message: `${source}: expected a non-negative ${spec.kind === "int" ? "integer" : "number"}, got "${raw}"` })
      }
      return spec.kind === "seconds" ? Math.round(n * 1000) : n
    }
    case "cidrs": {
      const cidrs = raw.split(",").map((c) => c.trim()).filter((c) => c !== "")
      try {
        cidrs.forEach(parseCidr)
      } catch (e) {
        throw new ConfigError({ message: `${source}: ${(e as Error).message}` })
      }
      return cidrs
    }
  }
}

/**
 * Reads `serve`'s flags (`--flag value` or `--flag=value`) and the environment.
 * Throws ConfigError with a message fit for the terminal.
 */
export const parseConfig = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): GatewayConfigShape => {
  const byFlag = new Map<string, SettingName>(Object.entries(settings).map(([name, spec]) => [spec.flag, name as SettingName]))
  const values = new Map<SettingName, Value>()

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf("=")
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const name = byFlag.get(flag)
    if (name === undefined) throw new ConfigError({ message: `unknown argument "${arg}" (see --help)` })
    // A boolean flag alone means true; `--flag=false` turns it off.
    const raw = eq > 0 ? arg.slice(eq + 1) : settings[name].kind === "bool" ? "true" : argv[++i]
    if (raw === undefined) throw new ConfigError({ message: `${flag} needs a value` })
    values.set(name, parseValue(name, raw, flag))
  }
  for (const [name, spec] of Object.entries(settings) as Array<[SettingName, SettingSpec<Kind>]>) {
    if (values.has(name)) continue
    const fromEnv = env[spec.env]
    if (fromEnv !== undefined && fromEnv !== "") values.set(name, parseValue(name, fromEnv, spec.env))
    else if (spec.default !== undefined) values.set(name, parseValue(name, spec.default, `default of ${spec.flag}`))
  }

  // every setting is a key, absent ones undefined
  const parsed = Object.fromEntries(Object.keys(settings).map((name) => [name, values.get(name as SettingName)])) as Parsed
  const config: GatewayConfigShape = {
    ...parsed,
    namespace: parsed.namespace ?? podNamespace() ?? "default",
    podName: parsed.podName ?? hostname(),
    webSearchSecret: secretRef(parsed.webSearchSecret),
    toolAllowCidrs: parsed.toolAllowCidrs ?? [],
    toolBlockCidrs: parsed.toolBlockCidrs ?? []
  }
  if (config.port > 65535) throw new ConfigError({ message: `--port must be at most 65535, got ${config.port}` })
  if ((config.tlsCertFile === undefined) !== (config.tlsPrivateKeyFile === undefined)) {
    throw new ConfigError({ message: "--tls-cert-file and --tls-private-key-file go together" })
  }
  if ((config.webSearchBackend === "searxng" || config.webSearchBackend === "generic") && config.webSearchUrl === undefined) {
    throw new ConfigError({ message: `--web-search-backend ${config.webSearchBackend} needs --web-search-url` })
  }
  if (config.maxJsonDepth < 1) throw new ConfigError({ message: "--max-json-depth must be at least 1" })
  if (config.toolRepeatLimit < 2) throw new ConfigError({ message: "--tool-repeat-limit must be at least 2" })
  if (config.keepAliveInterval < 1000) throw new ConfigError({ message: "--keep-alive-interval must be at least 1 second" })
  if (config.toolMaxIterations < 1) throw new ConfigError({ message: "--tool-max-iterations must be at least 1" })
  if (config.limitsWindow < 1000) throw new ConfigError({ message: "--limits-window must be at least 1 second" })
  if (config.codeExecConcurrency < 1) throw new ConfigError({ message: "--code-exec-concurrency must be at least 1" })
  if (config.redisUrl !== undefined) {
    try {
      redisTargetOf(config.redisUrl)
    } catch (e) {
      throw new ConfigError({ message: (e as Error).message })
    }
  }
  return config
}

/** `name` or `name:key`. */
const secretRef = (value: string | undefined): { readonly name: string; readonly key: string } | undefined => {
  if (value === undefined) return undefined
  const [name = "", key = "api-key"] = value.split(":")
  return { name, key }
}

export const usage = (): string => {
  const rows = Object.values(settings as Record<string, SettingSpec<Kind>>).map((s) => {
    const dflt = s.default === undefined ? "" : ` (default ${s.default})`
    return `  ${s.flag.padEnd(22)} ${s.env.padEnd(26)} ${s.description}${dflt}`
  })
  return ["Usage: orka-gateway serve [flags]", "", "Flags (each also read from its env var):", ...rows].join("\n")
}
