/**
 * The bench's child processes: started with a raised file-descriptor limit, killed when the bench
 * exits however it exits, and measured from /proc (CPU ticks, VmRSS, VmHWM).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { createInterface } from "node:readline"

const children = new Set<ChildProcess>()
const killAll = () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}
process.on("exit", killAll)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    killAll()
    process.exit(130)
  })
}

export interface Child {
  readonly name: string
  readonly pid: number
  readonly process: ChildProcess
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited */
  readonly stop: (graceMs?: number) => Promise<void>
}

/**
 * Spawns `command args` through `sh` to raise `ulimit -n` to its hard limit (1000 held streams need
 * over 2000 sockets in a proxy); `exec` keeps the pid, so /proc/<pid> is the program itself.
 * stdin stays a pipe: our own children exit when it closes, so even a SIGKILLed bench leaves none.
 */
export const startChild = (name: string, command: string, args: ReadonlyArray<string>, options: {
  readonly env?: Record<string, string>
  readonly ipc?: boolean
  /** a file descriptor sends it to a file */
  readonly stdout?: "pipe" | "ignore" | "inherit" | number
  readonly cwd?: string
} = {}): Child => {
  const child = spawn("sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", command, ...args], {
    stdio: ["pipe", options.stdout ?? "pipe", "inherit", ...(options.ipc ? ["ipc" as const] : [])],
    env: { ...process.env, ...options.env },
    cwd: options.cwd
  })
  children.add(child)
  child.on("exit", () => children.delete(child))
  const stop = (graceMs = 2000) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
      child.once("exit", () => {
        clearTimeout(timer)
        resolve()
      })
      child.kill("SIGTERM")
    })
  return { name, pid: child.pid!, process: child, stop }
}

/** The first stdout line of a child that prints `{"port":…}` when it listens. */
export const firstLine = (child: Child, timeoutMs = 10_000) =>
  new Promise<any>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.name} did not report within ${timeoutMs} ms`)), timeoutMs)
    child.process.once("exit", (code) => reject(new Error(`${child.name} exited (${code}) before reporting`)))
    createInterface({ input: child.process.stdout! }).once("line", (line) => {
      clearTimeout(timer)
      resolve(JSON.parse(line))
    })
  })

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

/** Polls `url` until it answers 200; the milliseconds it took. */
export const waitFor200 = async (url: string, timeoutMs = 20_000, everyMs = 10): Promise<number> => {
  const started = performance.now()
  for (;;) {
    const ok = await fetch(url).then((r) => (r.body?.cancel(), r.status === 200), () => false)
    if (ok) return performance.now() - started
    if (performance.now() - started > timeoutMs) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU seconds (user + system) the process has used so far. */
export const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** CPU seconds the whole machine has been busy (user, nice, system, irq, softirq: all cores). */
export const machineBusySeconds = (): number => {
  const [, user, nice, system, , , irq, softirq] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).map(Number)
  return (user! + nice! + system! + irq! + softirq!) / ticksPerSecond
}

/** CPU seconds used so far by this process and its children (those still running). */
const benchSeconds = (): Map<number, number> => {
  const used = new Map<number, number>()
  const self = process.cpuUsage()
  used.set(process.pid, (self.user + self.system) / 1e6)
  for (const child of children) {
    try {
      used.set(child.pid!, cpuSeconds(child.pid!))
    } catch {
      // exited meanwhile
    }
  }
  return used
}

/** Cores the rest of the machine used over the next `ms`: what a busy neighbour takes from the bench. */
export const outsideCores = async (ms: number): Promise<number> => {
  const machine0 = machineBusySeconds()
  const ours0 = benchSeconds()
  const started = performance.now()
  await new Promise((r) => setTimeout(r, ms))
  const seconds = (performance.now() - started) / 1000
  const ours1 = benchSeconds()
  let ours = 0
  for (const [pid, cpu] of ours1) if (ours0.has(pid)) ours += cpu - ours0.get(pid)!
  return Math.max(0, (machineBusySeconds() - machine0) / seconds - ours / seconds)
}

/**
 * Waits, up to `maxMs`, until the rest of the machine uses less than `cores` (sampled over 150 ms):
 * measuring while a neighbour is busy would charge its CPU to whichever participant runs then.
 * Answers the milliseconds waited, or undefined if it never got quiet.
 */
export const waitQuiet = async (maxMs: number, cores = 0.15): Promise<number | undefined> => {
  const started = performance.now()
  for (;;) {
    if ((await outsideCores(150)) < cores) return performance.now() - started - 150
    if (performance.now() - started > maxMs) return undefined
  }
}

/** VmRSS and VmHWM in MB. */
export const memory = (pid: number): { rss: number; hwm: number } => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN)
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 }
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"), so a scenario's peak is its own. */
export const resetPeak = (pid: number): boolean => {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5")
    return true
  } catch {
    return false
  }
}

/**
 * Watches processes over one scenario: CPU used (in cores: CPU seconds / wall seconds), RSS at the
 * start and at its peak, both VmHWM (reset at the start) and VmRSS sampled every 200 ms. `others` is the CPU the rest
 * of the machine used meanwhile (this process included): a busy neighbour skews every figure.
 */
export const watch = (pids: Record<string, number>) => {
  const started = performance.now()
  const machine0 = machineBusySeconds()
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]))
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, (resetPeak(pid), memory(pid).rss)]))
  const peak = { ...start }
  const timer = setInterval(() => {
    for (const [k, pid] of Object.entries(pids)) peak[k] = Math.max(peak[k]!, memory(pid).rss)
  }, 200)
  return {
    stop: (): Record<string, { cores: number; startRss: number; peakRss: number; hwm: number }> => {
      clearInterval(timer)
      const seconds = (performance.now() - started) / 1000
      const used = Object.fromEntries(Object.entries(pids).map(([k, pid]) => {
        const m = memory(pid)
        return [k, { cores: (cpuSeconds(pid) - cpu0[k]!) / seconds, startRss: start[k]!, peakRss: Math.max(peak[k]!, m.rss), hwm: m.hwm }]
      }))
      const watched = Object.values(used).reduce((n, u) => n + u.cores, 0)
      return { ...used, others: { cores: Math.max(0, (machineBusySeconds() - machine0) / seconds - watched), startRss: NaN, peakRss: NaN, hwm: NaN } }
    }
  }
}

/**
 * How fast this machine runs a fixed piece of work now: 20,000 JSON round trips of a 4 KB chat
 * request in this process, five times (ms: the best and the median). On an idle 2-core VM its time
 * moved by half from one try to the next: an hour's runs compare only with this beside them.
 */
export const machineSpeed = (): { readonly bestMs: number; readonly medianMs: number } => {
  const request = {
    model: "claude-test",
    max_tokens: 64,
    messages: Array.from({ length: 20 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content: `message number ${i} `.repeat(10) }))
  }
  const times = Array.from({ length: 5 }, () => {
    const started = performance.now()
    let kept = 0
    for (let i = 0; i < 20_000; i++) kept += (JSON.parse(JSON.stringify(request)) as typeof request).messages.length
    if (kept !== 400_000) throw new Error("the calibration's work was not done")
    return performance.now() - started
  }).sort((a, b) => a - b)
  return { bestMs: times[0]!, medianMs: times[2]! }
}
