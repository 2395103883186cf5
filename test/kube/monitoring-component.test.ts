/**
 * k8s/components/monitoring: the PodMonitor, alerts and Grafana dashboard an operator adds. Built by
 * the real kustomize (`kubectl kustomize`) on top of k8s/; the alerts run by the real promtool over
 * series scraped from a running gateway after a scripted workload; and every metric the alerts and
 * the dashboard query is one that gateway exports. The kustomize and promtool tiers skip loudly
 * where kubectl or promtool is not installed.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parse, stringify } from "yaml"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { clusterMode } from "../../src/app.ts"
import { type FakeApiServer, startFakeApiServer } from "../support/fake-apiserver.ts"
import { type RunningGateway, scriptedProviders, startGateway } from "../support/gateway.ts"
import { kustomizeWith, missing } from "../support/host.ts"
import { parseExposition, type Sample, type Scrape } from "../support/prometheus.ts"
import { type ScriptedUpstream, startScriptedUpstream } from "../support/scripted-upstream.ts"

const k8s = resolve(import.meta.dirname, "../../k8s")
const component = join(k8s, "components/monitoring")
const dashboard = JSON.parse(readFileSync(join(component, "dashboard.json"), "utf8"))
const panelExprs: Array<string> = dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((t) => t.expr))

interface Rule {
  readonly alert: string
  readonly expr: string
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
}
const ruleGroups = parse(readFileSync(join(component, "prometheus-rule.yaml"), "utf8")).spec.groups as Array<{ name: string; rules: Array<Rule> }>
const alerts = ruleGroups.flatMap((g) => g.rules)

const kubectlMissing = missing("kubectl", ["version", "--client"], "kubectl, for its kustomize")
const promtoolMissing = missing("promtool", ["--version"], "Debian's prometheus package: scripts/install-test-deps.sh, or apt-get install prometheus")
if (kubectlMissing !== undefined) {
  console.warn(`\n*** SKIPPING the monitoring kustomize component build: ${kubectlMissing}. k8s/components/monitoring is not built in this run. ***\n`)
}
if (promtoolMissing !== undefined) {
  console.warn(`\n*** SKIPPING promtool on the monitoring alerts and dashboard: ${promtoolMissing}. They are not evaluated in this run. ***\n`)
}

// --- the Prometheus text format, and the metric names in PromQL ----------------------------------

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
const seriesOf = (s: Sample) =>
  `${s.name}{${Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`

/** The histogram a `_bucket`, `_sum` or `_count` series belongs to, else the name itself. */
const familyOf = (name: string, types: ReadonlyMap<string, string>) => {
  const base = name.replace(/_(bucket|sum|count)$/, "")
  return base !== name && types.get(base) === "histogram" ? base : name
}

const promqlWords = new Set(`
  sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
  by without on ignoring group_left group_right bool offset and or unless atan2 inf nan
  abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week day_of_year
  days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction histogram_quantile
  histogram_stddev histogram_stdvar histogram_sum holt_winters double_exponential_smoothing hour idelta
  increase irate label_join label_replace ln log2 log10 minute month predict_linear rate resets round
  scalar sgn sort sort_desc sort_by_label sort_by_label_desc sqrt time timestamp vector year
  avg_over_time min_over_time max_over_time sum_over_time count_over_time quantile_over_time
  stddev_over_time stdvar_over_time last_over_time present_over_time mad_over_time
  acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh deg rad pi`.trim().split(/\s+/))

/** The metric names a PromQL expression reads: what is left once strings, matchers, ranges, label lists, functions and keywords are gone. */
const metricNames = (expr: string): Array<string> => {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
  const words = [...bare.matchAll(/(?<![\w.$])[a-zA-Z_:][\w:]*/g)].map((m) => m[0])
  return [...new Set(words.filter((w) => !promqlWords.has(w.toLowerCase())))]
}

/** A Grafana panel's query as Prometheus would run it: every variable at its "All". */
const asPromql = (expr: string) => expr.replace(/\$__rate_interval/g, "5m").replace(/\$\{?\w+\}?/g, ".*")

// --- the component, built ------------------------------------------------------------------------

describe("dashboard.json", () => {
  it("queries through the ${datasource} variable and filters by Provider and model", () => {
    const variables = dashboard.templating.list as Array<{ name: string; type: string; query: unknown }>
    expect(variables.map((v) => v.name)).toEqual(["datasource", "orka_provider", "gen_ai_request_model"])
    expect(variables[0]).toMatchObject({ type: "datasource", query: "prometheus" })
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39)
    for (const panel of dashboard.panels) {
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" })
      for (const target of panel.targets) expect(target.datasource, panel.title).toEqual(panel.datasource)
    }
    expect(panelExprs.filter((e) => e.includes("gen_ai_request_model=~\"$gen_ai_request_model\"")).length).toBeGreaterThan(3)
  })
})

