import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"
import SummaryReporter from "./test/support/summary-reporter.ts"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // vitest's default, one core fewer than the machine's, is one file at a time on 2 cores: most files
    // wait on sockets and child processes, so two at a time take two thirds of the time
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ["default", new SummaryReporter()]
  }
})
