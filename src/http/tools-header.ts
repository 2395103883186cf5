import { Effect } from "effect"
import { type GatewayError, invalidRequest } from "../errors.ts"

/** `X-Orka-Tools`: server-side tools are not offered yet, so both values mean a plain proxy. */
export const toolsHeader = (headers: Readonly<Record<string, string | undefined>>): Effect.Effect<void, GatewayError> => {
  const value = headers["x-orka-tools"]?.trim().toLowerCase()
  return value === undefined || value === "enabled" || value === "disabled"
    ? Effect.void
    : Effect.fail(invalidRequest(`X-Orka-Tools must be "enabled" or "disabled", got "${value}"`))
}
