/**
 * Ends every run with one plain `N passed, N failed, N skipped` line, a summary any CI can read
 * whatever the runner's own formatting.
 */
import type { Reporter, SerializedError, TestModule } from "vitest/node"

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    const count = { passed: 0, failed: 0, skipped: 0 }
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === "passed") count.passed++
        else if (state === "failed") count.failed++
        else count.skipped++
      }
      // a file that failed to load, or whose hooks failed, failed even if none of its tests did
      if (module.state() === "failed" && [...module.children.allTests("failed")].length === 0) count.failed++
    }
    count.failed += unhandledErrors.length
    process.stdout.write(`\n${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped\n`)
  }
}
