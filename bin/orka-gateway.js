#!/usr/bin/env node
// Node ≥ 22.19 runs the TypeScript sources directly (type stripping); scripts/build.ts bundles this
// file, and what it imports, into dist/orka-gateway.js.
const [major, minor] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `orka-gateway needs Node >= 22.19 (this is ${process.version}); run it through npm (npm start, npm exec) to use the pinned Node.\n`
  )
  process.exit(1)
}
await import("../src/main.ts")
