/**
 * OpenTelemetry traces, through Effect's tracer: on when the standard OTEL_* variables name an OTLP
 * endpoint, off otherwise. Off, Effect keeps its native tracer, whose spans go nowhere: the HTTP
 * server then makes no span per request, and the helpers below make none either (they check the
 * tracer and run the effect as it is), so a request pays one comparison per helper.
 *
 * Span and attribute names follow the OTel semantic conventions (HTTP, GenAI) where they have one,
 * `orka.*` otherwise.
 */
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpTraceContext from "effect/http/HttpTraceContext"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import { ConfigError } from "./config.ts"

export const SpanAttr = {
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  responseModel: "gen_ai.response.model",
  responseId: "gen_ai.response.id",
  finishReasons: "gen_ai.response.finish_reasons",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  maxTokens: "gen_ai.request.max_tokens",
  temperature: "gen_ai.request.temperature",
  topP: "gen_ai.request.top_p",
  toolName: "gen_ai.tool.name",
  toolCallId: "gen_ai.tool.call.id",
  errorType: "error.type",
  serverAddress: "server.address",
  serverPort: "server.port",
  httpStatus: "http.response.status_code",
  httpRoute: "http.route",
  /** the Provider resource's name */
  provider: "orka.provider",
  /** the model id sent upstream, when the request named `provider/model` */
  model: "orka.model",
  /** which try of an upstream call this is, from 1 */
  attempt: "orka.upstream.attempt",
  iteration: "orka.tool_loop.iteration",
  iterations: "orka.tool_loop.iterations",
  loopOutcome: "orka.tool_loop.outcome",
  accessVerb: "orka.access.verb",
  accessResource: "orka.access.resource",
  accessName: "orka.access.name",
  accessNamespace: "orka.access.namespace"
} as const

export type Attributes = Readonly<Record<string, string | number | boolean | ReadonlyArray<string> | undefined>>

export type OtelEnv = Readonly<Record<string, string | undefined>>

const defaultServiceName = "orka-gateway"

const envValue = (env: OtelEnv, name: string): string | undefined => {
  const value = env[name]?.trim()
  return value === undefined || value === "" ? undefined : value
}

