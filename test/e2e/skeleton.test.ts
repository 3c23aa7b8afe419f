// The walking skeleton, every part real: a Sensor applied to a real control
// plane; the operator (as its own ServiceAccount, under the chart's
// ClusterRole) issues its certificate and DaemonSet and kwok runs the pods; a
// real hark-agent process, configured by the operator's ConfigMap and holding
// the operator's certificate, replays a capture and reports over MQTT with
// mutual TLS; the aggregator — on its embedded broker, then through a real
// Mosquitto — serves the devices at GET /api/v1/devices.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningAggregator, startAggregator } from '@hark/aggregator';
import { type OperatorHandle, pki, startOperator } from '@hark/operator';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ControlPlane } from '../support/controlplane.js';
import { type MosquittoInstance, mosquittoAvailable, startMosquitto } from '../support/mosquitto.js';
import { installOperatorPrerequisites } from '../support/operator-install.js';
import { repoRoot, sharedPcapsDir } from '../support/paths.js';
import { type ManagedProcess, startProcess, waitFor } from '../support/processes.js';

const root = repoRoot();
const NS = 'hark-system';
const DAY = 86_400_000;
const log = pino({ level: process.env.HARK_TEST_LOG ?? 'silent' });

/** The capture the agent replays: a real one when the shared corpus is here, else a simulated site. */
function captureAndExpectation(work: string): { file: string; mac: string; hostname?: string } {
  const shared = sharedPcapsDir();
  const real = shared && join(shared, 'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap');
  if (real && existsSync(real)) return { file: real, mac: 'b0:c5:54:25:5b:0e', hostname: 'DCS-935L' };
  console.warn(
    '../shared/pcaps is absent: the end-to-end test replays a simulated site instead of a real capture',
  );
  const file = join(work, 'site.pcap');
  execFileSync(process.execPath, [
    join(root, 'sensor-agent/dist/cli.js'),
    'simulate',
    '--devices',
    '5',
    '--seed',
    '1',
    '--out',
    file,
  ]);
  return { file, mac: '' };
}

