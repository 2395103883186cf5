/**
 * The ClientPolicy resource (`gateway.orka.ai/v1alpha1`, kind ClientPolicy): the limits that apply to
 * callers of the gateway, chosen by who they are (a ServiceAccount, every ServiceAccount of a
 * namespace, a group or a user) and optionally by the Providers they call. It is the gateway's
 * own, so it has its own group beside Orka's `core.orka.ai`. The rules below are checks here and CEL
 * in the CRD.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { describeIssues } from "../schema-text.ts"
import type { KubeObject } from "./client.ts"
import { Condition, customResource, PositiveInt, rule, Version } from "./resources.ts"

export const PolicyGroup = "gateway.orka.ai"
export const PolicyApiVersion = `${PolicyGroup}/${Version}`

/** What an absent field means; the annotation below writes the same value into the CRD. */
export const clientPolicyDefaults = { scope: "caller" } as const

const NonEmpty = Schema.String.check(Schema.isMinLength(1))

/** Kubernetes names: a namespace is a DNS-1123 label, a ServiceAccount a DNS-1123 subdomain. */
const label = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
const subdomain = `${label}(\\.${label})*`
const ServiceAccountName = Schema.String.check(
  Schema.isPattern(new RegExp(`^${label}/(${subdomain}|\\*)$`, "u"), { expected: `a ServiceAccount as "namespace/name" or "namespace/*"` })
)

type SubjectFields = { readonly serviceAccount?: string; readonly group?: string; readonly user?: string }

export const ClientPolicySubject = Schema.Struct({
  /** "namespace/name", or "namespace/*" for every ServiceAccount of the namespace */
  serviceAccount: Schema.optionalKey(ServiceAccountName),
  group: Schema.optionalKey(NonEmpty),
  user: Schema.optionalKey(NonEmpty)
}).check(rule<SubjectFields>(
  "(has(self.serviceAccount) ? 1 : 0) + (has(self.group) ? 1 : 0) + (has(self.user) ? 1 : 0) == 1",
  "exactly one of serviceAccount, group or user is required",
  (s) => [s.serviceAccount, s.group, s.user].filter((v) => v !== undefined).length === 1
))

const limitFields = {
  requestsPerMinute: Schema.optionalKey(PositiveInt),
  tokensPerMinute: Schema.optionalKey(PositiveInt),
  concurrentRequests: Schema.optionalKey(PositiveInt),
  tokensPerDay: Schema.optionalKey(PositiveInt),
  tokensPerMonth: Schema.optionalKey(PositiveInt)
}
const limitNames = Object.keys(limitFields)

export const ClientPolicyLimits = Schema.Struct(limitFields).check(rule<Partial<Record<string, number>>>(
  limitNames.map((name) => `has(self.${name})`).join(" || "),
  `at least one limit is required (${limitNames.join(", ")})`,
  (limits) => limitNames.some((name) => limits[name] !== undefined)
))

export const ClientPolicySpec = Schema.Struct({
  /** who the policy applies to: any one of them matching is enough */
  subjects: Schema.Array(ClientPolicySubject).check(Schema.isMinLength(1, { expected: "at least one subject" })),
  /** the Providers whose requests it counts; all of them when absent */
  providers: Schema.optionalKey(Schema.Array(NonEmpty)),
  /** `caller`: each matching caller has its own counters; `shared`: all of them share one set (a team budget) */
  scope: Schema.optionalKey(Schema.Literals(["caller", "shared"]).annotate({ default: clientPolicyDefaults.scope })),
  limits: ClientPolicyLimits
})
export type ClientPolicySpec = typeof ClientPolicySpec.Type

export const ClientPolicyStatus = Schema.Struct({
  valid: Schema.optionalKey(Schema.Boolean),
  message: Schema.optionalKey(Schema.String),
  conditions: Schema.optionalKey(Schema.Array(Condition))
})
export type ClientPolicyStatus = typeof ClientPolicyStatus.Type

export const ClientPolicy = customResource("ClientPolicy", ClientPolicySpec, ClientPolicyStatus, PolicyApiVersion)
export type ClientPolicy = typeof ClientPolicy.Type

export interface ValidPolicy {
  readonly name: string
  readonly namespace: string
  /** as written, with the defaults the CRD would fill in (`scope`) */
  readonly spec: ClientPolicySpec
}

const decodeClientPolicy = Schema.decodeUnknownResult(ClientPolicy)

/** By name: the policies that decode, and why the others do not (one without a namespace is in `namespace`). */
export const decodeClientPolicies = (
  raw: ReadonlyArray<KubeObject>,
  namespace: string
): { readonly valid: ReadonlyArray<ValidPolicy>; readonly invalid: ReadonlyMap<string, string> } => {
  const valid: Array<ValidPolicy> = []
  const invalid = new Map<string, string>()
  for (const object of raw) {
    const decoded = decodeClientPolicy(object)
    if (Result.isFailure(decoded)) {
      invalid.set(object.metadata?.name ?? "(unnamed)", describeIssues(decoded.failure))
      continue
    }
    const { metadata, spec } = decoded.success
    valid.push({ name: metadata.name, namespace: metadata.namespace ?? namespace, spec: { ...spec, scope: spec.scope ?? clientPolicyDefaults.scope } })
  }
  return { valid, invalid }
}