const endpointOf = (env: OtelEnv) =>
  envValue(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") !== undefined
    ? { name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url: envValue(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")! }
    : envValue(env, "OTEL_EXPORTER_OTLP_ENDPOINT") !== undefined
    ? { name: "OTEL_EXPORTER_OTLP_ENDPOINT", url: envValue(env, "OTEL_EXPORTER_OTLP_ENDPOINT")! }
    : undefined

/** Whether the environment asks for traces: an OTLP endpoint, the SDK not disabled, the exporter `otlp` (the spec's default). */
export const tracingWanted = (env: OtelEnv): boolean => {
  if (envValue(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") return false
  const exporters = envValue(env, "OTEL_TRACES_EXPORTER")?.toLowerCase().split(",").map((e) => e.trim()) ?? ["otlp"]
  return exporters.includes("otlp") && endpointOf(env) !== undefined
}

/** What Effect's `layerFromConfig` reads, with the spec's defaults it lacks (exporter `otlp`) and the gateway's service name. */
const exporterEnv = (env: OtelEnv): Record<string, string> => {
  const defined = Object.fromEntries(Object.entries(env).flatMap(([k, v]) => (v === undefined || v === "" ? [] : [[k, v]])))
  const named = envValue(env, "OTEL_SERVICE_NAME") !== undefined ||
    (env["OTEL_RESOURCE_ATTRIBUTES"] ?? "").split(",").some((entry) => entry.split("=")[0]?.trim() === "service.name")
  return {
    ...defined,
    OTEL_SDK_DISABLED: "false",
    OTEL_TRACES_EXPORTER: "otlp",
    ...(named ? {} : { OTEL_SERVICE_NAME: defaultServiceName })
  }
}

/** OTLP over HTTP, JSON unless protobuf is asked for; gRPC is not spoken. */
const serialization = (env: OtelEnv) => {
  const protocol = envValue(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? envValue(env, "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/json"
  if (protocol === "http/json") return OtlpSerialization.layerJson
  if (protocol === "http/protobuf") return OtlpSerialization.layerProtobuf
  throw new ConfigError({ message: `OTEL_EXPORTER_OTLP_PROTOCOL: expected http/json or http/protobuf (OTLP over HTTP), got "${protocol}"` })
}

/**
 * The tracer the OTEL_* variables ask for, or nothing. Throws ConfigError for an endpoint that is not
 * a URL or a protocol not spoken.
 */
export const tracingLayer = (env: OtelEnv = process.env): Layer.Layer<never> => {
  if (!tracingWanted(env)) return Layer.empty
  const endpoint = endpointOf(env)!
  if (!URL.canParse(endpoint.url)) throw new ConfigError({ message: `${endpoint.name}: expected a URL, got "${endpoint.url}"` })
  const otlp = OtlpTracer.layerFromConfig().pipe(
    Layer.provide([serialization(env), FetchHttpClient.layer, ConfigProvider.layer(ConfigProvider.fromEnv({ env: exporterEnv(env) }))])
  )
  return Layer.flatMap(otlp, (context) => {
    const tracer = Context.get(context, Tracer.Tracer)
    return tracer === Tracer.nativeTracer ? Layer.empty : Layer.succeed(Tracer.Tracer, gatewayTracer(tracer))
  })
}

/** Stands for a failure in an exported span: its type only, as a message may carry what masking has not removed yet. */
class SpanFailure extends Error {
  constructor(type: string) {
    super(type)
    this.name = type
    this.stack = type
  }
}

const errorTypeOf = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (typeof error === "object" && error !== null) {
    const { kind, code, _tag } = error as { kind?: unknown; code?: unknown; _tag?: unknown }
    if (typeof code === "string") return code
    if (typeof kind === "string") return kind
    if (error instanceof Error && error.constructor.name !== "Error") return error.constructor.name
    if (typeof _tag === "string") return _tag
  }
  return "_OTHER"
}

/**
 * Two things the OTLP tracer does not do: a server span is named `{method} {route}` (the HTTP
 * convention) once the router has set `http.route`; a failed span gets `error.type` (the error's code
 * or kind, or the HTTP status) and exports that in place of the error's message.
 */
const gatewayTracer = (tracer: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    span(options) {
      const span = tracer.span(options)
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        const route = span.kind === "server" ? span.attributes.get(SpanAttr.httpRoute) : undefined
        // the name is chosen before routing; the span object is the exporter's own
        if (typeof route === "string") (span as { name: string }).name = `${span.name} ${route}`
        if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return end(endTime, exit)
        const status = span.attributes.get(SpanAttr.httpStatus)
        const type = span.attributes.get(SpanAttr.errorType) ??
          (typeof status === "number" && status >= 400 ? String(status) : errorTypeOf(exit.cause))
        span.attribute(SpanAttr.errorType, type)
        end(endTime, Exit.fail(new SpanFailure(String(type))))
      }
      return span
    },
    ...(tracer.context === undefined ? {} : { context: tracer.context })
  })

const recording = (fiber: { readonly getRef: <A>(ref: Context.Reference<A>) => A }) => fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer

const defined = (attributes: Attributes): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key in attributes) if (attributes[key] !== undefined) out[key] = attributes[key]
  return out
}

export interface SpanOptions<A = unknown> {
  readonly kind?: Tracer.SpanKind
  readonly attributes?: Attributes
  /** more attributes once the effect succeeded (computed only when tracing) */
  readonly result?: (value: A) => Attributes
}

interface SpanSpec {
  readonly name: string
  readonly kind?: Tracer.SpanKind
  readonly attributes: Attributes
}

/** `self` in the span `spec` describes (made only when tracing); `self` as it is otherwise. */
const inSpan = <A, E, R>(self: Effect.Effect<A, E, R>, spec: () => SpanSpec, result?: (value: A) => Attributes): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    if (!recording(fiber)) return self
    const { attributes, kind, name } = spec()
    const body = result === undefined ? self : Effect.tap(self, (value) => Effect.annotateCurrentSpan(defined(result(value))))
    return Effect.withSpan(body, name, { kind: kind ?? "internal", attributes: defined(attributes), captureStackTrace: false }) as Effect.Effect<A, E, R>
  })

/** `self` in a span, when tracing; `self` as it is otherwise. */
export const traced = <X = unknown>(name: string, options: SpanOptions<X> = {}) => <A extends X, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  inSpan(self, () => ({ name, attributes: options.attributes ?? {}, ...(options.kind === undefined ? {} : { kind: options.kind }) }), options.result)

export interface StreamSpanOptions {
  readonly attributes?: Attributes
  /** more attributes once the stream ended (computed only then) */
  readonly atEnd?: () => Attributes
}

/** Puts a stream in a span of its own. */
export type TraceStream = (name: string, options?: StreamSpanOptions) => <A, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<A, E, R>

const streamSpan: TraceStream = (name, options = {}) => (self) => {
  const atEnd = options.atEnd
  const body = atEnd === undefined ? self : Stream.onEnd(self, Effect.suspend(() => Effect.annotateCurrentSpan(defined(atEnd()))))
  return Stream.withSpan(body, name, { attributes: defined(options.attributes ?? {}), captureStackTrace: false })
}

const untraced: TraceStream = () => (self) => self

/** A stream in a span, when tracing (decided when it starts). */
export const tracedStream: TraceStream = (name, options) => (self) =>
  Stream.unwrap(Effect.withFiber((fiber) => Effect.succeed(recording(fiber) ? streamSpan(name, options)(self) : self)))

