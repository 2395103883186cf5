/** The Prometheus text format as a scrape of `/metrics` reads it, for the tests that check what the gateway exports. */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}
export interface Scrape {
  /** `# TYPE` lines: family name → counter, gauge, histogram… */
  readonly types: ReadonlyMap<string, string>
  readonly samples: ReadonlyArray<Sample>
}

const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))
const numberOf = (v: string) => (v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v))

/** `# TYPE name kind` and `name{label="value",…} value [timestamp]` lines; other comments skipped. */
export const parseExposition = (text: string): Scrape => {
  const types = new Map<string, string>()
  const samples: Array<Sample> = []
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) types.set(type[1]!, type[2]!)
    if (line.trim() === "" || line.startsWith("#")) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k!, unescape(v!)]))
    samples.push({ name: m[1]!, labels, value: numberOf(m[3]!) })
  }
  return { types, samples }
}