describe.skipIf(kubectlMissing !== undefined)("k8s/components/monitoring, built by kustomize", () => {
  const built = () => kustomizeWith("monitoring")
  const added = (objects: Array<any>) => objects.filter((o) => ["PodMonitor", "PrometheusRule", "ConfigMap"].includes(o.kind))

  it("scrapes every gateway pod on its http port's /metrics every 30 s", () => {
    const objects = built()
    const monitor = objects.find((o) => o.kind === "PodMonitor")
    const gateway = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "orka-gateway")
    expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1")
    const podLabels = gateway.spec.template.metadata.labels
    expect(Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => podLabels[k] === v)).toBe(true)
    expect(monitor.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "orka-gateway" })
    const ports = gateway.spec.template.spec.containers.flatMap((c: { ports?: Array<{ name: string }> }) => (c.ports ?? []).map((p) => p.name))
    expect(monitor.spec.podMetricsEndpoints).toHaveLength(1)
    const endpoint = monitor.spec.podMetricsEndpoints[0]
    expect(ports).toContain(endpoint.port)
    expect(endpoint).toMatchObject({ port: "http", path: "/metrics", interval: "30s" })
    // the callers' own namespace label is kept, not renamed exported_namespace
    expect(endpoint.honorLabels).toBe(true)
  })

  it("adds the PodMonitor, the rules and the dashboard, and leaves every object in orka-system, part of orka-gateway", () => {
    const objects = built()
    expect(added(objects).map((o) => `${o.apiVersion} ${o.kind}`).sort()).toEqual(["monitoring.coreos.com/v1 PodMonitor", "monitoring.coreos.com/v1 PrometheusRule", "v1 ConfigMap"])
    const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"])
    for (const o of objects) {
      expect(o.metadata.labels?.["app.kubernetes.io/part-of"], `${o.kind} ${o.metadata.name}`).toBe("orka-gateway")
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(clusterScoped.has(o.kind) ? undefined : "orka-system")
    }
  })

  it("ships dashboard.json as it is, in a ConfigMap Grafana's sidecar loads, under a stable name", () => {
    const configMap = built().find((o) => o.kind === "ConfigMap" && o.metadata.labels?.["grafana_dashboard"] !== undefined)
    expect(configMap.metadata.name).toBe("orka-gateway-dashboard")
    expect(configMap.metadata.labels.grafana_dashboard).toBe("1")
    const files = Object.values(configMap.data) as Array<string>
    expect(files).toHaveLength(1)
    expect(JSON.parse(files[0]!)).toEqual(dashboard)
  })

  it("makes the PrometheusRule of prometheus-rule.yaml unchanged", () => {
    const rule = built().find((o) => o.kind === "PrometheusRule")
    expect(rule.spec.groups).toEqual(ruleGroups)
  })
})

// --- a real gateway's scrape, as promtool's input ------------------------------------------------

let upstream: ScriptedUpstream
let gateway: RunningGateway
let api: FakeApiServer
let cluster: RunningGateway

