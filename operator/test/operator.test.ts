// The operator against a real control plane: etcd, kube-apiserver,
// kube-controller-manager (garbage collection, DaemonSets), kube-scheduler
// and kwok running the agent pods on fake edge nodes. The operator runs as
// its own ServiceAccount bound to the ClusterRole the chart ships.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../test/support/controlplane.js';
import { repoRoot } from '../../test/support/paths.js';
import { waitFor } from '../../test/support/processes.js';
import { type OperatorHandle, operatorClusterRole, pki, startOperator } from '../src/index.js';

const root = repoRoot();
const NS = 'hark-system';

describe('operator on a real control plane', () => {
  let cp: ControlPlane;
  let operator: OperatorHandle | undefined;
  let operatorKubeconfig: string;
  const log = pino({ level: process.env.HARK_TEST_LOG ?? 'silent' });

  const get = (args: string[]) => JSON.parse(cp.kubectl([...args, '-o', 'json']));
  const sensor = () => get(['get', 'sensor', 'plant-floor', '-n', 'default']);
  const condition = (
    s: { status?: { conditions?: Array<{ type: string; status: string; reason: string }> } },
    type: string,
  ) => s.status?.conditions?.find((c) => c.type === type);
  const writes = async () => {
    const metric = await operator!.metrics.writes.get();
    return metric.values.reduce((sum, v) => sum + v.value, 0);
  };
  const start = async () => {
    operator = await startOperator({
      kubeconfig: operatorKubeconfig,
      namespace: NS,
      httpPort: 0,
      logger: log,
    });
  };

  beforeAll(async () => {
    cp = await new ControlPlane().start();
    cp.kubectl(['apply', '--server-side', '-f', join(root, 'crds')]);
    cp.kubectl(['wait', '--for=condition=Established', 'crd/sensors.hark.dev', '--timeout=60s']);
    cp.kubectl(['create', 'namespace', NS]);
    cp.kubectl(['create', 'serviceaccount', 'hark-operator', '-n', NS]);
    cp.kubectl(['apply', '-f', '-'], JSON.stringify(operatorClusterRole()));
    cp.kubectl([
      'create',
      'clusterrolebinding',
      'hark-operator',
      '--clusterrole=hark-operator',
      `--serviceaccount=${NS}:hark-operator`,
    ]);
    operatorKubeconfig = cp.serviceAccountKubeconfig(NS, 'hark-operator');
    await start();
  });

  afterAll(async () => {
    await operator?.stop();
    await cp?.stop();
  });

  it('teaches the API through kubectl explain', async () => {
    let text = '';
    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    await waitFor('the Sensor OpenAPI schema to be published', () => {
      text = cp.kubectl(['explain', 'sensor.spec.reporting']);
      return true;
    });
    expect(text).toContain('brokerUrl');
    expect(text).toMatch(/mutual TLS/);
  });

  it('has the API server refuse invalid Sensors with a message that says what to fix', () => {
    const bad = readFileSync(join(root, 'examples', 'sensor.yaml'), 'utf8')
      .replace('name: plant-floor', 'name: bad')
      .replace('mqtts://', 'mqtt://');
    expect(() => cp.kubectl(['apply', '-f', '-'], bad)).toThrow(/brokerUrl must use mqtts:\/\//);
    const badRenew = readFileSync(join(root, 'examples', 'sensor.yaml'), 'utf8')
      .replace('name: plant-floor', 'name: bad2')
      .replace('duration: 2160h', 'duration: 24h\n    renewBefore: 48h');
    expect(() => cp.kubectl(['apply', '-f', '-'], badRenew)).toThrow(
      /renewBefore must be shorter than certificate.duration/,
    );
  });

  it('issues a certificate from the site CA, runs agents on the selected edge nodes and reports Ready', async () => {
    cp.kubectl(['apply', '-f', join(root, 'examples', 'sensor.yaml')]);
    await waitFor('the Sensor to become Ready', () => condition(sensor(), 'Ready')?.status === 'True', {
      timeoutMs: 90_000,
      describe: () => JSON.stringify(sensor().status, null, 2),
    });
    const s = sensor();
    expect(s.status.observedGeneration).toBe(s.metadata.generation);
    expect(s.status.desiredNodes).toBe(2);
    expect(s.status.readyNodes).toBe(2);
    expect(s.status.agentVersion).toBe('0.1.0');
    for (const type of ['CertificateReady', 'AgentsReady']) expect(condition(s, type)?.status).toBe('True');
    expect(condition(s, 'Stalled')?.status).toBe('False');
    expect(condition(s, 'Reconciling')?.status).toBe('False');

    const ca = get(['get', 'secret', 'hark-site-ca', '-n', NS]);
    const caPem = Buffer.from(ca.data['tls.crt'], 'base64').toString();
    const tls = get(['get', 'secret', s.status.certificate.secretName, '-n', 'default']);
    const certPem = Buffer.from(tls.data['tls.crt'], 'base64').toString();
    expect(pki.isIssuedBy(certPem, caPem)).toBe(true);
    const info = pki.describeCertificate(certPem);
    expect(info.commonName).toBe('site-a.plant-floor');
    expect(info.serialNumber).toBe(s.status.certificate.serialNumber);
    expect(s.status.certificate.caSource).toBe('Generated');

    const pods = get(['get', 'pods', '-n', 'default', '-l', 'app.kubernetes.io/instance=plant-floor']);
    const nodes = pods.items.map((p: { spec: { nodeName: string } }) => p.spec.nodeName).sort();
    expect(nodes).toEqual(['edge-a-1', 'edge-a-2']);
    const ds = get(['get', 'daemonset', 'hark-agent-plant-floor', '-n', 'default']);
    const podSpec = ds.spec.template.spec;
    expect(podSpec.hostNetwork).toBe(true);
    expect(podSpec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(podSpec.containers[0].securityContext.capabilities).toEqual({
      drop: ['ALL'],
      add: ['NET_RAW', 'NET_ADMIN'],
    });
    expect(podSpec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    expect(podSpec.securityContext.seccompProfile.type).toBe('RuntimeDefault');
  });

  it('makes no writes in steady state', async () => {
    const before = await writes();
    await new Promise((r) => setTimeout(r, 3000));
    cp.kubectl(['annotate', 'sensor', 'plant-floor', '-n', 'default', 'touch=1', '--overwrite']);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await writes()).toBe(before);
  });

  it('puts back a hand edit of the DaemonSet', async () => {
    cp.kubectl([
      'patch',
      'daemonset',
      'hark-agent-plant-floor',
      '-n',
      'default',
      '--type=json',
      '-p',
      '[{"op":"replace","path":"/spec/template/spec/containers/0/securityContext/capabilities/add","value":["NET_RAW","NET_ADMIN","SYS_ADMIN"]}]',
    ]);
    await waitFor('the operator to restore the capabilities', () => {
      const ds = get(['get', 'daemonset', 'hark-agent-plant-floor', '-n', 'default']);
      return (
        JSON.stringify(ds.spec.template.spec.containers[0].securityContext.capabilities.add) ===
        '["NET_RAW","NET_ADMIN"]'
      );
    });
  });

  it('reuses the certificate across an operator restart', async () => {
    const serial = sensor().status.certificate.serialNumber;
    await operator!.stop();
    await start();
    await new Promise((r) => setTimeout(r, 2000));
    expect(sensor().status.certificate.serialNumber).toBe(serial);
    expect((await operator!.metrics.certificatesIssued.get()).values.length).toBe(0);
  });

  it('leaves garbage collection to clean up after a deleted Sensor', async () => {
    cp.kubectl(['delete', 'sensor', 'plant-floor', '-n', 'default', '--wait=true']);
    await waitFor('the DaemonSet and Secret to be collected', () => {
      const left = cp.kubectl([
        'get',
        'daemonsets,secrets,configmaps',
        '-n',
        'default',
        '-l',
        'hark.dev/sensor=plant-floor',
        '-o',
        'name',
      ]);
      return left.trim() === '';
    });
  });
});
