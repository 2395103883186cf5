/**
 * An OTLP/HTTP trace receiver on a loopback port, as a collector would be: `POST /v1/traces` with
 * JSON (`resourceSpans[].scopeSpans[].spans[]`), each span kept with its resource's attributes and
 * its own as plain values.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  /** OTLP's numbers: 1 internal, 2 server, 3 client */
  readonly kind: number
  readonly attributes: Readonly<Record<string, unknown>>
  readonly resource: Readonly<Record<string, unknown>>
  /** 0 unset, 1 ok, 2 error */
  readonly status: { readonly code: number; readonly message?: string }
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Readonly<Record<string, unknown>> }>
}

export interface OtlpReceiver {
  /** for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds /v1/traces) */
  readonly url: string
  readonly spans: Array<ReceivedSpan>
  /** requests that were not a JSON trace export */
  readonly rejected: Array<string>
  close(): Promise<void>
}

interface AnyValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  readonly intValue?: string | number
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values?: ReadonlyArray<AnyValue> }
}
type KeyValues = ReadonlyArray<{ readonly key: string; readonly value: AnyValue }> | undefined

const valueOf = (v: AnyValue): unknown =>
  v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ??
    v.arrayValue?.values?.map(valueOf)

const record = (attributes: KeyValues): Record<string, unknown> => Object.fromEntries((attributes ?? []).map(({ key, value }) => [key, valueOf(value)]))

const spansOf = (body: any): Array<ReceivedSpan> =>
  (body.resourceSpans ?? []).flatMap((rs: any) => {
    const resource = record(rs.resource?.attributes)
    return (rs.scopeSpans ?? []).flatMap((ss: any) =>
      (ss.spans ?? []).map((s: any): ReceivedSpan => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId || undefined,
        name: s.name,
        kind: s.kind,
        attributes: record(s.attributes),
        resource,
        status: s.status ?? { code: 0 },
        events: (s.events ?? []).map((e: any) => ({ name: e.name, attributes: record(e.attributes) }))
      }))
    )
  })

export const startOtlpReceiver = async (): Promise<OtlpReceiver> => {
  const spans: Array<ReceivedSpan> = []
  const rejected: Array<string> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      try {
        if (req.method !== "POST" || req.url !== "/v1/traces" || !/json/.test(req.headers["content-type"] ?? "")) throw new Error("not a JSON trace export")
        spans.push(...spansOf(JSON.parse(text)))
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{}")
      } catch (e) {
        rejected.push(`${req.method} ${req.url} ${req.headers["content-type"]}: ${(e as Error).message}`)
        res.writeHead(400, { "content-type": "application/json" })
        res.end(JSON.stringify({ message: (e as Error).message }))
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    rejected,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) })
  }
}
