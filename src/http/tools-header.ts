import { Effect } from "effect"
import { type GatewayError, invalidRequest } from "../errors.ts"

export type ToolsSetting = "enabled" | "disabled"

/** `X-Orka-Tools: enabled | disabled`, case-insensitive; undefined when absent. */
export const toolsHeader = (headers: Readonly<Record<string, string | undefined>>): Effect.Effect<ToolsSetting | undefined, GatewayError> => {
  const value = headers["x-orka-tools"]?.trim().toLowerCase()
  return value === undefined || value === "enabled" || value === "disabled"
    ? Effect.succeed(value)
    : Effect.fail(invalidRequest(`X-Orka-Tools must be "enabled" or "disabled", got "${value}"`))
}
