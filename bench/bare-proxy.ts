/**
 * The floor for this runtime: a node:http server that forwards method, path, headers and body bytes
 * to the upstream over a keep-alive Agent and pipes the answer back, parsing nothing.
 *   node bench/bare-proxy.ts <upstream port>
 * Prints {"port"} once listening; exits when stdin closes.
 */
import { Agent, createServer, request } from "node:http"

const upstreamPort = Number(process.argv[2])
const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 4096 })

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const out = request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    answer.pipe(res)
  })
  out.on("error", () => {
    if (!res.headersSent) res.writeHead(502)
    res.end()
  })
  // a client that goes away takes its upstream request with it
  res.on("close", () => {
    if (!res.writableFinished) out.destroy()
  })
  req.pipe(out)
})
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })))
process.stdin.on("end", () => process.exit(0)).resume()
