/**
 * What a --redis-url names: `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS
 * (the server's certificate checked against the system's CAs and NODE_EXTRA_CA_CERTS).
 */
export interface RedisTarget {
  readonly host: string
  readonly port: number
  readonly tls: boolean
  readonly username: string | undefined
  readonly password: string | undefined
  readonly db: number
}

/** Throws an Error that names what is wrong, never the URL itself (it may hold a password). */
export const redisTargetOf = (url: string): RedisTarget => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error("--redis-url is not a URL (expected redis://[:password@]host:port[/db])")
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new Error(`--redis-url must start with redis:// or rediss://, not ${parsed.protocol}//`)
  }
  if (parsed.hostname === "") throw new Error("--redis-url names no host")
  const path = parsed.pathname.replace(/^\//, "")
  const db = path === "" ? 0 : Number(path)
  if (!Number.isInteger(db) || db < 0) throw new Error(`--redis-url's database must be a number, got "${path}"`)
  const decoded = (text: string) => (text === "" ? undefined : decodeURIComponent(text))
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    tls: parsed.protocol === "rediss:",
    username: decoded(parsed.username),
    password: decoded(parsed.password),
    db
  }
}

/** The URL as it may be logged. */
export const withoutCredentials = (url: string): string => {
  try {
    const parsed = new URL(url)
    parsed.username = ""
    parsed.password = ""
    return parsed.toString()
  } catch {
    return "(the configured --redis-url)"
  }
}
