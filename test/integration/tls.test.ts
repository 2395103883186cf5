/** HTTPS serving with a certificate that is re-read when it is rotated on disk. */
import { execFileSync } from "node:child_process"
import { mkdtempSync, renameSync } from "node:fs"
import { request } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, Scope, Exit, Context } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { describe, expect, it } from "vitest"
import { testConfig } from "../support/config.ts"
import { socketLayer } from "../../src/server.ts"

const dir = mkdtempSync(join(tmpdir(), "orka-tls-"))
const makeCert = (name: string) => {
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.crt`)
  ], { stdio: "ignore" })
}

/** The common name of the certificate the server presents. */
const servedName = (port: number) =>
  new Promise<string>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", rejectUnauthorized: false, agent: false }, (res) => {
      const cert = (res.socket as import("node:tls").TLSSocket).getPeerCertificate()
      res.resume()
      resolve(String(cert.subject.CN))
    })
    req.on("error", reject)
    req.end()
  })

describe("TLS", () => {
  it("serves HTTPS and picks up a rotated certificate without a restart", async () => {
    makeCert("first")
    makeCert("second")
    const cert = join(dir, "tls.crt")
    const key = join(dir, "tls.key")
    renameSync(join(dir, "first.crt"), cert)
    renameSync(join(dir, "first.key"), key)

    const config = testConfig({ host: "127.0.0.1", port: 0, tlsCertFile: cert, tlsPrivateKeyFile: key })
    const app = HttpRouter.serve(HttpRouter.add("GET", "/", HttpServerResponse.text("ok")), { disableLogger: true, disableListenLog: true })
    const scope = Effect.runSync(Scope.make())
    const ctx = await Effect.runPromise(Layer.buildWithScope(app.pipe(Layer.provideMerge(socketLayer(config))), scope))
    const address = Context.get(ctx, HttpServer.HttpServer).address as { port: number }
    try {
      expect(await servedName(address.port)).toBe("first")
      renameSync(join(dir, "second.crt"), cert)
      renameSync(join(dir, "second.key"), key)
      const deadline = Date.now() + 8_000
      while ((await servedName(address.port)) !== "second") {
        if (Date.now() > deadline) throw new Error("rotated certificate not served")
        await new Promise((r) => setTimeout(r, 200))
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})
