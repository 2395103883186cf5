import { defineConfig } from "vitest/config"
import SummaryReporter from "./test/support/summary-reporter.ts"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ["default", new SummaryReporter()]
  }
})
