// The charts' PrometheusRules, judged by Prometheus's own promtool:
// the rendered rules must load (`promtool check rules`), and each alert must
// fire on the series that mean trouble, after its `for`, and stay quiet on
// healthy ones (`promtool test rules`), with its summary and description
// expanded from the alert's labels by Prometheus's template engine.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartDir, helm, parseManifests } from './support.js';

const NS = 'hark';
const JOB = 'agg-hark-aggregator';
const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;
if (!PROMTOOL)
  console.warn(
    'promtool not found: the PrometheusRule tests are skipped (Debian: apt-get install --no-install-recommends prometheus; .ci/run does)',
  );

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A maker of series scraped from `job` in `namespace`, in promtool's notation. */
const seriesOf =
  (job: string, namespace: string) => (name: string, labels: Record<string, string>, values: string) => ({
    series: `${name}{${Object.entries({ job, namespace, ...labels })
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')}}`,
    values,
  });
const series = seriesOf(JOB, NS);

/** The chart's PrometheusRule rendered with `set`, checked as the Prometheus operator would load it. */
function renderRules(chart: string, namespace: string, set: string[], file: string): Rule[] {
  const [rule] = parseManifests(
    helm([
      'template',
      chart === 'hark-aggregator' ? 'agg' : 'op',
      chartDir(chart),
      '--namespace',
      namespace,
      ...set.flatMap((s) => ['--set', s]),
      '--show-only',
      'templates/prometheusrule.yaml',
    ]),
  ) as unknown as [
    { kind: string; metadata: { labels: Record<string, string> }; spec: { groups: { rules: Rule[] }[] } },
  ];
  expect(rule!.kind).toBe('PrometheusRule');
  expect(rule!.metadata.labels.release).toBe('kube-prometheus-stack');
  // JSON is YAML: promtool reads the groups as the Prometheus operator hands them over.
  writeFileSync(file, JSON.stringify({ groups: rule!.spec.groups }));
  return rule!.spec.groups.flatMap((g) => g.rules);
}

/** An expected firing alert: its labels, and its annotations as Prometheus should expand them for them. */
function expectedAlert(rules: Rule[], alert: string, labels: Record<string, string>, value?: string) {
  const rule = rules.find((r) => r.alert === alert)!;
  const expand = (text: string) =>
    text
      .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => {
        if (labels[name] === undefined)
          throw new Error(`${alert} names label ${name}, which it does not carry`);
        return labels[name]!;
      })
      .replace(/\{\{ \$value( \| humanize)? \}\}/g, () => value ?? '?');
  return {
    exp_labels: { ...labels, severity: rule.labels.severity },
    exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, t]) => [k, expand(t)])),
  };
}

/** Runs promtool's unit tests; passes when every alert test does. */
function promtoolTest(file: string, tests: object): void {
  writeFileSync(file, JSON.stringify(tests));
  const run = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
  expect(`${run.stdout}${run.stderr}`).toContain('SUCCESS');
  expect(run.status).toBe(0);
}

