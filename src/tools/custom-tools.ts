/**
 * The custom tools a conversation may use: `Tool` resources from the KubeClient cache, validated,
 * joined with their auth Secrets. A Tool that cannot run (invalid, no http endpoint, MCP only, a
 * missing Secret or key) is left out with its reason, which is what its status reports.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { KubeObject } from "../kube/client.ts"
import { secretKey, type SecretProblem, secretsByKey } from "../kube/resources.ts"
import { Tool } from "../kube/tool-resource.ts"
import type { CustomTool } from "./server-tools.ts"

/** Why a Tool cannot be offered: `reason` is the CamelCase reason of its Ready condition. */
export interface ToolProblem {
  readonly reason: "InvalidSpec" | "Unsupported" | SecretProblem["reason"]
  readonly message: string
}

export interface ToolSnapshot {
  readonly usable: ReadonlyArray<CustomTool>
  /** name → why it cannot be offered */
  readonly unusable: ReadonlyMap<string, ToolProblem>
}

const decodeTool = Schema.decodeUnknownResult(Tool)

export const buildToolSnapshot = (rawTools: ReadonlyArray<KubeObject>, rawSecrets: ReadonlyArray<KubeObject>, namespace: string): ToolSnapshot => {
  const secrets = secretsByKey(rawSecrets, namespace)
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
    const http = tool.spec.http
    if (tool.spec.mcp !== undefined || http === undefined) {
      unusable.set(name, { reason: "Unsupported", message: "MCP tools are not supported yet" })
      continue
    }
    if (tool.spec.description.trim() === "" || (http.url ?? "").trim() === "") {
      invalid(name, "spec.description and spec.http.url must not be empty")
      continue
    }
    const ref = http.authSecretRef
    if (ref === undefined) {
      usable.push({ tool, authKey: undefined })
      continue
    }
    const key = secretKey(secrets, namespace, ref.name, ref.key)
    if (Result.isSuccess(key)) usable.push({ tool, authKey: key.success })
    else unusable.set(name, key.failure)
  }
  return { usable, unusable }
}
