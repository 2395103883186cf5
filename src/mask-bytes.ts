/**
 * Secrets masked in bytes on their way out: whole bodies, and streams chunk by chunk without holding
 * anything back but for what may be the start of a secret split across two chunks. A chunk that ends
 * in a byte no secret contains (an SSE event ends in "\n") is sent whole at once, so streams are not
 * delayed; one that ends in what could begin a secret keeps those few bytes for the next chunk.
 */
import * as Stream from "effect/Stream"
import { mask, perCaller, secretForms } from "./redact.ts"

export interface ByteMask {
  /** longest first */
  readonly secrets: ReadonlyArray<Buffer>
  /** every byte any secret contains */
  readonly bytes: ReadonlySet<number>
}

export const byteMask = (forms: ReadonlyArray<string>): ByteMask => {
  const secrets = forms.map((f) => Buffer.from(f, "utf8"))
  return { secrets, bytes: new Set(secrets.flatMap((s) => [...s])) }
}

const built = new WeakMap<ReadonlyArray<string>, ByteMask>()

/** `byteMask`, built once for each array of forms (the registered ones change rarely). */
export const byteMaskOnce = (forms: ReadonlyArray<string>): ByteMask => {
  let m = built.get(forms)
  if (m === undefined) built.set(forms, m = byteMask(forms))
  return m
}

/** `base` with a few more secrets (a request's own), longest first still. */
export const withSecrets = (base: ByteMask, forms: ReadonlyArray<string>): ByteMask => {
  if (forms.length === 0) return base
  const extra = byteMask(forms)
  return {
    secrets: [...base.secrets, ...extra.secrets].sort((a, b) => b.length - a.length),
    bytes: new Set([...base.bytes, ...extra.bytes])
  }
}

const byCaller = new WeakMap<ByteMask, (secrets: ReadonlyArray<string>) => ByteMask>()

/** `base` with a caller's credentials (every form of them), built once per caller while `base` stays the same. */
export const withCallerSecrets = (base: ByteMask, secrets: ReadonlyArray<string>): ByteMask => {
  if (secrets.length === 0) return base
  let ofCaller = byCaller.get(base)
  if (ofCaller === undefined) byCaller.set(base, ofCaller = perCaller((theirs) => withSecrets(base, secretForms(theirs))))
  return ofCaller(secrets)
}

const masked = Buffer.from(mask)

/** `data` with every secret replaced; the same object when none occurs (the common case). */
export const maskChunk = (m: ByteMask, data: Uint8Array): Uint8Array => {
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (!m.secrets.some((s) => buffer.includes(s))) return data
  // latin1 maps bytes to characters one to one: the other bytes come out exactly as they went in
  let text = buffer.toString("latin1")
  for (const s of m.secrets) text = text.replaceAll(s.toString("latin1"), masked.toString("latin1"))
  return Buffer.from(text, "latin1")
}

/** How many bytes at the end of `data` could be the start of a secret. */
const openPrefix = (m: ByteMask, data: Uint8Array): number => {
  const last = data[data.length - 1]
  if (last === undefined || !m.bytes.has(last)) return 0
  let longest = 0
  for (const s of m.secrets) {
    for (let k = Math.min(s.length - 1, data.length); k > longest; k--) {
      if (Buffer.compare(data.subarray(data.length - k), s.subarray(0, k)) === 0) {
        longest = k
        break
      }
    }
  }
  return longest
}

/** Masks a stream's chunks in turn: what of each goes out now, and what was held back once it is over. */
export interface ChunkMasker {
  /** the chunk masked, without the bytes that may begin a secret (undefined when nothing is left to send) */
  readonly chunk: (chunk: Uint8Array) => Uint8Array | undefined
  /** what was held back, once the stream is over: it ended without becoming a secret */
  readonly end: () => Uint8Array | undefined
}

export const chunkMasker = (m: ByteMask): ChunkMasker => {
  let held: Uint8Array | undefined
  return {
    chunk: (chunk) => {
      const data = maskChunk(m, held === undefined ? chunk : Buffer.concat([held, chunk]))
      const keep = openPrefix(m, data)
      held = keep === 0 ? undefined : data.subarray(data.length - keep)
      const out = keep === 0 ? data : data.subarray(0, data.length - keep)
      return out.length === 0 ? undefined : out
    },
    end: () => {
      const rest = held
      held = undefined
      return rest
    }
  }
}

export const maskStream = <E, R>(m: ByteMask, stream: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> => {
  if (m.secrets.length === 0) return stream
  return stream.pipe(
    Stream.mapAccum(() => chunkMasker(m), (masker, chunk) => {
      const out = masker.chunk(chunk)
      return [masker, out === undefined ? [] : [out]]
    }, {
      onHalt: (masker) => {
        const rest = masker.end()
        return rest === undefined ? [] : [rest]
      }
    })
  )
}