describe.skipIf(!PROMTOOL)("the aggregator chart's PrometheusRule under promtool", () => {
  let work: string;
  let rules: Rule[];
  let rulesFile: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'hark-promrules-'));
    rulesFile = join(work, 'rules.json');
    rules = renderRules(
      'hark-aggregator',
      NS,
      ['prometheusRule.enabled=true', 'prometheusRule.labels.release=kube-prometheus-stack'],
      rulesFile,
    );
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('loads in Prometheus', () => {
    const out = execFileSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
    expect(out).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(rules.length).toBe(8);
  });

  it('fires each alert on trouble, after its wait, and not on health', () => {
    const firing = (alert: string, labels: Record<string, string>, value?: string) =>
      expectedAlert(rules, alert, labels, value);
    const base = { namespace: NS };
    const nodes = (site: string, health: string, values: string) =>
      series('hark_aggregator_sensor_nodes', { pod: 'agg-0', site, health }, values);
    const tests = {
      rule_files: [rulesFile],
      evaluation_interval: '1m',
      tests: [
        {
          name: 'the aggregator',
          interval: '1m',
          input_series: [
            // Both replicas of one release stop answering at minute 2; another release's stays up.
            series('up', { pod: 'agg-0' }, '1 1 0x20'),
            series('up', { pod: 'agg-1' }, '1 1 0x20'),
            { series: `up{job="other",namespace="${NS}",pod="x"}`, values: '1x22' },
            series('hark_aggregator_broker_connected', { pod: 'agg-0' }, '1 1 0x20'),
            series('hark_aggregator_broker_connected', { pod: 'agg-1' }, '1x22'),
            series('hark_aggregator_ingest_paused', { pod: 'agg-0' }, '0 1x21'),
            series('hark_aggregator_messages_rejected_total', { pod: 'agg-0', reason: 'schema' }, '0+3x40'),
            series('hark_aggregator_messages_rejected_total', { pod: 'agg-0', reason: 'topic' }, '4x40'),
            series('hark_aggregator_peer_failures_total', { pod: 'agg-0', shard: '1' }, '0+1x30'),
            // One CRL is due in two hours from the start, another in ten years.
            series('hark_broker_crl_next_update_timestamp_seconds', { pod: 'agg-0' }, '7200x20'),
            series('hark_broker_crl_next_update_timestamp_seconds', { pod: 'agg-1' }, '315360000x20'),
          ],
          alert_rule_test: [
            { alertname: 'HarkAggregatorDown', eval_time: '5m', exp_alerts: [] },
            {
              alertname: 'HarkAggregatorDown',
              eval_time: '8m',
              exp_alerts: [firing('HarkAggregatorDown', { job: JOB, ...base })],
            },
            { alertname: 'HarkAggregatorBrokerDisconnected', eval_time: '5m', exp_alerts: [] },
            {
              alertname: 'HarkAggregatorBrokerDisconnected',
              eval_time: '8m',
              exp_alerts: [firing('HarkAggregatorBrokerDisconnected', { job: JOB, ...base, pod: 'agg-0' })],
            },
            { alertname: 'HarkAggregatorIngestPaused', eval_time: '14m', exp_alerts: [] },
            {
              alertname: 'HarkAggregatorIngestPaused',
              eval_time: '17m',
              exp_alerts: [firing('HarkAggregatorIngestPaused', { job: JOB, ...base, pod: 'agg-0' })],
            },
            { alertname: 'HarkAggregatorRejectingMessages', eval_time: '10m', exp_alerts: [] },
            {
              alertname: 'HarkAggregatorRejectingMessages',
              eval_time: '20m',
              // The reason whose counter stands still is not rejecting anything.
              exp_alerts: [firing('HarkAggregatorRejectingMessages', { ...base, reason: 'schema' })],
            },
            {
              alertname: 'HarkAggregatorShardUnreachable',
              eval_time: '16m',
              exp_alerts: [firing('HarkAggregatorShardUnreachable', { ...base, pod: 'agg-0', shard: '1' })],
            },
            {
              alertname: 'HarkBrokerCRLNearNextUpdate',
              eval_time: '11m',
              exp_alerts: [firing('HarkBrokerCRLNearNextUpdate', { ...base, pod: 'agg-0' })],
            },
          ],
        },
        {
          name: 'the fleet',
          interval: '1m',
          input_series: [
            nodes('plant-1', 'online', '3x30'),
            nodes('plant-1', 'stale', '0 0 2x28'),
            nodes('plant-2', 'offline', '0x30'),
            nodes('plant-2', 'online', '1x30'),
            series(
              'hark_aggregator_sensor_dropped_packets_total',
              { pod: 'agg-0', site: 'plant-1', sensor: 'edge', where: 'kernel' },
              '0+500x40',
            ),
            series(
              'hark_aggregator_sensor_dropped_packets_total',
              { pod: 'agg-0', site: 'plant-1', sensor: 'edge', where: 'agent' },
              '0x40',
            ),
            // An agent restarted (its counter went back to zero) and dropped nothing after: no alert.
            series(
              'hark_aggregator_sensor_dropped_packets_total',
              { pod: 'agg-0', site: 'plant-2', sensor: 'dock', where: 'kernel' },
              '900 0x39',
            ),
          ],
          alert_rule_test: [
            { alertname: 'HarkSensorNodesDown', eval_time: '9m', exp_alerts: [] },
            {
              alertname: 'HarkSensorNodesDown',
              eval_time: '13m',
              exp_alerts: [firing('HarkSensorNodesDown', { ...base, site: 'plant-1', health: 'stale' }, '2')],
            },
            { alertname: 'HarkSensorDroppingPackets', eval_time: '10m', exp_alerts: [] },
            {
              alertname: 'HarkSensorDroppingPackets',
              eval_time: '25m',
              exp_alerts: [
                firing('HarkSensorDroppingPackets', {
                  ...base,
                  site: 'plant-1',
                  sensor: 'edge',
                  where: 'kernel',
                }),
              ],
            },
          ],
        },
      ],
    };
    promtoolTest(join(work, 'tests.json'), tests);
  });
});