describe('walking skeleton: Sensor → operator → agent → MQTT (mTLS) → aggregator API', () => {
  let cp: ControlPlane;
  let operator: OperatorHandle | undefined;
  let aggregator: RunningAggregator | undefined;
  let mosquitto: MosquittoInstance | undefined;
  let agent: ManagedProcess | undefined;
  let work: string;
  let siteCa: { certPem: string; keyPem: string };
  let brokerServer: { certPem: string; keyPem: string };
  let aggregatorClient: { certPem: string; keyPem: string };

  const kubectlJson = (args: string[]) => JSON.parse(cp.kubectl([...args, '-o', 'json']));
  const sensorReady = () =>
    kubectlJson(['get', 'sensor', 'plant-floor', '-n', 'default']).status?.conditions?.find(
      (c: { type: string }) => c.type === 'Ready',
    )?.status === 'True';

  async function devices(): Promise<
    Array<{ id: string; macs: string[]; hostname?: { value: string }; sensors?: string[]; site?: string }>
  > {
    const res = await fetch(`${aggregator!.httpUrl}/api/v1/devices?site=site-a&limit=500`);
    if (!res.ok) return [];
    return ((await res.json()) as { items: [] }).items;
  }

  /** The aggregator with its embedded broker, trusting the operator's site CA. */
  function startEmbeddedAggregator(broker: { crlFile?: string; crlReloadIntervalMs?: number } = {}) {
    return startAggregator({
      http: { port: 0, host: '127.0.0.1' },
      embeddedBroker: { port: 0, host: '127.0.0.1', ...broker },
      tls: {
        ca: siteCa.certPem,
        serverCert: brokerServer.certPem,
        serverKey: brokerServer.keyPem,
        clientCert: aggregatorClient.certPem,
        clientKey: aggregatorClient.keyPem,
      },
      logger: log,
    });
  }

  /** A platform team repoints the Sensor; resolves once the operator has rewritten the agent's configuration. */
  async function repointSensor(brokerUrl: string): Promise<void> {
    cp.kubectl(
      ['patch', 'sensor', 'plant-floor', '-n', 'default', '--type=merge', '-p'].concat(
        JSON.stringify({ spec: { reporting: { brokerUrl } } }),
      ),
    );
    await waitFor(
      'the operator to rewrite the agent configuration',
      () =>
        JSON.parse(
          kubectlJson(['get', 'configmap', 'hark-agent-plant-floor', '-n', 'default']).data['agent.json'],
        ).reporting.brokerUrl === brokerUrl,
    );
  }

  /** Starts hark-agent as its own process with the operator's ConfigMap and certificate Secret. */
  function startAgentFromCluster(capture: string, name: string): ManagedProcess {
    const configMap = kubectlJson(['get', 'configmap', 'hark-agent-plant-floor', '-n', 'default']);
    const secret = kubectlJson(['get', 'secret', 'hark-agent-plant-floor-tls', '-n', 'default']);
    const dir = join(work, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const key of ['ca.crt', 'tls.crt', 'tls.key']) {
      writeFileSync(join(dir, key), Buffer.from(secret.data[key], 'base64'), { mode: 0o600 });
    }
    const config = JSON.parse(configMap.data['agent.json']);
    // What the pod's mounts would provide, at this test's paths: the files the
    // operator wrote, and a capture to replay in place of a live interface.
    config.tls = {
      caFile: join(dir, 'ca.crt'),
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
    };
    config.capture.replay = { file: capture, pace: 'fast', loop: false };
    config.spoolDir = join(dir, 'spool');
    config.http = { port: 0 };
    writeFileSync(join(dir, 'agent.yaml'), stringify(config));
    return startProcess(
      'hark-agent',
      process.execPath,
      [join(root, 'sensor-agent/dist/cli.js'), 'run', '--config', join(dir, 'agent.yaml')],
      {
        logFile: join(dir, 'agent.log'),
        env: { ...process.env, NODE_NAME: 'edge-a-1' },
      },
    );
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'hark-e2e-'));
    cp = await new ControlPlane().start();
    const operatorKubeconfig = installOperatorPrerequisites(cp, NS);
    operator = await startOperator({
      kubeconfig: operatorKubeconfig,
      namespace: NS,
      httpPort: 0,
      logger: log,
    });
    await operator.leading;

    // The operator generated the site CA; the aggregator's install trusts it
    // and gets its broker and client certificates from it.
    const ca = kubectlJson(['get', 'secret', 'hark-site-ca', '-n', NS]);
    siteCa = {
      certPem: Buffer.from(ca.data['tls.crt'], 'base64').toString(),
      keyPem: Buffer.from(ca.data['tls.key'], 'base64').toString(),
    };
    brokerServer = await pki.issueCertificate(siteCa, {
      commonName: 'hark-broker',
      usage: 'server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      lifetimeMs: DAY,
    });
    aggregatorClient = await pki.issueCertificate(siteCa, {
      commonName: 'hark-aggregator',
      organizationalUnit: 'hark-aggregator',
      usage: 'client',
      lifetimeMs: DAY,
    });
  });

  afterAll(async () => {
    await agent?.stop();
    await aggregator?.stop();
    await mosquitto?.stop();
    await operator?.stop();
    await cp?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('on the embedded broker', async () => {
    aggregator = await startEmbeddedAggregator();
    const sensor = parse(readFileSync(join(root, 'examples', 'sensor.yaml'), 'utf8'));
    sensor.spec.reporting.brokerUrl = `mqtts://127.0.0.1:${aggregator.brokerPort}`;
    cp.kubectl(['apply', '-f', '-'], JSON.stringify(sensor));
    await waitFor('the Sensor to become Ready', sensorReady, { timeoutMs: 90_000 });
    expect(
      cp
        .kubectl([
          'get',
          'pods',
          '-n',
          'default',
          '-l',
          'app.kubernetes.io/instance=plant-floor',
          '-o',
          'name',
        ])
        .trim()
        .split('\n'),
    ).toHaveLength(2);

    const expected = captureAndExpectation(work);
    await waitFor('the capture to exist', () => existsSync(expected.file), { timeoutMs: 30_000 });
    agent = startAgentFromCluster(expected.file, 'agent-embedded');
    await waitFor("the aggregator to serve the agent's devices", async () => (await devices()).length > 0, {
      timeoutMs: 60_000,
      describe: () => agent!.tail(),
    });
    const found = await devices();
    for (const d of found) expect(d.sensors).toContain('plant-floor');
    if (expected.mac) {
      const camera = found.find((d) => d.macs.includes(expected.mac));
      expect(camera, `device ${expected.mac} in ${JSON.stringify(found.map((d) => d.macs))}`).toBeDefined();
      expect(camera!.hostname?.value).toBe(expected.hostname);
    }
    // A sensor node's first day is its baseline (the default --alert-learning): nothing is raised.
    const alerts = await fetch(`${aggregator!.httpUrl}/api/v1/alerts`);
    expect(((await alerts.json()) as { total: number }).total).toBe(0);
    await agent.stop();
    await aggregator.stop();
    aggregator = undefined;
  });

  it.skipIf(!mosquittoAvailable())('through a real Mosquitto', async () => {
    mosquitto = await startMosquitto({
      tls: { ca: siteCa.certPem, cert: brokerServer.certPem, key: brokerServer.keyPem },
    });
    aggregator = await startAggregator({
      http: { port: 0, host: '127.0.0.1' },
      brokerUrl: mosquitto.url,
      tls: { ca: siteCa.certPem, clientCert: aggregatorClient.certPem, clientKey: aggregatorClient.keyPem },
      // No baseline: every device the agent reports is new, and raises an alert.
      alertLearningMs: 0,
      logger: log,
    });
    await repointSensor(mosquitto.url);
    const expected = captureAndExpectation(work);
    agent = startAgentFromCluster(expected.file, 'agent-mosquitto');
    await waitFor(
      'the aggregator to serve devices relayed by Mosquitto',
      async () => (await devices()).length > 0,
      {
        timeoutMs: 60_000,
        describe: () => `${agent!.tail()}\n--- mosquitto:\n${mosquitto!.logs()}`,
      },
    );
    if (expected.mac) expect((await devices()).some((d) => d.macs.includes(expected.mac))).toBe(true);
    await waitFor('a new-device alert for every device the agent reported', async () => {
      const ids = (await devices()).map((d) => d.id).sort();
      const res = await fetch(`${aggregator!.httpUrl}/api/v1/alerts?site=site-a&kind=new-device&limit=1000`);
      const alerted = ((await res.json()) as { items: { device: string }[] }).items
        .map((a) => a.device)
        .sort();
      return ids.length > 0 && JSON.stringify(alerted) === JSON.stringify(ids);
    });
  });

  it('cuts off a deleted Sensor: the finalizer revokes its certificate, the broker enforces the CRL', async () => {
    await agent?.stop();
    await aggregator?.stop();
    // The aggregator's mount of the site CA Secret's ca.crl, which the operator published from the start.
    const crlFile = join(work, 'ca.crl');
    const publishedCrl = () =>
      Buffer.from(kubectlJson(['get', 'secret', 'hark-site-ca', '-n', NS]).data['ca.crl'], 'base64');
    writeFileSync(crlFile, publishedCrl());
    aggregator = await startEmbeddedAggregator({ crlFile, crlReloadIntervalMs: 200 });
    const url = `mqtts://127.0.0.1:${aggregator.brokerPort}`;
    await repointSensor(url);
    const expected = captureAndExpectation(work);
    agent = startAgentFromCluster(expected.file, 'agent-revoked');
    const health = async () => {
      const res = await fetch(`${aggregator!.httpUrl}/api/v1/sensors`);
      const body = (await res.json()) as { items: Array<{ id: string; health: string }> };
      return body.items.find((s) => s.id === 'site-a.plant-floor')?.health;
    };
    await waitFor('the agent online', async () => (await health()) === 'online', {
      timeoutMs: 60_000,
      describe: () => agent!.tail(),
    });

    // Not --wait: the in-process operator must run the finalizer meanwhile.
    cp.kubectl(['delete', 'sensor', 'plant-floor', '-n', 'default', '--wait=false']);
    await waitFor(
      'the finalizer to let the Sensor go',
      () => cp.kubectl(['get', 'sensors', '-n', 'default', '-o', 'name']).trim() === '',
    );
    // The kubelet refreshes the mounted Secret; the broker re-reads it.
    writeFileSync(crlFile, publishedCrl());
    await waitFor('the broker to cut the revoked agent off', async () => (await health()) === 'offline', {
      timeoutMs: 30_000,
      describe: () => agent!.tail(),
    });
    const denied = async () => {
      const text = await (await fetch(`${aggregator!.httpUrl}/metrics`)).text();
      return Number(
        /hark_broker_denied_total\{action="connect",reason="revoked"\} (\d+)/.exec(text)?.[1] ?? 0,
      );
    };
    // The agent keeps trying, and keeps being refused.
    await waitFor('a refused reconnect', async () => (await denied()) >= 2, { timeoutMs: 30_000 });
    expect(await health()).toBe('offline');
  });
});
