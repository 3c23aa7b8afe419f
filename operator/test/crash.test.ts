// The operator process killed with SIGKILL in the middle of reconciling a
// batch of Sensors converges when it starts again, and no Sensor ends up with
// a second certificate: each one's Secret, status and pods agree on one serial.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../test/support/controlplane.js';
import { installOperatorPrerequisites } from '../../test/support/operator-install.js';
import { repoRoot } from '../../test/support/paths.js';
import { type ManagedProcess, startProcess, waitFor } from '../../test/support/processes.js';

const NS = 'hark-system';
const COUNT = 12;

describe('operator killed mid-reconcile', () => {
  let cp: ControlPlane;
  let kubeconfig: string;
  let proc: ManagedProcess | undefined;

  const launch = (n: number) =>
    startProcess(
      'hark-operator',
      process.execPath,
      [
        join(repoRoot(), 'operator/dist/main.js'),
        '--kubeconfig',
        kubeconfig,
        '--namespace',
        NS,
        '--http-port',
        '0',
      ],
      {
        logFile: join(cp.workDir, `operator-${n}.log`),
        env: { ...process.env, POD_NAME: `operator-${n}`, LOG_LEVEL: 'debug' },
      },
    );

  beforeAll(async () => {
    cp = await new ControlPlane().start();
    kubeconfig = installOperatorPrerequisites(cp, NS);
  });

  afterAll(async () => {
    await proc?.stop();
    await cp?.stop();
  });

  it('converges after SIGKILL without issuing a second certificate', { timeout: 240_000 }, async () => {
    const sensors = Array.from({ length: COUNT }, (_, i) => ({
      apiVersion: 'hark.dev/v1alpha1',
      kind: 'Sensor',
      metadata: { name: `s${i}`, namespace: 'default' },
      spec: {
        site: 'site-a',
        nodeSelector: { 'hark.dev/site': 'site-a' },
        tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
        reporting: { brokerUrl: 'mqtts://aggregator.example:8883' },
        // Every Sensor here selects the same nodes, whose network the agents share.
        agent: { metricsPort: 9464 + i },
      },
    }));
    cp.kubectl(['apply', '-f', '-'], sensors.map((s) => JSON.stringify(s)).join('\n'));

    proc = launch(1);
    // Kill it as soon as it has written its first certificate: the rest of the batch is mid-flight.
    await waitFor(
      'the first certificate Secret',
      () => cp.kubectl(['get', 'secrets', '-n', 'default', '-o', 'name']).includes('-tls'),
      {
        timeoutMs: 60_000,
        intervalMs: 50,
        describe: () => proc!.tail(),
      },
    );
    proc.child.kill('SIGKILL');
    await proc.exited;
    const serialsAtKill = serials();

    proc = launch(2);
    await waitFor(
      `all ${COUNT} Sensors Ready`,
      () => {
        const list = JSON.parse(cp.kubectl(['get', 'sensors', '-n', 'default', '-o', 'json'])).items;
        return (
          list.filter((s: { status?: { conditions?: Array<{ type: string; status: string }> } }) =>
            s.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          ).length === COUNT
        );
      },
      {
        timeoutMs: 120_000,
        describe: () =>
          `${cp.kubectl(['get', 'sensors,daemonsets', '-n', 'default', '-o', 'wide'])}\n${proc!.tail(5)}`,
      },
    );

    const after = serials();
    for (const [name, serial] of Object.entries(serialsAtKill))
      expect(after[name], `Secret of ${name} kept its certificate`).toBe(serial);
    const list = JSON.parse(cp.kubectl(['get', 'sensors', '-n', 'default', '-o', 'json'])).items as Array<{
      metadata: { name: string };
      status: { certificate: { serialNumber: string } };
    }>;
    for (const s of list) {
      expect(s.status.certificate.serialNumber).toBe(after[`hark-agent-${s.metadata.name}-tls`]);
      const ds = JSON.parse(
        cp.kubectl(['get', 'daemonset', `hark-agent-${s.metadata.name}`, '-n', 'default', '-o', 'json']),
      );
      expect(ds.spec.template.metadata.annotations['hark.dev/certificate-serial']).toBe(
        s.status.certificate.serialNumber,
      );
    }
    const issued = JSON.parse(
      cp.kubectl([
        'get',
        'events',
        '-n',
        'default',
        '--field-selector',
        'reason=CertificateIssued',
        '-o',
        'json',
      ]),
    ).items as Array<{
      involvedObject: { name: string };
    }>;
    const perSensor = new Map<string, number>();
    for (const e of issued)
      perSensor.set(e.involvedObject.name, (perSensor.get(e.involvedObject.name) ?? 0) + 1);
    for (const [name, count] of perSensor) expect(count, `certificates issued to ${name}`).toBe(1);
  });

  /** Secret name → certificate serial, from the annotations the operator writes with the certificate. */
  function serials(): Record<string, string> {
    const secrets = JSON.parse(
      cp.kubectl([
        'get',
        'secrets',
        '-n',
        'default',
        '-l',
        'app.kubernetes.io/managed-by=hark-operator',
        '-o',
        'json',
      ]),
    ).items as Array<{
      metadata: { name: string; annotations: Record<string, string> };
    }>;
    return Object.fromEntries(
      secrets.map((s) => [s.metadata.name, s.metadata.annotations['hark.dev/certificate-serial']!]),
    );
  }
});
