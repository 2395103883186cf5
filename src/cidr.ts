/** An IP range written as CIDR (`10.0.0.0/8`, `fd00::/8`, or one address). */
import { isIP } from "node:net"

export type Cidr = readonly [address: string, prefix: number, family: "ipv4" | "ipv6"]

/** Throws an Error naming the text when it is not a CIDR. */
export const parseCidr = (cidr: string): Cidr => {
  const [address = "", bits] = cidr.trim().split("/")
  const family = isIP(address)
  const max = family === 4 ? 32 : 128
  const prefix = bits === undefined ? max : Number(bits)
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`not a CIDR: ${cidr}`)
  return [address, prefix, family === 4 ? "ipv4" : "ipv6"]
}
