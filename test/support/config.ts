import { type GatewayConfigShape, parseConfig } from "../../src/config.ts"

/** Defaults for tests: every default, local mode off, auth off, short retry waits. */
export const testConfig = (overrides: Partial<GatewayConfigShape> = {}): GatewayConfigShape => ({
  ...parseConfig([], {}),
  namespace: "default",
  auth: "none",
  retryMaxWait: 2_000,
  ...overrides
})
