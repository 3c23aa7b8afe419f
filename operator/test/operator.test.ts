// The operator against a real control plane: etcd, kube-apiserver,
// kube-controller-manager (garbage collection, DaemonSets), kube-scheduler
// and kwok running the agent pods on fake edge nodes. The operator runs as
// its own ServiceAccount bound to the ClusterRole the chart ships.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane, NEVER_READY_IMAGE } from '../../test/support/controlplane.js';
import { installOperatorPrerequisites } from '../../test/support/operator-install.js';
import { repoRoot } from '../../test/support/paths.js';
import { waitFor } from '../../test/support/processes.js';
import { type OperatorHandle, pki, startOperator } from '../src/index.js';

const root = repoRoot();
const NS = 'hark-system';

/** `openssl crl -text` of the CA Secret's first CRL, its signature checked against the Secret's CA (throws if it fails). */
function crlText(caSecret: { data: Record<string, string> }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hark-crl-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), Buffer.from(caSecret.data['tls.crt']!, 'base64'));
    writeFileSync(join(dir, 'crl.pem'), Buffer.from(caSecret.data['ca.crl']!, 'base64'));
    return execFileSync(
      'openssl',
      ['crl', '-in', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.pem'), '-noout', '-text'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('operator on a real control plane', () => {
  let cp: ControlPlane;
  let operator: OperatorHandle | undefined;
  let operatorKubeconfig: string;
  const log = pino({ level: process.env.HARK_TEST_LOG ?? 'silent' });

  const get = (args: string[]) => JSON.parse(cp.kubectl([...args, '-o', 'json']));
  const sensor = () => get(['get', 'sensor', 'plant-floor', '-n', 'default']);
  /** Names of the events in the default namespace with this reason. */
  const eventsWithReason = (reason: string) =>
    cp
      .kubectl(['get', 'events', '-n', 'default', '--field-selector', `reason=${reason}`, '-o', 'name'])
      .split('\n')
      .filter(Boolean);
  const patchSensor = (patch: string | object) =>
    cp.kubectl([
      'patch',
      'sensor',
      'plant-floor',
      '-n',
      'default',
      '--type=merge',
      '-p',
      typeof patch === 'string' ? patch : JSON.stringify(patch),
    ]);
  const condition = (
    s: { status?: { conditions?: Array<{ type: string; status: string; reason: string }> } },
    type: string,
  ) => s.status?.conditions?.find((c) => c.type === type);
  /** The rollout of `version` is complete: the status reports it and the Sensor is Ready. */
  const rolledOutTo = (version: string) => {
    const s = sensor();
    return s.status?.agentVersion === version && condition(s, 'Ready')?.status === 'True';
  };
  /** API writes the operator has made, by kind, e.g. { DaemonSet: 1, SensorStatus: 3 }. */
  const writes = async () => {
    const metric = await operator!.metrics.writes.get();
    return Object.fromEntries(metric.values.map((v) => [String(v.labels.kind), v.value]));
  };
  let clockOffsetMs = 0;
  /**
   * A replica that loses its lease stops, and its process exits for the kubelet to restart
   * (main.ts). In process, the test restarts it: an API server slow to come back on a loaded host
   * can outlast the renew deadline, and the replica must then lead again, as in a cluster.
   */
  const restartAfterLoss = (identity: string) => () => {
    void (async () => {
      await operator?.stop().catch(() => undefined);
      await start(identity);
    })();
  };
  const launch = (identity: string, onLeadershipLost?: () => void) =>
    startOperator({
      ...(onLeadershipLost ? { onLeadershipLost } : {}),
      kubeconfig: operatorKubeconfig,
      namespace: NS,
      httpPort: 0,
      logger: log,
      now: () => new Date(Date.now() + clockOffsetMs),
      // Renewals must outlast an API-server restart (a few seconds here) without losing the lease.
      leaderElection: { identity, leaseDurationMs: 20_000, renewDeadlineMs: 15_000, retryPeriodMs: 500 },
      caReloadIntervalMs: 300,
      caRotationGraceMs: 6000,
    });
  const start = async (identity = 'replica-a') => {
    operator = await launch(identity, restartAfterLoss(identity));
    await operator.leading;
  };

  beforeAll(async () => {
    cp = await new ControlPlane().start();
    operatorKubeconfig = installOperatorPrerequisites(cp, NS);
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
    // The brokers refuse clients of a CA without a CRL: one is published, empty, from the start.
    expect(crlText(ca)).toMatch(/No Revoked Certificates/);

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
    // Steady means converged: let the last DaemonSet status updates of the rollout land first.
    let last = JSON.stringify(await writes());
    let quietSince = Date.now();
    await waitFor(
      'the operator to settle',
      async () => {
        const now = JSON.stringify(await writes());
        if (now !== last) [last, quietSince] = [now, Date.now()];
        return Date.now() - quietSince > 2000;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const before = await writes();
    await new Promise((r) => setTimeout(r, 3000));
    cp.kubectl(['annotate', 'sensor', 'plant-floor', '-n', 'default', 'touch=1', '--overwrite']);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await writes()).toEqual(before);
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

  it('renews the certificate at its renewal time and rolls the agents onto it', async () => {
    const before = sensor().status.certificate;
    const podsBefore = cp.kubectl([
      'get',
      'pods',
      '-n',
      'default',
      '-l',
      'app.kubernetes.io/instance=plant-floor',
      '-o',
      'name',
    ]);
    // Move the operator's clock past the renewal time (two thirds of the lifetime).
    clockOffsetMs = Date.parse(before.renewalTime) - Date.now() + 60_000;
    cp.kubectl(['annotate', 'sensor', 'plant-floor', '-n', 'default', 'touch=2', '--overwrite']);
    await waitFor(
      'a renewed certificate',
      () => sensor().status.certificate.serialNumber !== before.serialNumber,
    );
    const after = sensor().status.certificate;
    expect(Date.parse(after.notAfter)).toBeGreaterThan(Date.parse(before.notAfter));
    const ds = get(['get', 'daemonset', 'hark-agent-plant-floor', '-n', 'default']);
    expect(ds.spec.template.metadata.annotations['hark.dev/certificate-serial']).toBe(after.serialNumber);
    await waitFor(
      'the agent pods to roll',
      () => {
        const now = cp.kubectl([
          'get',
          'pods',
          '-n',
          'default',
          '-l',
          'app.kubernetes.io/instance=plant-floor',
          '-o',
          'name',
        ]);
        return now !== podsBefore && condition(sensor(), 'Ready')?.status === 'True';
      },
      { timeoutMs: 90_000 },
    );
  });

  it('elects one leader among two replicas, and the standby takes over when the leader goes', async () => {
    const standby = await launch('replica-b');
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(operator!.isLeader()).toBe(true);
      expect(standby.isLeader()).toBe(false);
      expect(get(['get', 'lease', 'hark-operator', '-n', NS]).spec.holderIdentity).toBe('replica-a');
      await operator!.stop();
      await standby.leading;
      expect(standby.isLeader()).toBe(true);
      expect(get(['get', 'lease', 'hark-operator', '-n', NS]).spec.holderIdentity).toBe('replica-b');
      patchSensor('{"spec":{"agent":{"version":"0.1.1"}}}');
      await waitFor('the new leader to roll out 0.1.1', () => rolledOutTo('0.1.1'), { timeoutMs: 90_000 });
    } finally {
      await standby.stop();
      await start();
    }
  });

  it('carries on across an API server restart', async () => {
    await cp.restartApiServer(2000);
    patchSensor('{"spec":{"agent":{"version":"0.1.2"}}}');
    await waitFor('the rollout of 0.1.2 after the restart', () => rolledOutTo('0.1.2'), {
      timeoutMs: 120_000,
    });
    const ds = get(['get', 'daemonset', 'hark-agent-plant-floor', '-n', 'default']);
    expect(ds.spec.template.spec.containers[0].image).toMatch(/:0\.1\.2$/);
  });

  it('holds a paused rollout, and rolls it when resumed', async () => {
    patchSensor({ spec: { rollout: { paused: true }, agent: { version: '0.2.0' } } });
    await waitFor(
      'the Sensor to report the paused rollout',
      () => condition(sensor(), 'Reconciling')?.reason === 'RolloutPaused',
    );
    const image = () =>
      get(['get', 'daemonset', 'hark-agent-plant-floor', '-n', 'default']).spec.template.spec.containers[0]
        .image;
    expect(image()).toMatch(/:0\.1\.2$/);
    expect(sensor().status.agentVersion).toBe('0.1.2');
    patchSensor({ spec: { rollout: { paused: false } } });
    await waitFor('the resumed rollout of 0.2.0', () => rolledOutTo('0.2.0'), {
      timeoutMs: 90_000,
    });
    expect(image()).toMatch(/:0\.2\.0$/);
  });

  it('marks a rollout that makes no progress Stalled, says why, and recovers when fixed', async () => {
    const [repo, tag] = NEVER_READY_IMAGE.split(/:(?=[^:]+$)/) as [string, string];
    patchSensor(
      JSON.stringify({ spec: { agent: { image: repo, version: tag }, rollout: { progressDeadline: '5s' } } }),
    );
    await waitFor('Stalled=True', () => condition(sensor(), 'Stalled')?.status === 'True', {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(sensor().status, null, 1),
    });
    const s = sensor();
    const stalled = s.status.conditions.find((c: { type: string }) => c.type === 'Stalled');
    expect(stalled.reason).toBe('ProgressDeadlineExceeded');
    expect(stalled.message).toMatch(/No rollout progress for 5s/);
    expect(stalled.message).toMatch(/not ready/);
    expect(condition(s, 'Ready')?.status).toBe('False');
    expect(condition(s, 'Reconciling')?.status).toBe('False');
    expect(s.status.agentVersion).toBe('0.2.0');
    const events = cp.kubectl([
      'get',
      'events',
      '-n',
      'default',
      '--field-selector',
      'reason=ProgressDeadlineExceeded',
      '-o',
      'name',
    ]);
    expect(events.trim()).not.toBe('');

    patchSensor(
      JSON.stringify({
        spec: {
          agent: { image: 'ghcr.io/hark-dev/sensor-agent', version: '0.2.1' },
          rollout: { progressDeadline: '10m' },
        },
      }),
    );
    await waitFor(
      'recovery to Ready',
      () =>
        condition(sensor(), 'Ready')?.status === 'True' && condition(sensor(), 'Stalled')?.status === 'False',
      {
        timeoutMs: 90_000,
      },
    );
    expect(sensor().status.agentVersion).toBe('0.2.1');
  });

  it('rotates the site CA: the trust bundle first, new certificates after the grace period', async () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const pems = (secret: { data: Record<string, string> }, key: string) =>
      Buffer.from(secret.data[key]!, 'base64')
        .toString()
        .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const before = sensor().status.certificate;
    const oldCa = pems(get(['get', 'secret', 'hark-site-ca', '-n', NS]), 'tls.crt')[0]!;
    const newCa = await pki.generateCa({ commonName: 'rotated site CA', lifetimeMs: 365 * 86_400_000 });
    cp.kubectl([
      'patch',
      'secret',
      'hark-site-ca',
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ data: { 'tls.crt': b64(newCa.certPem), 'tls.key': b64(newCa.keyPem) } }),
    ]);
    const agentSecret = () => get(['get', 'secret', before.secretName, '-n', 'default']);
    await waitFor('the old and new CA in the agent trust bundle', () => {
      const bundle = pems(agentSecret(), 'ca.crt');
      return bundle.length === 2 && bundle.includes(newCa.certPem.trim()) && bundle.includes(oldCa);
    });
    // The bundle is out before any agent certificate changes.
    expect(sensor().status.certificate.serialNumber).toBe(before.serialNumber);
    expect(pems(get(['get', 'secret', 'hark-site-ca', '-n', NS]), 'ca.crt')).toHaveLength(2);
    // The new CA's CRL is out before its certificates are, and the old CA's is carried beside it.
    const caSecret = get(['get', 'secret', 'hark-site-ca', '-n', NS]);
    expect(
      Buffer.from(caSecret.data['ca.crl'], 'base64')
        .toString()
        .match(/BEGIN X509 CRL/g),
    ).toHaveLength(2);
    expect(crlText(caSecret)).toMatch(/verify OK|No Revoked Certificates/);

    await waitFor(
      'a certificate from the new CA after the grace period',
      () => sensor().status.certificate.serialNumber !== before.serialNumber,
      {
        timeoutMs: 60_000,
      },
    );
    const cert = Buffer.from(agentSecret().data['tls.crt'], 'base64').toString();
    expect(pki.isIssuedBy(cert, newCa.certPem)).toBe(true);
    expect(sensor().status.certificate.caSource).toBe('Provided');
    expect(eventsWithReason('CertificateReissued')).not.toEqual([]);
    await waitFor('Ready on the new certificate', () => condition(sensor(), 'Ready')?.status === 'True', {
      timeoutMs: 90_000,
    });
  });

  it("revokes a deleted Sensor's certificate in a CRL the site CA signs, and leaves the rest to garbage collection", async () => {
    expect(sensor().metadata.finalizers).toContain('hark.dev/revoke-certificate');
    const serial = sensor().status.certificate.serialNumber as string;
    // Not --wait: kubectl would block this process, and with it the in-process operator that must run the finalizer.
    cp.kubectl(['delete', 'sensor', 'plant-floor', '-n', 'default', '--wait=false']);
    await waitFor(
      'the finalizer to let the Sensor go',
      () => cp.kubectl(['get', 'sensors', '-n', 'default', '-o', 'name']).trim() === '',
    );
    const caSecret = get(['get', 'secret', 'hark-site-ca', '-n', NS]);
    const text = crlText(caSecret);
    expect(text).toMatch(/Version 2/);
    expect(text.toUpperCase().replace(/:/g, '')).toContain(serial.toUpperCase().replace(/^0+/, ''));
    expect(eventsWithReason('CertificateRevoked')).not.toEqual([]);
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

  it("defaults the capture backend to auto and the buffer to 32 MiB, and carries chosen ones into the agent's configuration", async () => {
    const base = readFileSync(join(root, 'examples', 'sensor.yaml'), 'utf8');
    const agentJson = (name: string) => {
      const cm = get(['get', 'configmap', `hark-agent-${name}`, '-n', 'default']);
      return JSON.parse(cm.data['agent.json']) as { capture: { backend?: string; bufferMiB?: number } };
    };
    const apply = (name: string, capture: string) =>
      cp.kubectl(
        ['apply', '-f', '-'],
        base.replace('name: plant-floor', `name: ${name}`).replace('    interfaces: [auto]', capture),
      );
    apply('backend-default', '    interfaces: [auto]');
    apply('backend-tcpdump', '    interfaces: [auto]\n    backend: tcpdump\n    bufferMiB: 128');
    expect(get(['get', 'sensor', 'backend-default', '-n', 'default']).spec.capture.backend).toBe('auto');
    await waitFor('both agent configurations', () => {
      try {
        return agentJson('backend-default') !== undefined && agentJson('backend-tcpdump') !== undefined;
      } catch {
        return false;
      }
    });
    expect(agentJson('backend-default').capture.backend).toBeUndefined(); // auto: the agent decides
    expect(agentJson('backend-tcpdump').capture.backend).toBe('tcpdump');
    expect(agentJson('backend-default').capture.bufferMiB).toBe(32);
    expect(agentJson('backend-tcpdump').capture.bufferMiB).toBe(128);
    const patchCapture = (capture: object) =>
      cp.kubectl([
        'patch',
        'sensor',
        'backend-default',
        '-n',
        'default',
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { capture } }),
      ]);
    expect(() => patchCapture({ bufferMiB: 1 })).toThrow(/should be greater than or equal to 2/);
    expect(() => patchCapture({ backend: 'pf_ring' })).toThrow(/Unsupported value: "pf_ring"/);
    cp.kubectl(['delete', 'sensor', 'backend-default', 'backend-tcpdump', '-n', 'default', '--wait=false']);
  });
});
