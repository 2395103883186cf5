/**
 * OpenTelemetry traces from the real gateway, configured as in a pod by OTEL_* variables, exported to
 * an in-process OTLP receiver, and driven by the official `openai` SDK with a caller's `traceparent`:
 * the span tree of a request (server, admission, tool loop, tools, upstream attempts), and nothing at
 * all without the variables.
 */
import { Context, Effect, Exit, Layer, Scope, Tracer } from "effect"
import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type GatewayConfigShape } from "../../src/config.ts"
import { annotateUpstreamStatus, traced, traceHeaders, tracingLayer, tracingWanted, upstreamAttemptSpan } from "../../src/tracing.ts"
import { demoToken, type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "../support/otlp-receiver.ts"
import { type Answer, type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

const SERVER = 2
const CLIENT = 3

/** A caller's span, as an instrumented client sends it: a trace of its own for each test. */
const callerSpan = "00f067aa0ba902b7"
const newTrace = () => {
  const traceId = randomBytes(16).toString("hex")
  return { traceId, traceparent: `00-${traceId}-${callerSpan}-01` }
}
const { traceparent } = newTrace()

const otelEnv = (receiver: OtlpReceiver): Record<string, string> => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_BSP_SCHEDULE_DELAY: "50",
  OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test,k8s.namespace.name=default"
})

/** Sets process.env as a pod's spec would, for the gateway started inside; undone by the function returned. */
const withEnv = (vars: Record<string, string | undefined>) => {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
  set(vars)
  return () => set(before)
}

const otelNames = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME"]
const noOtel = Object.fromEntries(otelNames.map((k) => [k, undefined]))

/** A custom HTTP tool's endpoint. */
const startTicketService = async () => {
  const server = createServer((req: IncomingMessage, res) => {
    const ticket = req.url?.split("/").at(-1)
    if (ticket === "broken") {
      res.writeHead(500, { "content-type": "text/plain" })
      return res.end("database unavailable at db.internal")
    }
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ ticket, state: "open" }))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) })
  }
}

const ticketTool = (url: string) =>
  JSON.stringify({
    apiVersion: "core.orka.ai/v1alpha1",
    kind: "Tool",
    metadata: { name: "ticket" },
    spec: {
      description: "Looks a ticket up",
      parameters: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
      http: { url: `${url}/tickets/{{id}}`, method: "GET" }
    }
  })

const calling = (id: string, ticket: string): { answer: Answer } => ({
  answer: { toolCalls: [{ id, name: "ticket", fragments: [JSON.stringify({ id: ticket })] }], inputTokens: 100, outputTokens: 10 }
})
const saying = (...text: Array<string>): { answer: Answer } => ({ answer: { text, inputTokens: 200, outputTokens: 20 } })