/**
 * `tracedStream` decided once, for streams built in this fiber: each stage a stream passes through
 * costs per run, so when not tracing nothing is added at all.
 */
export const streamTracer: Effect.Effect<TraceStream> = Effect.withFiber((fiber) => Effect.succeed(recording(fiber) ? streamSpan : untraced))

/** Attributes on the current span, when tracing (computed only then). */
export const annotate = (attributes: () => Attributes): Effect.Effect<void> =>
  Effect.withFiber((fiber) => (recording(fiber) ? Effect.annotateCurrentSpan(defined(attributes())) : Effect.void))

/** The OpenTelemetry GenAI names of the provider types (`gen_ai.provider.name`), for spans and metrics alike. */
const providerNames: Readonly<Record<string, string>> = { anthropic: "anthropic", openai: "openai", "azure-openai": "azure.ai.openai", mock: "orka.mock" }

/** `gen_ai.provider.name` for a Provider's type. */
export const genAiProviderName = (type: string): string => providerNames[type] ?? type

export const usageAttributes = (usage: { readonly inputTokens: number; readonly outputTokens: number }): Attributes => ({
  [SpanAttr.inputTokens]: usage.inputTokens,
  [SpanAttr.outputTokens]: usage.outputTokens
})

/** A server-side tool call as the GenAI span `execute_tool {name}`; its failure (before it becomes the model's result) is the span's. */
export const executeToolSpan = (call: { readonly name: string; readonly id: string }) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  inSpan(self, () => ({
    name: `execute_tool ${call.name}`,
    attributes: { [SpanAttr.operationName]: "execute_tool", [SpanAttr.toolName]: call.name, [SpanAttr.toolCallId]: call.id }
  }))

/** One try of a call to a provider. */
export interface UpstreamAttempt {
  /** the Provider resource's name */
  readonly provider: string
  /** its type (`anthropic`, `openai`, `azure-openai`), for `gen_ai.provider.name` */
  readonly providerType?: string | undefined
  /** the model id sent upstream */
  readonly model?: string | undefined
  readonly url: string
  /** which try, from 1 */
  readonly attempt?: number | undefined
  /** `chat` unless said (GenAI `gen_ai.operation.name`) */
  readonly operation?: string | undefined
  /** the model id as the span may show it (the client chose it: its secrets masked), made only when tracing */
  readonly shown?: ((text: string) => string) | undefined
}

const serverOf = (url: string): Attributes => {
  try {
    const { hostname, port, protocol } = new URL(url)
    return { [SpanAttr.serverAddress]: hostname.replace(/^\[|\]$/g, ""), [SpanAttr.serverPort]: port === "" ? (protocol === "https:" ? 443 : 80) : Number(port) }
  } catch {
    return {}
  }
}

/**
 * One try of an upstream call as a CLIENT span `{operation} {model}` (GenAI: `chat gpt-4o`), from the
 * request until the response headers. Set the status inside it with `annotateUpstreamStatus`.
 */
export const upstreamAttemptSpan = (attempt: UpstreamAttempt) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  inSpan(self, () => {
    const operation = attempt.operation ?? "chat"
    const model = attempt.model === undefined ? undefined : (attempt.shown?.(attempt.model) ?? attempt.model)
    return {
      name: model === undefined || model === "" ? operation : `${operation} ${model}`,
      kind: "client",
      attributes: {
        [SpanAttr.operationName]: operation,
        [SpanAttr.providerName]: attempt.providerType === undefined ? undefined : genAiProviderName(attempt.providerType),
        [SpanAttr.requestModel]: model,
        [SpanAttr.provider]: attempt.provider,
        [SpanAttr.attempt]: attempt.attempt,
        ...serverOf(attempt.url)
      }
    }
  })

/** The provider's HTTP status on the current (attempt) span; 4xx and 5xx are its `error.type`. */
export const annotateUpstreamStatus = (status: number): Effect.Effect<void> =>
  annotate(() => ({ [SpanAttr.httpStatus]: status, ...(status >= 400 ? { [SpanAttr.errorType]: String(status) } : {}) }))

const noHeaders: Readonly<Record<string, string>> = {}

/**
 * `traceparent` naming the current span (the attempt's, when called inside `upstreamAttemptSpan`),
 * when `enabled` (--trace-to-providers) and tracing; no header otherwise. The caller's own trace
 * headers are never what is sent: this is the gateway's span, in the caller's trace.
 */
export const traceHeaders = (enabled: boolean | undefined): Effect.Effect<Readonly<Record<string, string>>> =>
  enabled !== true ? Effect.succeed(noHeaders) : Effect.withFiber((fiber) => {
    if (!recording(fiber)) return Effect.succeed(noHeaders)
    return Effect.map(Effect.option(Effect.currentSpan), (span) =>
      span._tag === "None" ? noHeaders : { traceparent: HttpTraceContext.toHeaders(span.value)["traceparent"]! })
  })
