/**
 * Limit counters in Redis, shared by every replica: a request's whole check-and-charge is one Lua
 * script (one round trip, atomic, so replicas never race for the last unit), and so is its
 * settlement. Counters are plain integers that expire when their period ends (PEXPIREAT); a slot set
 * is a sorted set of holders scored by their lease's end, pruned on every charge, expiring with its
 * last lease. Keys are `orka:limit:…`; every key of one request is used by one script, so this needs
 * one Redis (or a primary with replicas), not Redis Cluster.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { connectRedis } from "./redis-client.ts"
import type { Reply } from "./resp.ts"
import { type Charge, CountersUnavailable, type LimitCountersShape } from "./limit-counters.ts"

/**
 * KEYS: the counters, then the slot sets. ARGV: the number of counters, now, then per counter its
 * limit, cost and period end, then per slot set its limit, holder and lease end. Returns
 * `{admitted, used…, held…}`.
 */
const chargeScript = `
local n = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local m = #KEYS - n
local out = {1}
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  out[1 + i] = used
  if used >= tonumber(ARGV[3 * i]) then out[1] = 0 end
end
for j = 1, m do
  local key = KEYS[n + j]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local held = redis.call('ZCARD', key)
  out[1 + n + j] = held
  if held >= tonumber(ARGV[3 * n + 3 * j]) then out[1] = 0 end
end
if out[1] == 1 then
  for i = 1, n do
    out[1 + i] = redis.call('INCRBY', KEYS[i], ARGV[3 * i + 1])
    redis.call('PEXPIREAT', KEYS[i], ARGV[3 * i + 2])
  end
  for j = 1, m do
    local key = KEYS[n + j]
    local lease = tonumber(ARGV[3 * n + 3 * j + 2])
    redis.call('ZADD', key, lease, ARGV[3 * n + 3 * j + 1])
    local ttl = redis.call('PTTL', key)
    if ttl < 0 or now + ttl < lease then redis.call('PEXPIREAT', key, lease) end
    out[1 + n + j] = out[1 + n + j] + 1
  end
end
return out
`

/** KEYS: the counters to adjust, then the slot sets. ARGV: the number of counters, each counter's delta, each slot's holder. */
const settleScript = `
local n = tonumber(ARGV[1])
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    if redis.call('INCRBY', KEYS[i], ARGV[1 + i]) < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
  end
end
for j = n + 1, #KEYS do redis.call('ZREM', KEYS[j], ARGV[1 + j]) end
return 0
`

/**
 * KEYS: slot sets. ARGV: now, then per key its holder and new lease end. A holder still in its set
 * (its lease not yet over) gets the later lease; the set lives at least as long.
 */
const renewScript = `
local now = tonumber(ARGV[1])
for j = 1, #KEYS do
  local holder = ARGV[2 * j]
  local lease = tonumber(ARGV[2 * j + 1])
  local current = tonumber(redis.call('ZSCORE', KEYS[j], holder) or '0')
  if current > now and lease > current then
    redis.call('ZADD', KEYS[j], 'XX', lease, holder)
    local ttl = redis.call('PTTL', KEYS[j])
    if ttl < 0 or now + ttl < lease then redis.call('PEXPIREAT', KEYS[j], lease) end
  end
end
return 0
`

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!

const isNumbers = (reply: Reply): reply is ReadonlyArray<number> => Array.isArray(reply) && reply.every((n) => typeof n === "number")

export const makeRedisCounters = (url: string, commandTimeout: number): Effect.Effect<LimitCountersShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { script } = yield* connectRedis({
      url,
      commandTimeout,
      down: "the limit counters (Redis) are unavailable: --limits-on-store-failure decides until they are back",
      back: "the limit counters (Redis) are available again"
    })
    const charge = script(chargeScript)
    const settle = script(settleScript)
    const renew = script(renewScript)
    const unavailable = (e: unknown) => new CountersUnavailable({ reason: reasonOf(e) })

    return {
      charge: (now, counters, slots) => {
        const keys = [...counters.map((c) => c.key), ...slots.map((s) => s.key)]
        const args = [
          counters.length,
          now,
          ...counters.flatMap((c) => [c.limit, c.cost, c.resetAt]),
          ...slots.flatMap((s) => [s.limit, s.holder, s.leaseUntil])
        ]
        return charge(keys, args).pipe(
          Effect.mapError(unavailable),
          Effect.flatMap((out) =>
            isNumbers(out)
              ? Effect.succeed<Charge>({ admitted: out[0] === 1, used: out.slice(1, 1 + counters.length), held: out.slice(1 + counters.length) })
              : Effect.fail(new CountersUnavailable({ reason: "the charge script answered with something other than numbers" }))
          )
        )
      },
      settle: (_now, { adjust, release }) => {
        if (adjust.length === 0 && release.length === 0) return Effect.void
        const keys = [...adjust.map((a) => a.key), ...release.map((r) => r.key)]
        const args = [adjust.length, ...adjust.map((a) => a.delta), ...release.map((r) => r.holder)]
        return settle(keys, args).pipe(Effect.mapError(unavailable), Effect.asVoid)
      },
      renew: (now, slots) => {
        if (slots.length === 0) return Effect.void
        const args = [now, ...slots.flatMap((s) => [s.holder, s.leaseUntil])]
        return renew(slots.map((s) => s.key), args).pipe(Effect.mapError(unavailable), Effect.asVoid)
      },
      where: "redis"
    } satisfies LimitCountersShape
  })