/** The spans of a trace once `done` holds for them (exports are batched). */
const spansUntil = async (receiver: OtlpReceiver, traceId: string, done: (spans: ReadonlyArray<ReceivedSpan>) => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs
  const ofTrace = () => receiver.spans.filter((s) => s.traceId === traceId)
  while (!done(ofTrace()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  return ofTrace()
}

const childrenOf = (spans: ReadonlyArray<ReceivedSpan>, parent: ReceivedSpan) => spans.filter((s) => s.parentSpanId === parent.spanId)
const named = (spans: ReadonlyArray<ReceivedSpan>, name: string) => spans.filter((s) => s.name === name)

describe("with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  let receiver: OtlpReceiver
  let upstream: ScriptedUpstream
  let tickets: Awaited<ReturnType<typeof startTicketService>>
  let gateway: RunningGateway
  let openai: OpenAI
  let restoreEnv: () => void

  beforeAll(async () => {
    receiver = await startOtlpReceiver()
    upstream = await startScriptedUpstream()
    tickets = await startTicketService()
    restoreEnv = withEnv({ ...noOtel, ...otelEnv(receiver) })
    gateway = await startGateway({
      manifests: { ...scriptedProviders(upstream.url), "tools.yaml": ticketTool(tickets.url) },
      // the setting --trace-to-providers, read once config.ts has its row
      config: { chatProvider: "claude", toolMaxIterations: 4, ...({ traceToProviders: true } as Partial<GatewayConfigShape>) }
    })
    openai = new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0 })
  })
  afterAll(async () => {
    await gateway?.close()
    restoreEnv?.()
    await upstream?.close()
    await tickets?.close()
    await receiver?.close()
  })
  beforeEach(() => {
    receiver.spans.length = 0
    upstream.requests.length = 0
  })

  /** The one server span of the caller's request, and the spans of its trace. */
  const requestTrace = async (traceId: string, done: (spans: ReadonlyArray<ReceivedSpan>) => boolean) => {
    const spans = await spansUntil(receiver, traceId, (all) => all.some((s) => s.kind === SERVER) && done(all))
    const servers = spans.filter((s) => s.kind === SERVER)
    expect(servers).toHaveLength(1)
    return { server: servers[0]!, spans }
  }

  it("a chat: one server span in the caller's trace, named by its route, with the spans of admission as children", async () => {
    const trace = newTrace()
    upstream.script(saying("Hello", " there"))
    const answer = await openai.chat.completions.create(
      { model: "claude/claude-test", messages: [{ role: "user", content: "Hi" }] },
      { headers: { "x-orka-tools": "disabled", traceparent: trace.traceparent } }
    )
    expect(answer.choices[0]?.message.content).toBe("Hello there")

    const { server, spans } = await requestTrace(trace.traceId, (all) => named(all, "orka.resolve_model").length > 0)
    expect(server.parentSpanId).toBe(callerSpan)
    expect(server.name).toBe("POST /openai/v1/chat/completions")
    expect(server.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/openai/v1/chat/completions",
      "http.response.status_code": 200,
      "url.path": "/openai/v1/chat/completions",
      // a whole answer: its usage on the request's span
      "gen_ai.usage.input_tokens": 200,
      "gen_ai.usage.output_tokens": 20
    })
    expect(server.resource).toMatchObject({ "service.name": "orka-gateway", "deployment.environment.name": "test" })
    // the caller's token is in no attribute
    expect(JSON.stringify(spans)).not.toContain(demoToken)

    const children = childrenOf(spans, server)
    expect(children.map((s) => s.name)).toEqual(expect.arrayContaining(["orka.authenticate", "orka.authorize", "orka.resolve_model"]))
    expect(named(children, "orka.authorize")[0]?.attributes).toMatchObject({ "orka.access.verb": "create", "orka.access.resource": "chats" })
    expect(named(children, "orka.resolve_model")[0]?.attributes).toMatchObject({
      "gen_ai.request.model": "claude/claude-test",
      "gen_ai.provider.name": "anthropic",
      "orka.provider": "claude",
      "orka.model": "claude-test"
    })
  })

  it("a model id the client typed its token into is masked in every span: resolution, the tool loop, each attempt", async () => {
    const trace = newTrace()
    upstream.script(calling("toolu_9", "T-9"), saying("T-9 is open."))
    await openai.chat.completions.create(
      { model: `claude/${demoToken}`, messages: [{ role: "user", content: "T-9?" }] },
      { headers: { traceparent: trace.traceparent } }
    )
    const { spans } = await requestTrace(trace.traceId, (all) => all.filter((s) => s.kind === CLIENT).length >= 2 && named(all, "orka.tool_loop").length > 0)
    expect(named(spans, "orka.resolve_model")).toHaveLength(1)
    expect(named(spans, "orka.tool_loop.iteration").length).toBeGreaterThan(0)
    expect(JSON.stringify(spans)).not.toContain(demoToken)
  })

  it("the tool loop: a span per model call with its number and usage, and execute_tool with the GenAI attributes", async () => {
    const trace = newTrace()
    upstream.script(calling("toolu_1", "T-7"), saying("T-7 is open."))
    const answer = await openai.chat.completions.create(
      { model: "claude/claude-test", messages: [{ role: "user", content: "T-7?" }] },
      { headers: { traceparent: trace.traceparent } }
    )
    expect(answer.choices[0]?.message.content).toBe("T-7 is open.")

    const { server, spans } = await requestTrace(trace.traceId, (all) => named(all, "orka.tool_loop").length > 0)
    const [loop] = named(spans, "orka.tool_loop")
    expect(loop?.parentSpanId).toBe(server.spanId)
    expect(loop?.attributes).toMatchObject({ "orka.tool_loop.iterations": 2, "orka.tool_loop.outcome": "answered" })

    const iterations = childrenOf(spans, loop!).filter((s) => s.name === "orka.tool_loop.iteration")
    expect(iterations.map((s) => s.attributes["orka.tool_loop.iteration"]).sort()).toEqual([1, 2])
    expect(iterations.find((s) => s.attributes["orka.tool_loop.iteration"] === 1)?.attributes).toMatchObject({
      "gen_ai.request.model": "claude-test",
      "gen_ai.usage.input_tokens": 100,
      "gen_ai.usage.output_tokens": 10,
      "gen_ai.response.finish_reasons": ["tool_use"]
    })

    const [tool] = named(spans, "execute_tool ticket")
    expect(tool?.parentSpanId).toBe(loop?.spanId)
    expect(tool?.attributes).toMatchObject({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "ticket", "gen_ai.tool.call.id": "toolu_1" })
    expect(tool?.status.code).not.toBe(2)
  })

  it("a streamed tool loop keeps its spans in the caller's trace, under the request", async () => {
    const trace = newTrace()
    upstream.script(calling("toolu_2", "T-8"), saying("T-8 ", "is open."))
    const stream = await openai.chat.completions.create(
      { model: "claude/claude-test", stream: true, messages: [{ role: "user", content: "T-8?" }] },
      { headers: { traceparent: trace.traceparent } }
    )
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ""
    expect(text).toBe("T-8 is open.")

    const { server, spans } = await requestTrace(trace.traceId, (all) => named(all, "orka.tool_loop").length > 0)
    const [loop] = named(spans, "orka.tool_loop")
    expect(loop?.parentSpanId).toBe(server.spanId)
    expect(childrenOf(spans, loop!).map((s) => s.name).sort()).toEqual(["execute_tool ticket", "orka.tool_loop.iteration", "orka.tool_loop.iteration"])
  })

  it("a failing tool call is an error span with error.type, without its message", async () => {
    const trace = newTrace()
    upstream.script(calling("toolu_3", "broken"), saying("It failed."))
    await openai.chat.completions.create({ model: "claude/claude-test", messages: [{ role: "user", content: "T-9?" }] }, { headers: { traceparent: trace.traceparent } })
    const spans = await spansUntil(receiver, trace.traceId, (all) => named(all, "execute_tool ticket").length > 0)
    const [tool] = named(spans, "execute_tool ticket")
    expect(tool?.status.code).toBe(2)
    expect(tool?.attributes["error.type"]).toBe("ToolFailure")
    expect(tool?.status.message).toBe("ToolFailure")
    expect(JSON.stringify(tool)).not.toContain("db.internal")
  })

  it("a failed admission: the server span says the status, the failed span its error.type", async () => {
    const trace = newTrace()
    const res = await gateway.post("/openai/v1/chat/completions", { model: "nowhere/x", messages: [] }, { traceparent: trace.traceparent })
    expect(res.status).toBe(404)
    const { server, spans } = await requestTrace(trace.traceId, (all) => named(all, "orka.resolve_model").length > 0)
    expect(server.attributes["http.response.status_code"]).toBe(404)
    const [resolve] = named(spans, "orka.resolve_model")
    expect(resolve?.status.code).toBe(2)
    expect(typeof resolve?.attributes["error.type"]).toBe("string")
    // its message is not exported: the error's code stands for it
    expect(resolve?.status.message).toBe(resolve?.attributes["error.type"])
    expect(JSON.stringify(resolve?.events)).not.toContain("nowhere")
  })

  it("the caller's trace headers are never sent to a provider as they came", async () => {
    const { traceId, traceparent } = newTrace()
    upstream.script(saying("ok"))
    const res = await gateway.post("/openai/v1/chat/completions", { model: "claude/claude-test", messages: [{ role: "user", content: "Hi" }] }, {
      traceparent,
      tracestate: "vendor=secret-state",
      b3: `${traceId}-${callerSpan}-1`,
      "x-b3-traceid": traceId,
      "x-b3-spanid": callerSpan,
      "x-b3-sampled": "1",
      "uber-trace-id": `${traceId}:${callerSpan}:0:1`,
      "x-orka-tools": "disabled"
    })
    expect(res.status).toBe(200)
    const sent = upstream.requests[0]!.headers
    for (const name of ["tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "uber-trace-id"]) expect(sent[name]).toBeUndefined()
    expect(sent["traceparent"]).not.toBe(traceparent)
  })

  it("the upstream helpers: a CLIENT span per attempt, its status and error.type, and the traceparent naming it", async () => {
    const { traceId, traceparent } = newTrace()
    const caller = Tracer.externalSpan({ traceId, spanId: callerSpan })
    const attempt = (status: number) =>
      Effect.gen(function*() {
        const headers = yield* traceHeaders(true)
        yield* annotateUpstreamStatus(status)
        if (status >= 400) return yield* Effect.fail(new Error(`upstream said ${status} with sk-secret`))
        return headers
      }).pipe(upstreamAttemptSpan({ provider: "gpt", providerType: "azure-openai", model: "gpt-4o", url: "https://llm.example:8443/v1/chat", attempt: 1 }))
    const scope = Effect.runSync(Scope.make())
    const sent = await Effect.runPromise(
      Effect.gen(function*() {
        const headers = yield* attempt(200)
        yield* Effect.ignore(attempt(429))
        expect(yield* traceHeaders(false)).toEqual({})
        return headers
      }).pipe(Effect.withParentSpan(caller), Effect.provide(tracingLayer(otelEnv(receiver))), Scope.provide(scope))
    )
    await Effect.runPromise(Scope.close(scope, Exit.void))
    const spans = await spansUntil(receiver, traceId, (all) => all.length >= 2)
    const [ok, limited] = spans
    expect(ok).toMatchObject({ name: "chat gpt-4o", kind: CLIENT, parentSpanId: callerSpan })
    expect(ok?.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "azure.ai.openai",
      "gen_ai.request.model": "gpt-4o",
      "orka.provider": "gpt",
      "orka.upstream.attempt": 1,
      "server.address": "llm.example",
      "server.port": 8443,
      "http.response.status_code": 200
    })
    expect(sent).toEqual({ traceparent: `00-${traceId}-${ok?.spanId}-01` })
    expect(sent["traceparent"]).not.toBe(traceparent)
    expect(limited?.attributes).toMatchObject({ "http.response.status_code": 429, "error.type": "429" })
    expect(limited?.status).toEqual({ code: 2, message: "429" })
    expect(JSON.stringify(limited)).not.toContain("sk-secret")
  })

  // waits on the upstream attempts being wrapped with upstreamAttemptSpan (src/llm/upstream.ts)
  it("each upstream attempt is a CLIENT span `chat <model>` with the GenAI attributes and the provider's status", async () => {
    const trace = newTrace()
    upstream.script(saying("Hello"))
    await openai.chat.completions.create(
      { model: "claude/claude-test", messages: [{ role: "user", content: "Hi" }] },
      { headers: { "x-orka-tools": "disabled", traceparent: trace.traceparent } }
    )
    const { server, spans } = await requestTrace(trace.traceId, (all) => all.some((s) => s.kind === CLIENT))
    const [attempt] = spans.filter((s) => s.kind === CLIENT)
    expect(attempt?.name).toBe("chat claude-test")
    expect(attempt?.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-test",
      "server.address": "127.0.0.1",
      "http.response.status_code": 200
    })
    expect(attempt?.parentSpanId).toBe(server.spanId)
  })

  // waits on traceHeaders(config.traceToProviders) in the upstream call, and the --trace-to-providers row in config.ts
  it("with --trace-to-providers, a provider gets the attempt span's traceparent, in the caller's trace", async () => {
    const trace = newTrace()
    upstream.script(saying("Hello"))
    await openai.chat.completions.create(
      { model: "claude/claude-test", messages: [{ role: "user", content: "Hi" }] },
      { headers: { "x-orka-tools": "disabled", traceparent: trace.traceparent } }
    )
    const sent = upstream.requests[0]?.headers["traceparent"]
    expect(sent).toMatch(new RegExp(`^00-${trace.traceId}-[0-9a-f]{16}-01$`))
    const { spans } = await requestTrace(trace.traceId, (all) => all.some((s) => s.kind === CLIENT))
    expect(spans.find((s) => s.kind === CLIENT)?.spanId).toBe(String(sent).split("-")[2])
  })
})

