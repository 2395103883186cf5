/**
 * What the tiers that run real programs share: whether a program is installed (they skip loudly
 * without it), a free loopback port, and a kustomize build of k8s/ with one of its components.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, relative, resolve } from "node:path"
import { parseAllDocuments } from "yaml"

/** Why `command` cannot be used (`how` says how to install it), or undefined when `command args` runs. */
export const missing = (command: string, args: ReadonlyArray<string>, how: string): string | undefined => {
  try {
    execFileSync(command, args, { stdio: "ignore" })
    return undefined
  } catch {
    return `${command} is not installed (${how})`
  }
}

/** Whether `command` is on PATH. */
export const onPath = (command: string): boolean => missing("sh", ["-c", `command -v ${command}`], "") === undefined

export const freePort = () =>
  new Promise<number>((done) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port
      s.close(() => done(port))
    })
  })

const k8s = resolve(import.meta.dirname, "../../k8s")

/** The objects of k8s/ with `k8s/components/<name>`, as `kubectl kustomize` builds an operator's kustomization of them. */
export const kustomizeWith = (name: string): Array<any> => {
  const dir = mkdtempSync(join(tmpdir(), "orka-kustomize-"))
  try {
    writeFileSync(join(dir, "kustomization.yaml"), `resources: [${relative(dir, k8s)}]\ncomponents: [${relative(dir, join(k8s, "components", name))}]\n`)
    return parseAllDocuments(execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8" })).map((d) => d.toJS())
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