const chat = (on: RunningGateway, model: string, extra: Record<string, unknown> = {}) =>
  on.post("/openai/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }], ...extra })

const metricsOf = async (on: RunningGateway) => (await fetch(`${on.url}/metrics`)).text()

/** A scripted workload through two real gateways, and what their /metrics said after it. */
const scrapeWorkload = async (): Promise<Scrape> => {
  upstream = await startScriptedUpstream()
  // local mode, retries off: every provider failure reaches the caller after one attempt
  gateway = await startGateway({ manifests: scriptedProviders(upstream.url), config: { upstreamRetries: 0 } })
  upstream.script({ answer: { text: ["Hello", " there"] } })
  for (let i = 0; i < 3; i++) expect((await chat(gateway, "claude/claude-test")).status).toBe(200)
  expect((await chat(gateway, "claude/claude-test", { stream: true, stream_options: { include_usage: true } })).status).toBe(200)
  upstream.script(
    { answer: { toolCalls: [{ id: "toolu_1", name: "file_write", fragments: ['{"path":"notes.txt","content":"x"}'] }] } },
    { answer: { text: ["Written."] } }
  )
  expect((await chat(gateway, "claude/claude-test")).status).toBe(200)
  upstream.script({ status: 500, body: { type: "error", error: { type: "api_error", message: "Internal server error" } } })
  expect((await chat(gateway, "claude/claude-test")).status).toBeGreaterThanOrEqual(500)
  upstream.script({ status: 401, body: { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } } })
  expect((await chat(gateway, "claude/claude-test")).status).toBeGreaterThanOrEqual(500)

  // what local mode cannot show: a caller that is a ServiceAccount, a retry, a failing watch
  api = await startFakeApiServer()
  const agent = "system:serviceaccount:team-a:agent"
  api.tokens.set("tok-agent", { username: agent, groups: ["system:serviceaccounts"] })
  api.grants.push({ user: agent, verb: "create", resource: "chats", namespace: "default" })
  api.put("secrets", { apiVersion: "v1", kind: "Secret", metadata: { name: "flaky-key", namespace: "default" }, data: { "api-key": Buffer.from("sk-flaky").toString("base64") } })
  api.put("providers", {
    apiVersion: "core.orka.ai/v1alpha1", kind: "Provider", metadata: { name: "flaky", namespace: "default" },
    spec: { type: "anthropic", secretRef: { name: "flaky-key" }, baseURL: upstream.url, defaultModel: "claude-test" }
  })
  cluster = await startGateway({
    manifests: {},
    token: "tok-agent",
    config: { manifests: undefined, tokenAuthFile: undefined, kubeconfig: api.kubeconfig, namespace: "default", podName: "pod-1" },
    mode: clusterMode
  })
  upstream.script({ status: 529, body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } }, { answer: { text: ["ok"] } })
  expect((await chat(cluster, "flaky/claude-test")).status).toBe(200)
  await api.outage(1_000)
  const deadline = Date.now() + 10_000
  while (!(await metricsOf(cluster)).includes("orka_kube_watch_errors_total{")) {
    if (Date.now() > deadline) throw new Error("no watch error counted after the API server's outage")
    await new Promise((r) => setTimeout(r, 100))
  }

  // one series each, whichever gateway's registry holds it (today both share the process's)
  const series = new Map<string, Sample>()
  const types = new Map<string, string>()
  for (const text of [await metricsOf(gateway), await metricsOf(cluster)]) {
    const parsed = parseExposition(text)
    for (const [name, type] of parsed.types) types.set(name, type)
    for (const s of parsed.samples) series.set(seriesOf(s), s)
  }
  return { types, samples: [...series.values()] }
}

/** A minute's growth of a scraped series: the workload repeated every minute, or changed. */
type Growth = (scrape: Scrape) => (s: Sample) => number
const minutes = 30

/**
 * A scraped series as Prometheus keeps it: the pod's target labels, under the gateway's own
 * (`honorLabels`), where an empty value is no label.
 */
const target = { job: "orka-system/orka-gateway", namespace: "orka-system", pod: "orka-gateway-7c9d8-x2x9q" }
const stored = (s: Sample): Sample => ({ ...s, labels: { ...target, ...Object.fromEntries(Object.entries(s.labels).filter(([, v]) => v !== "")) } })

/** Each scraped series from its scraped value on, growing for `minutes` minutes (gauges stay). */
const inputSeries = (scrape: Scrape, grow: Growth) =>
  scrape.samples.map((s) => ({ series: seriesOf(stored(s)), values: `${s.value}+${scrape.types.get(s.name) === "gauge" ? 0 : grow(scrape)(s)}x${minutes}` }))

const asScraped: Growth = () => (s) => s.value
const failed = (s: Sample) =>
  s.labels["error_type"] !== undefined || ["401", "403"].includes(s.labels["status"] ?? "") || s.name === "orka_kube_watch_errors_total"
const withoutFailures: Growth = () => (s) => (failed(s) ? 0 : s.value)
const ttftBuckets = "gen_ai_server_time_to_first_token_seconds_bucket"
const withoutLe = (s: Sample) => seriesOf({ ...s, labels: Object.fromEntries(Object.entries(s.labels).filter(([k]) => k !== "le")) })
/** Every first token after more than 10 s: each stream's observations all in the buckets above 10. */
const slowFirstTokens: Growth = (scrape) => (s) => {
  if (s.name !== ttftBuckets) return s.value
  const all = scrape.samples.find((o) => o.name === ttftBuckets && o.labels["le"] === "+Inf" && withoutLe(o) === withoutLe(s))!
  return s.labels["le"] === "+Inf" || Number(s.labels["le"]) > 10 ? all.value : 0
}

/** The alert's labels and annotations once it fires with `labels` (its annotations use `$labels` only). */
const firing = (alertname: string, labels: Record<string, string>) => {
  const rule = alerts.find((a) => a.alert === alertname)!
  const expLabels: Record<string, string> = { ...rule.labels, ...labels }
  const fill = (text: string) => text.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_, l: string) => expLabels[l] ?? "")
  return { exp_labels: expLabels, exp_annotations: Object.fromEntries(Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, fill(v)])) }
}

it("reads the metric names of PromQL expressions", () => {
  expect(metricNames(alerts[0]!.expr)).toEqual(["gen_ai_server_request_duration_seconds_count"])
  expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(a_bucket{x=~"$x"}[$__rate_interval]))) / on (x) b > 1e3')).toEqual(["a_bucket", "b"])
})

