/**
 * The custom tools a conversation may use: `Tool` resources from the KubeClient cache, validated,
 * joined with their auth Secrets. A Tool that cannot run (invalid, no http endpoint, MCP only, a
 * missing Secret or key) is left out with its reason, which is what its status reports.
 */
import { Result, Schema } from "effect"
import type { KubeObject } from "../kube/client.ts"
import { Secret, secretValue } from "../kube/resources.ts"
import { Tool } from "../kube/tool-resource.ts"
import type { CustomTool } from "./runner.ts"

/** Why a Tool cannot be offered: `reason` is the CamelCase reason of its Ready condition. */
export interface ToolProblem {
  readonly reason: "InvalidSpec" | "Unsupported" | "SecretNotFound" | "SecretKeyMissing"
  readonly message: string
}

export interface ToolSnapshot {
  readonly usable: ReadonlyArray<CustomTool>
  /** name → why it cannot be offered */
  readonly unusable: ReadonlyMap<string, ToolProblem>
}

const decodeTool = Schema.decodeUnknownResult(Tool)
const decodeSecret = Schema.decodeUnknownResult(Secret)

export const buildToolSnapshot = (rawTools: ReadonlyArray<KubeObject>, rawSecrets: ReadonlyArray<KubeObject>, namespace: string): ToolSnapshot => {
  const secrets = new Map<string, Secret>()
  for (const raw of rawSecrets) {
    const decoded = decodeSecret(raw)
    if (Result.isSuccess(decoded)) secrets.set(decoded.success.metadata.name, decoded.success)
  }
  const usable: Array<CustomTool> = []
  const unusable = new Map<string, ToolProblem>()
  const invalid = (name: string, message: string) => unusable.set(name, { reason: "InvalidSpec", message })
  for (const raw of rawTools) {
    const name = raw.metadata?.name ?? "(unnamed)"
    const decoded = decodeTool(raw)
    if (Result.isFailure(decoded)) {
      invalid(name, `invalid spec: ${decoded.failure.message.split("\n")[0]}`)
      continue
    }
    const tool = decoded.success
    if (tool.spec.http === undefined) {
      if (tool.spec.mcp === undefined) invalid(name, "spec.http is required")
      else unusable.set(name, { reason: "Unsupported", message: "MCP tools are not supported yet" })
      continue
    }
    if (tool.spec.description.trim() === "" || tool.spec.http.url.trim() === "") {
      invalid(name, "spec.description and spec.http.url must not be empty")
      continue
    }
    const ref = tool.spec.http.authSecretRef
    if (ref === undefined) {
      usable.push({ tool, authKey: undefined })
      continue
    }
    const secret = secrets.get(ref.name)
    const key = secret === undefined ? undefined : secretValue(secret, ref.key)?.trim()
    if (secret === undefined) {
      unusable.set(name, { reason: "SecretNotFound", message: `Secret ${namespace}/${ref.name} not found` })
    } else if (key === undefined || key === "") {
      unusable.set(name, { reason: "SecretKeyMissing", message: `Secret ${namespace}/${ref.name} has no non-empty key "${ref.key}"` })
    } else {
      usable.push({ tool, authKey: key })
    }
  }
  return { usable, unusable }
}
