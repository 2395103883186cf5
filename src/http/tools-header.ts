import * as Effect from "effect/Effect"
import { type GatewayError, invalidRequest } from "../errors.ts"

import type { ToolsSetting } from "./plan.ts"

/** `X-Orka-Tools: enabled | disabled`, case-insensitive; undefined when absent or empty. */
export const toolsHeader = (headers: Readonly<Record<string, string | undefined>>): Effect.Effect<ToolsSetting | undefined, GatewayError> => {
  const raw = headers["x-orka-tools"]?.trim()
  const value = raw === "" ? undefined : raw?.toLowerCase()
  return value === undefined || value === "enabled" || value === "disabled"
    ? Effect.succeed(value)
    : Effect.fail(invalidRequest(`X-Orka-Tools must be "enabled" or "disabled", got "${raw}"`))
}

/** `X-Orka-Tool-Progress: comments | events` (default comments): how server-side tool progress shows. */
export const progressHeader = (headers: Readonly<Record<string, string | undefined>>): Effect.Effect<"comments" | "events", GatewayError> => {
  const raw = headers["x-orka-tool-progress"]?.trim()
  const value = raw === undefined || raw === "" ? "comments" : raw.toLowerCase()
  return value === "comments" || value === "events"
    ? Effect.succeed(value)
    : Effect.fail(invalidRequest(`X-Orka-Tool-Progress must be "comments" or "events", got "${raw}"`))
}
