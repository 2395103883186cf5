/**
 * The listening socket: plain HTTP, or HTTPS when a certificate is configured (re-read when the files
 * change, as when cert-manager rotates a mounted Secret). Shutdown lets in-flight requests, long
 * streams included, finish for up to the grace period.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { readFileSync, unwatchFile, watchFile } from "node:fs"
import { createServer, type Server } from "node:http"
import { createServer as createTlsServer } from "node:https"
import type { GatewayConfigShape } from "./config.ts"

const readPair = (cert: string, key: string) => ({ cert: readFileSync(cert), key: readFileSync(key) })

export const socketLayer = (config: GatewayConfigShape) => {
  const options = { host: config.host, port: config.port, gracefulShutdownTimeout: config.shutdownGracePeriod }
  const { tlsCertFile: cert, tlsPrivateKeyFile: key } = config
  if (cert === undefined || key === undefined) return NodeHttpServer.layer(createServer, options)

  const server = createTlsServer(readPair(cert, key))
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
