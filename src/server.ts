/**
 * The listening socket: plain HTTP, or HTTPS when a certificate is configured (re-read when the files
 * change, as when cert-manager rotates a mounted Secret). Shutdown lets in-flight requests, long
 * streams included, finish for up to the grace period.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readFileSync, unwatchFile, watchFile } from "node:fs"
import { createServer, type Server, STATUS_CODES } from "node:http"
import { createServer as createTlsServer } from "node:https"
import type { Duplex } from "node:stream"
import type { GatewayConfigShape } from "./config.ts"
import { gatewayError } from "./errors.ts"
import { dialectOf } from "./http/boundary.ts"
import { errorEnvelope } from "./http/respond.ts"

/**
 * What Node's HTTP parser rejects never reaches the router (an unknown method, headers over the
 * limit, a malformed request line): while the socket can still take an answer, it gets a JSON error
 * in the dialect of the path it asked for, instead of Node's bare `400 Bad Request`.
 */
export const answerClientErrors = <S extends Server>(server: S): S => {
  server.on("clientError", (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => {
    if (err.code === "ECONNRESET" || !socket.writable) return void socket.destroy()
    const error = err.code === "HPE_HEADER_OVERFLOW"
      ? gatewayError("headers_too_large", "the request headers are larger than this server accepts")
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? gatewayError("invalid_request", "the request did not arrive in time", { status: 408, retryable: true })
      : gatewayError("invalid_request", err.code === "HPE_INVALID_METHOD" ? "the request method is not one this server knows" : "the request is not valid HTTP")
    const path = /^\S+ (\S+)/.exec(err.rawPacket?.toString("latin1", 0, 256) ?? "")?.[1] ?? ""
    const { body, status } = errorEnvelope(dialectOf(path), error)
    const text = JSON.stringify(body)
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
        `x-should-retry: ${error.retryable}\r\nconnection: close\r\n\r\n${text}`
    )
  })
  return server
}

const readPair = (cert: string, key: string) => ({ cert: readFileSync(cert), key: readFileSync(key) })

export const socketLayer = (config: GatewayConfigShape) => {
  const options = { host: config.host, port: config.port, gracefulShutdownTimeout: config.shutdownGracePeriod }
  const { tlsCertFile: cert, tlsPrivateKeyFile: key } = config
  if (cert === undefined || key === undefined) return NodeHttpServer.layer(() => answerClientErrors(createServer()), options)

  const server = answerClientErrors(createTlsServer(readPair(cert, key)))
  const reload = () => {
    try {
      server.setSecureContext(readPair(cert, key))
    } catch {
      // a rotation caught half-way: keep serving the previous pair until the next change
    }
  }
  const watching = Layer.effectDiscard(Effect.acquireRelease(
    Effect.sync(() => {
      watchFile(cert, { interval: 2000 }, reload)
      watchFile(key, { interval: 2000 }, reload)
    }),
    () => Effect.sync(() => {
      unwatchFile(cert)
      unwatchFile(key)
    })
  ))
  // An https.Server is an http.Server for everything the Node HTTP layer does with it.
  return Layer.merge(NodeHttpServer.layer(() => server as unknown as Server, options), watching)
}