describe("over a real gateway's scrape", () => {
  let scrape: Scrape
  beforeAll(async () => {
    scrape = await scrapeWorkload()
  }, 60_000)
  afterAll(async () => {
    await cluster?.close()
    await gateway?.close()
    await api?.close()
    await upstream?.close()
  })

  it("every metric the alerts and the dashboard query is in it, the histograms' series on histograms", () => {
    const used = [...new Set([...alerts, ...panelExprs.map((expr) => ({ expr }))].flatMap((r) => metricNames(asPromql(r.expr))))].sort()
    expect(used.length).toBeGreaterThan(8)
    const scraped = new Set(scrape.samples.map((s) => s.name))
    expect(used.filter((name) => !scraped.has(name)).map((name) => familyOf(name, scrape.types))).toEqual([])
    const histogramParts = used.filter((name) => /_(bucket|sum|count)$/.test(name))
    expect(histogramParts.filter((name) => familyOf(name, scrape.types) === name)).toEqual([])
  })

  describe.skipIf(promtoolMissing !== undefined)("promtool", () => {
    const dir = mkdtempSync(join(tmpdir(), "orka-promtool-"))
    afterAll(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, "rules.yaml"), stringify({ groups: ruleGroups }))
    const promtool = (...args: Array<string>) => {
      try {
        return { ok: true, output: execFileSync("promtool", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) }
      } catch (e) {
        const failure = e as { stdout?: string; stderr?: string }
        return { ok: false, output: `${failure.stdout ?? ""}${failure.stderr ?? ""}` }
      }
    }
    interface Case {
      readonly name: string
      readonly grow: Growth
      /** alert → the labels of each firing instance (beside the rule's own) */
      readonly alerts: Record<string, Array<Record<string, string>>>
    }
    const testRules = (file: string, rules: string, cases: Array<Case>) => {
      writeFileSync(join(dir, file), stringify({
        rule_files: [rules],
        evaluation_interval: "1m",
        tests: cases.map((c) => ({
          name: c.name,
          interval: "1m",
          input_series: inputSeries(scrape, c.grow),
          alert_rule_test: Object.entries(c.alerts).map(([alertname, fire]) => ({
            eval_time: `${minutes - 5}m`,
            alertname,
            exp_alerts: fire.map((labels) => firing(alertname, labels))
          }))
        }))
      }))
      return promtool("test", "rules", file)
    }

    it("finds the rules valid", () => {
      const result = promtool("check", "rules", "rules.yaml")
      expect(result.ok, result.output).toBe(true)
      expect(result.output).toContain(`SUCCESS: ${alerts.length} rules found`)
    })

    it("fires each alert on the scraped workload as it should, and not without its cause", () => {
      const watched = scrape.samples.filter((s) => s.name === "orka_kube_watch_errors_total" && s.value > 0).map((s) => ({ pod: target.pod, resource: s.labels["resource"]! }))
      expect(watched.length).toBeGreaterThan(0)
      const result = testRules("rules.test.yaml", "rules.yaml", [
        {
          // 2 of 7 requests to claude failed on the provider's side (a 500, a rejected key); flaky's 529 was retried
          name: "the workload, every minute",
          grow: asScraped,
          alerts: {
            OrkaProviderErrorRatioHigh: [{ orka_provider: "claude" }],
            OrkaTimeToFirstTokenSlow: [],
            OrkaProviderRejectsKey: [{ orka_provider: "claude", status: "401" }],
            OrkaKubeWatchFailing: watched
          }
        },
        {
          name: "the workload without its failures",
          grow: withoutFailures,
          alerts: { OrkaProviderErrorRatioHigh: [], OrkaTimeToFirstTokenSlow: [], OrkaProviderRejectsKey: [], OrkaKubeWatchFailing: [] }
        },
        { name: "the workload with slow first tokens", grow: slowFirstTokens, alerts: { OrkaTimeToFirstTokenSlow: [{ orka_provider: "claude" }] } }
      ])
      expect(result.ok, result.output).toBe(true)
    })

    it("finds data on the scraped workload for every query of the dashboard", () => {
      // absent(q) fires when q finds nothing: no panel may be empty
      const panels = panelExprs.map((expr, i) => ({ alert: `Panel${i}`, expr: `absent(${asPromql(expr)})` }))
      writeFileSync(join(dir, "panels.yaml"), stringify({ groups: [{ name: "dashboard", rules: panels }] }))
      const checked = promtool("check", "rules", "panels.yaml")
      expect(checked.ok, checked.output).toBe(true)
      const result = testRules("panels.test.yaml", "panels.yaml", [
        { name: "the dashboard", grow: asScraped, alerts: Object.fromEntries(panels.map((p) => [p.alert, []])) }
      ])
      expect(result.ok, result.output).toBe(true)
    })
  })
})
