/**
 * Which addresses a server-side tool may connect to. A model can be talked into fetching anything,
 * so loopback, link-local (cloud metadata at 169.254.169.254), private, shared and multicast ranges,
 * and the cluster's own service and pod ranges are refused unless explicitly allowed.
 *
 * The check runs inside the socket's DNS lookup (`guardedLookup`), so the address that is vetted is
 * the address that is dialed: a name that resolves to 10.x, or changes its answer between a check
 * and the connection (DNS rebinding), is refused too.
 */
import { BlockList, isIP } from "node:net"
import { lookup as dnsLookup, type LookupAddress } from "node:dns"
import { type Cidr, parseCidr } from "../cidr.ts"

/** Ranges no tool may reach unless allowed: IANA special-purpose blocks and the private networks. */
const refusedRanges: ReadonlyArray<Cidr> = [
  ["0.0.0.0", 8, "ipv4"], // "this network"
  ["10.0.0.0", 8, "ipv4"],
  ["100.64.0.0", 10, "ipv4"], // carrier-grade NAT
  ["127.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"], // link-local, cloud metadata
  ["172.16.0.0", 12, "ipv4"],
  ["192.0.0.0", 24, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["198.18.0.0", 15, "ipv4"], // benchmarking
  ["224.0.0.0", 4, "ipv4"], // multicast
  ["240.0.0.0", 4, "ipv4"], // reserved, broadcast
  ["::", 128, "ipv6"],
  ["::1", 128, "ipv6"],
  ["fc00::", 7, "ipv6"], // unique local
  ["fe80::", 10, "ipv6"], // link-local
  ["ff00::", 8, "ipv6"], // multicast
  ["64:ff9b::", 96, "ipv6"] // NAT64 can reach IPv4 private space
]

export interface AddressPolicy {
  /** true when a connection to this IP address must be refused */
  readonly refuses: (address: string) => boolean
}

/**
 * `blocked`: extra ranges to refuse (the cluster's service and pod CIDRs);
 * `allowed`: ranges to permit even inside a refused one (an internal search service, say).
 */
export const addressPolicy = (options: { readonly blocked?: ReadonlyArray<string>; readonly allowed?: ReadonlyArray<string> } = {}): AddressPolicy => {
  const refused = new BlockList()
  for (const [address, prefix, family] of [...refusedRanges, ...(options.blocked ?? []).map(parseCidr)]) refused.addSubnet(address, prefix, family)
  const allowed = new BlockList()
  for (const [address, prefix, family] of (options.allowed ?? []).map(parseCidr)) allowed.addSubnet(address, prefix, family)

  return {
    refuses: (raw) => {
      // IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it is
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw)
      const address = mapped?.[1] ?? raw
      const family = isIP(address) === 4 ? "ipv4" : isIP(address) === 6 ? "ipv6" : undefined
      if (family === undefined) return true
      if (allowed.check(address, family)) return false
      return refused.check(address, family)
    }
  }
}

export class RefusedAddress extends Error {
  readonly code = "ERR_ORKA_REFUSED_ADDRESS"
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | Array<LookupAddress>, family?: number) => void

/** Name resolution as `dns.lookup(name, { all: true })` does it; replaceable in tests. */
export type Resolver = (hostname: string, callback: (error: NodeJS.ErrnoException | null, addresses: Array<LookupAddress>) => void) => void

export const systemResolver: Resolver = (hostname, callback) => dnsLookup(hostname, { all: true }, callback)

/** A `lookup` for http(s).request that fails when any address the name resolves to is refused. */
export const guardedLookup = (policy: AddressPolicy, resolve: Resolver = systemResolver) =>
  (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    resolve(hostname, (error, addresses) => {
      if (error) return callback(error, [])
      const refused = addresses.find((a) => policy.refuses(a.address))
      if (refused !== undefined) {
        return callback(new RefusedAddress(`${hostname} resolves to ${refused.address}, which tools may not reach`), [])
      }
      if (options.all) return callback(null, addresses)
      const first = addresses[0]!
      callback(null, first.address, first.family)
    })
  }