describe.skipIf(!PROMTOOL)("the operator chart's PrometheusRule under promtool", () => {
  const OP_NS = 'hark-system';
  const OP_JOB = 'op-hark-operator-metrics';
  let work: string;
  let rules: Rule[];
  let rulesFile: string;
  const op = seriesOf(OP_JOB, OP_NS);

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'hark-promrules-op-'));
    rulesFile = join(work, 'rules.json');
    rules = renderRules(
      'hark-operator',
      OP_NS,
      [
        'metrics.prometheusRule.enabled=true',
        'metrics.prometheusRule.labels.release=kube-prometheus-stack',
        'metrics.prometheusRule.certificateExpiryDays=10',
      ],
      rulesFile,
    );
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('loads in Prometheus, and fires each alert on trouble after its wait', () => {
    expect(execFileSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' })).toContain(
      `SUCCESS: ${rules.length} rules found`,
    );
    expect(rules.map((r) => r.alert)).toEqual([
      'HarkOperatorDown',
      'HarkOperatorReconcileErrors',
      'HarkOperatorQueueNotDraining',
      'HarkSensorCertificateExpiring',
    ]);
    const base = { namespace: OP_NS };
    promtoolTest(join(work, 'tests.json'), {
      rule_files: [rulesFile],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // The leader dies at minute 2; the standby was never up.
            op('up', { pod: 'op-0' }, '1 1 0x20'),
            op('hark_operator_reconcile_total', { pod: 'op-0', result: 'success' }, '0+10x40'),
            op('hark_operator_reconcile_total', { pod: 'op-0', result: 'error' }, '0 0 0 0 0+2x36'),
            // Never empty on one replica; emptied every other minute on the other.
            op('hark_operator_workqueue_depth', { pod: 'op-0' }, '3x40'),
            op(
              'hark_operator_workqueue_depth',
              { pod: 'op-1' },
              '5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0 5 0',
            ),
            // A Sensor's namespace is exported_namespace once scraped (the target's wins).
            op(
              'hark_operator_certificate_days_to_expiry',
              { pod: 'op-0', exported_namespace: 'plant-1', sensor: 'edge' },
              '9.5-0.01x120',
            ),
            op(
              'hark_operator_certificate_days_to_expiry',
              { pod: 'op-0', exported_namespace: 'plant-2', sensor: 'dock' },
              '60x120',
            ),
          ],
          alert_rule_test: [
            { alertname: 'HarkOperatorDown', eval_time: '10m', exp_alerts: [] },
            {
              alertname: 'HarkOperatorDown',
              eval_time: '13m',
              exp_alerts: [expectedAlert(rules, 'HarkOperatorDown', { job: OP_JOB, ...base })],
            },
            { alertname: 'HarkOperatorReconcileErrors', eval_time: '15m', exp_alerts: [] },
            {
              alertname: 'HarkOperatorReconcileErrors',
              eval_time: '25m',
              exp_alerts: [expectedAlert(rules, 'HarkOperatorReconcileErrors', base)],
            },
            { alertname: 'HarkOperatorQueueNotDraining', eval_time: '15m', exp_alerts: [] },
            {
              alertname: 'HarkOperatorQueueNotDraining',
              eval_time: '25m',
              exp_alerts: [
                expectedAlert(rules, 'HarkOperatorQueueNotDraining', { ...base, pod: 'op-0' }, '3'),
              ],
            },
            { alertname: 'HarkSensorCertificateExpiring', eval_time: '50m', exp_alerts: [] },
            {
              alertname: 'HarkSensorCertificateExpiring',
              eval_time: '61m',
              exp_alerts: [
                expectedAlert(
                  rules,
                  'HarkSensorCertificateExpiring',
                  { ...base, exported_namespace: 'plant-1', sensor: 'edge' },
                  '8.89',
                ),
              ],
            },
          ],
        },
      ],
    });
  });
});
