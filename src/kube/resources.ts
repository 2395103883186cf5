/**
 * Kubernetes resource schemas. The Provider schema validates objects at run time and is the source
 * of the CRD YAML, so it is a superset of Orka's `core.orka.ai/v1alpha1` Provider.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

export const Group = "core.orka.ai"
export const Version = "v1alpha1"
export const ApiVersion = `${Group}/${Version}`

export const ObjectMeta = Schema.Struct({
  name: Schema.String,
  namespace: Schema.optionalKey(Schema.String),
  uid: Schema.optionalKey(Schema.String),
  resourceVersion: Schema.optionalKey(Schema.String),
  generation: Schema.optionalKey(Schema.Int),
  creationTimestamp: Schema.optionalKey(Schema.String),
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  annotations: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})

export const ProviderTypes = ["anthropic", "openai", "azure-openai", "mock"] as const
export type ProviderType = (typeof ProviderTypes)[number]

export const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/** What an absent field means; the annotations below write the same values into the CRD. */
export const providerDefaults = { secretKey: "api-key", azureApiVersion: "2024-02-15-preview" } as const

export const ProviderSpec = Schema.Struct({
  type: Schema.Literals(ProviderTypes),
  secretRef: Schema.optionalKey(Schema.Struct({
    name: Schema.NonEmptyString,
    key: Schema.optionalKey(Schema.NonEmptyString.annotate({ default: providerDefaults.secretKey }))
  })),
  baseURL: Schema.optionalKey(Schema.String),
  defaultModel: Schema.optionalKey(Schema.String),
  azure: Schema.optionalKey(Schema.Struct({
    deploymentName: Schema.optionalKey(Schema.String),
    apiVersion: Schema.optionalKey(Schema.String.annotate({ default: providerDefaults.azureApiVersion }))
  })),
  /** for all the Provider's callers together (tokens: input + output), enforced before it is called */
  rateLimit: Schema.optionalKey(Schema.Struct({
    requestsPerMinute: Schema.optionalKey(PositiveInt),
    tokensPerMinute: Schema.optionalKey(PositiveInt)
  })),
  models: Schema.optionalKey(Schema.Array(Schema.NonEmptyString)),
  /** the most output tokens a request may ask for: a larger `max_tokens` is lowered to it, not refused */
  maxOutputTokens: Schema.optionalKey(PositiveInt),
  /** the same for some models, by the id sent upstream */
  maxOutputTokensByModel: Schema.optionalKey(Schema.Record(Schema.String, PositiveInt)),
  /**
   * whether the server at `baseURL` serves the Responses API (`POST /responses`): Responses requests
   * pass through to it; else they are translated to Chat Completions. vLLM and Ollama serve it from
   * some version on. Default: true for api.openai.com and Azure OpenAI, false for other servers.
   */
  responsesAPI: Schema.optionalKey(Schema.Boolean),
  /**
   * Providers tried in order, before anything reached the client, when this one fails with a
   * retryable error (429, 5xx, 529, a timeout, no connection), is not ready, is cooling down or is
   * over a limit; `model` defaults to the fallback's `defaultModel`. The client's format is kept:
   * another type is translated.
   */
  fallbacks: Schema.optionalKey(Schema.Array(Schema.Struct({
    provider: Schema.NonEmptyString,
    model: Schema.optionalKey(Schema.String)
  }))),
  /** server-side tools for this Provider's requests without an `X-Orka-Tools` header */
  tools: Schema.optionalKey(Schema.Struct({
    default: Schema.optionalKey(Schema.Literals(["enabled", "disabled"]))
  }))
})
export type ProviderSpec = typeof ProviderSpec.Type

export const Condition = Schema.Struct({
  type: Schema.String,
  status: Schema.Literals(["True", "False", "Unknown"]),
  reason: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  lastTransitionTime: Schema.optionalKey(Schema.String),
  observedGeneration: Schema.optionalKey(Schema.Int)
})

export const ProviderStatus = Schema.Struct({
  ready: Schema.optionalKey(Schema.Boolean),
  lastValidated: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  conditions: Schema.optionalKey(Schema.Array(Condition))
})

/** A rule checked both by the gateway and, as CEL, by the API server at admission. */
export const rule = <T>(cel: string, message: string, holds: (value: T) => boolean) =>
  Schema.makeFilter<T>((value) => holds(value) || message, {
    toJsonSchema: () => ({ "x-kubernetes-validations": [{ rule: cel, message }] })
  })

/** A custom resource: its kind, spec and status, in this group unless `apiVersion` names another. */
export const customResource = <
  const Kind extends string,
  Spec extends Schema.Top,
  Status extends Schema.Top,
  const Api extends string = typeof ApiVersion
>(kind: Kind, spec: Spec, status: Status, apiVersion: Api = ApiVersion as Api) =>
  Schema.Struct({
    apiVersion: Schema.Literal(apiVersion),
    kind: Schema.Literal(kind),
    metadata: ObjectMeta,
    spec,
    status: Schema.optionalKey(status)
  })

export const Provider = customResource("Provider", ProviderSpec, ProviderStatus)
export type Provider = typeof Provider.Type

/** Secrets are read, never validated beyond their shape: `data` is base64, `stringData` plain. */
export const Secret = Schema.Struct({
  apiVersion: Schema.Literal("v1"),
  kind: Schema.Literal("Secret"),
  metadata: ObjectMeta,
  data: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  stringData: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})
export type Secret = typeof Secret.Type

export const secretValue = (secret: Secret, key: string): string | undefined => {
  const plain = secret.stringData?.[key]
  if (plain !== undefined) return plain
  const encoded = secret.data?.[key]
  return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8")
}

const decodeSecret = Schema.decodeUnknownResult(Secret)

/** The objects that are valid Secrets, by `namespace/name` (one without a namespace is in `namespace`). */
export const secretsByKey = (raw: ReadonlyArray<unknown>, namespace: string): Map<string, Secret> => {
  const secrets = new Map<string, Secret>()
  for (const object of raw) {
    const decoded = decodeSecret(object)
    if (Result.isSuccess(decoded)) secrets.set(`${decoded.success.metadata.namespace ?? namespace}/${decoded.success.metadata.name}`, decoded.success)
  }
  return secrets
}

/** Why a key could not be read, in the terms of a Ready condition. */
export interface SecretProblem {
  readonly reason: "SecretNotFound" | "SecretKeyMissing"
  readonly message: string
}

/** The non-empty (trimmed) value of `key` in the Secret `namespace/name`, or why there is none. */
export const secretKey = (
  secrets: ReadonlyMap<string, Secret>,
  namespace: string,
  name: string,
  key: string
): Result.Result<string, SecretProblem> => {
  const secret = secrets.get(`${namespace}/${name}`)
  if (secret === undefined) return Result.fail({ reason: "SecretNotFound", message: `Secret ${namespace}/${name} not found` })
  const value = secretValue(secret, key)?.trim()
  return value === undefined || value === ""
    ? Result.fail({ reason: "SecretKeyMissing", message: `Secret ${namespace}/${name} has no non-empty key "${key}"` })
    : Result.succeed(value)
}
