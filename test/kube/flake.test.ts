/** flake.nix is not built here (no network for nixpkgs), but it must at least parse where nix is. */
import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"

const nix = (() => {
  try {
    execFileSync("nix-instantiate", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

describe("flake.nix", () => {
  it.skipIf(!nix)("parses (nix-instantiate --parse; install Debian's nix-bin to run this)", () => {
    const out = execFileSync("nix-instantiate", ["--parse", "flake.nix"], { cwd: new URL("../..", import.meta.url) }).toString()
    expect(out).toContain("devShells")
    expect(out).toContain("buildLayeredImage")
  })
})