describe("without OTEL_* variables, or with the SDK disabled", () => {
  it("the environment asks for tracing only with an endpoint, not disabled, and an otlp exporter", () => {
    expect(tracingWanted({})).toBe(false)
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true)
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" })).toBe(true)
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "TRUE" })).toBe(false)
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_TRACES_EXPORTER: "none" })).toBe(false)
    expect(() => tracingLayer({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector 4318" })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: expected a URL/)
    expect(() => tracingLayer({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(/http\/json or http\/protobuf/)
  })

  it("Effect keeps its native tracer, for which the HTTP server makes no span, and the gateway's spans are not made", async () => {
    const scope = Effect.runSync(Scope.make())
    const context = await Effect.runPromise(Layer.buildWithScope(tracingLayer({}), scope))
    expect(Context.get(context, Tracer.Tracer)).toBe(Tracer.nativeTracer)
    const inside = await Effect.runPromise(Effect.option(Effect.currentSpan).pipe(traced("orka.authenticate")))
    expect(inside._tag).toBe("None")
  })

  it("with OTEL_SDK_DISABLED, no span reaches the endpoint, whatever the requests", async () => {
    const receiver = await startOtlpReceiver()
    const upstream = await startScriptedUpstream()
    const tickets = await startTicketService()
    const restoreEnv = withEnv({ ...noOtel, ...otelEnv(receiver), OTEL_SDK_DISABLED: "true" })
    const gateway = await startGateway({ manifests: { ...scriptedProviders(upstream.url), "tools.yaml": ticketTool(tickets.url) }, config: { chatProvider: "claude" } })
    try {
      const openai = new OpenAI({ baseURL: gateway.openaiURL, apiKey: demoToken, maxRetries: 0, defaultHeaders: { traceparent } })
      upstream.script(calling("toolu_1", "T-1"), saying("done"))
      await openai.chat.completions.create({ model: "claude/claude-test", messages: [{ role: "user", content: "T-1?" }] })
      expect(upstream.requests[0]?.headers["traceparent"]).toBeUndefined()
    } finally {
      await gateway.close()
      restoreEnv()
    }
    await new Promise((r) => setTimeout(r, 200))
    expect(receiver.spans).toEqual([])
    await Promise.all([receiver.close(), upstream.close(), tickets.close()])
  })
})
