// Every metric and label that the charts' alerting rules and dashboard name
// is one the processes export. A rule over a metric that was renamed, or a
// panel grouped by a label the metric never had, loads fine in Prometheus and
// Grafana and then says nothing, which is worse than an error.
//
// The aggregator is started for real, twice, in the configurations that
// export everything the rules read: with its embedded broker enforcing a CRL
// and a data directory (the history's backpressure); and as one of two shards
// (peer failures) on the first one's broker.
// The operator's metrics are its own registry, made as the operator makes it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMetrics } from '@hark/operator';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPki, crlFrom, startWithEmbeddedBroker } from '../../aggregator/test/helpers.js';
import { chartDir, helm, parseManifests } from './support.js';

/** Labels a scrape adds to every series (prometheus-operator's ServiceMonitor), and histograms' le. */
const TARGET_LABELS = new Set(['job', 'namespace', 'pod', 'instance', 'service', 'endpoint', 'container']);

/** Each exported metric family's series names and label names. */
async function exported(registry: Registry): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const { name, type } of await registry.getMetricsAsJSON()) {
    const metric = registry.getSingleMetric(name) as unknown as { labelNames?: string[] };
    const labels = new Set(metric.labelNames ?? []);
    if (String(type) === 'histogram') {
      for (const suffix of ['_sum', '_count']) out.set(name + suffix, labels);
      out.set(`${name}_bucket`, new Set([...labels, 'le']));
    } else out.set(name, labels);
  }
  return out;
}

/** What is wrong with one PromQL expression against the exported metrics: unknown metrics, unknown labels. */
function problems(expr: string, metrics: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  const names = [...new Set(expr.match(/\bhark_[a-z0-9_]+\b/g) ?? [])];
  if (names.length === 0) found.push(`names no hark metric: ${expr}`);
  const known = new Set<string>();
  for (const name of names) {
    const labels = metrics.get(name);
    if (!labels) found.push(`${name} is not exported`);
    else for (const l of labels) known.add(l);
  }
  // A metric label that collides with a target label is kept as exported_<label>.
  for (const l of [...known]) if (TARGET_LABELS.has(l)) known.add(`exported_${l}`);
  const used = new Set<string>();
  for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g))
    for (const l of list!.split(',')) if (l.trim()) used.add(l.trim());
  for (const [, selector] of expr.matchAll(/\{([^}]*)\}/g))
    for (const [, l] of selector!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) used.add(l!);
  for (const l of used)
    if (!TARGET_LABELS.has(l) && !known.has(l)) found.push(`${names.join(', ')} carries no label "${l}"`);
  return found;
}

const ruleExpressions = (chart: string, set: string) =>
  (
    parseManifests(
      helm(['template', 'x', chartDir(chart), '--set', set, '--show-only', 'templates/prometheusrule.yaml']),
    )[0] as unknown as { spec: { groups: { rules: { alert: string; expr: string }[] }[] } }
  ).spec.groups.flatMap((g) => g.rules.map((r) => [r.alert, r.expr] as const));

describe('the metrics the charts read exist', () => {
  let work: string;
  type Aggregator = Awaited<ReturnType<typeof startWithEmbeddedBroker>>;
  let aggregator: Aggregator;
  let shard: Aggregator;
  let aggregatorMetrics: Map<string, Set<string>>;
  let operatorMetrics: Map<string, Set<string>>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'hark-metric-refs-'));
    const pki = await createPki();
    const crlFile = join(work, 'ca.crl');
    writeFileSync(crlFile, crlFrom(pki.ca));
    aggregator = await startWithEmbeddedBroker(pki, {
      embeddedBroker: { port: 0, host: '127.0.0.1', crlFile },
      dataDir: join(work, 'data'),
    });
    // With a broker URL the embedded broker is not started: this one subscribes to the first's.
    shard = await startWithEmbeddedBroker(pki, {
      brokerUrl: `mqtts://127.0.0.1:${aggregator.brokerPort}`,
      clientId: 'hark-aggregator-shard-0',
      shard: { index: 0, count: 2 },
      peers: ['http://127.0.0.1:9', 'http://127.0.0.1:9'],
    });
    aggregatorMetrics = await exported(aggregator.registry);
    for (const [name, labels] of await exported(shard.registry)) aggregatorMetrics.set(name, labels);
    operatorMetrics = await exported(createMetrics().registry);
  });

  afterAll(async () => {
    await shard?.stop();
    await aggregator?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("in the aggregator chart's alerting rules", () => {
    const rules = ruleExpressions('hark-aggregator', 'prometheusRule.enabled=true');
    expect(rules.length).toBeGreaterThan(5);
    for (const [alert, expr] of rules) {
      // `up` is Prometheus's own; the others are the aggregator's.
      if (alert === 'HarkAggregatorDown') continue;
      expect(problems(expr, aggregatorMetrics), alert).toEqual([]);
    }
  });

  it("in the operator chart's alerting rules and Grafana dashboard", () => {
    const rules = ruleExpressions('hark-operator', 'metrics.prometheusRule.enabled=true');
    for (const [alert, expr] of rules) {
      if (alert === 'HarkOperatorDown') continue;
      expect(problems(expr, operatorMetrics), alert).toEqual([]);
    }
    const dashboard = JSON.parse(
      readFileSync(join(chartDir('hark-operator'), 'files', 'dashboard.json'), 'utf8'),
    ) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const panels = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.expr] as const));
    expect(panels.length).toBeGreaterThan(3);
    for (const [title, expr] of panels) expect(problems(expr, operatorMetrics), title).toEqual([]);
  });

  it('would see a label a metric does not have', () => {
    // The check itself, on a mistake of the kind it exists for.
    expect(problems('sum by (verb) (rate(hark_operator_api_writes_total[5m]))', operatorMetrics)).toEqual([
      'hark_operator_api_writes_total carries no label "verb"',
    ]);
    expect(problems('hark_operator_reconciles_total', operatorMetrics)).toEqual([
      'hark_operator_reconciles_total is not exported',
    ]);
  });
});
