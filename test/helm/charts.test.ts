// The Helm charts against a real Kubernetes control plane (test/support/controlplane.ts): lint, render,
// every rendered manifest validated by the real kube-apiserver (kubectl apply --dry-run=server, with the
// Sensor CRD installed), then install, upgrade and uninstall of both charts. The operator's Deployment
// pods run on kwok (fake) nodes, so the operator also runs here in-process as the chart's ServiceAccount,
// with exactly the RBAC the chart installed, to take a Sensor from the chart to Ready.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type OperatorHandle, pki, startOperator } from '@hark/operator';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ControlPlane, NEVER_READY_IMAGE } from '../support/controlplane.js';
import { waitFor } from '../support/processes.js';
import {
  CHARTS,
  chartDir,
  exampleValues,
  helm,
  helmAsync,
  type Manifest,
  parseManifests,
  root,
} from './support.js';

const NS = 'hark-system';
const KWOK = [
  '--set-json',
  'tolerations=[{"key":"kwok.x-k8s.io/node","operator":"Exists","effect":"NoSchedule"}]',
];
/** Kinds from CRDs a bare cluster lacks (prometheus-operator, cert-manager): rendered, not server-validated. */
const THIRD_PARTY = new Set(['monitoring.coreos.com/v1/ServiceMonitor', 'cert-manager.io/v1/Certificate']);
const VALUES: Array<[string, string]> = [
  ['hark-operator', 'example-values.yaml'],
  ['hark-aggregator', 'example-values.yaml'],
  ['hark-aggregator', 'mosquitto-values.yaml'],
  ['hark-aggregator', 'shards-values.yaml'],
];

describe('the charts, offline', () => {
  it.each(VALUES)('%s passes helm lint --strict with ci/%s', (chart, values) => {
    expect(helm(['lint', '--strict', chartDir(chart), '-f', exampleValues(chart, values)])).toMatch(
      /0 chart\(s\) failed/,
    );
  });

  it.each(CHARTS)('%s lints with its defaults', (chart) => {
    expect(helm(['lint', '--strict', chartDir(chart)])).toMatch(/0 chart\(s\) failed/);
  });

  it.each([
    ['hark-operator', ['--set', 'crds.instal=true'], /additional properties 'instal' not allowed/],
    ['hark-operator', ['--set', 'replicaCount=two'], /replicaCount/],
    [
      'hark-operator',
      [
        '--set-json',
        'sensors=[{"name":"a","spec":{"site":"s","reporting":{"brokerUrl":"mqtts://x"},"captur":{}}}]',
      ],
      /captur/,
    ],
    [
      'hark-operator',
      [
        '--set-json',
        'sensors=[{"name":"a","spec":{"site":"Bad Site","reporting":{"brokerUrl":"mqtts://x"}}}]',
      ],
      /site/,
    ],
    ['hark-aggregator', ['--set', 'broker.mode=mqtt'], /mode/],
    ['hark-aggregator', ['--set', 'replicas=2'], /replicas > 1 needs broker.mode mosquitto or external/],
    [
      'hark-aggregator',
      [
        '--set',
        'replicas=2,broker.mode=external,broker.external.url=mqtts://b:8883,persistence.existingClaim=c',
      ],
      /unset persistence.existingClaim/,
    ],
    [
      'hark-aggregator',
      ['--set', 'persistance.enabled=false'],
      /additional properties 'persistance' not allowed/,
    ],
  ] as const)('%s refuses bad values %j', (chart, args, message) => {
    expect(() => helm(['template', 'x', chartDir(chart), ...args])).toThrow(message);
  });

  it('labels every object with the standard app.kubernetes.io labels', () => {
    for (const [chart, values] of VALUES) {
      const manifests = parseManifests(
        helm(['template', chart, chartDir(chart), '-n', NS, '-f', exampleValues(chart, values)]),
      );
      for (const m of manifests) {
        const labels = m.metadata.labels ?? {};
        for (const key of [
          'app.kubernetes.io/name',
          'app.kubernetes.io/instance',
          'app.kubernetes.io/managed-by',
          'app.kubernetes.io/part-of',
        ])
          expect(labels[key], `${chart} ${m.kind}/${m.metadata.name} ${key}`).toBeTruthy();
      }
    }
  });

  it('runs the operator restricted: non-root, read-only root, no capabilities, RuntimeDefault seccomp', () => {
    const manifests = parseManifests(
      helm(['template', 'hark-operator', chartDir('hark-operator'), '-n', NS]),
    );
    const deploy = manifests.find((m) => m.kind === 'Deployment') as unknown as {
      spec: {
        replicas: number;
        template: {
          spec: {
            containers: Array<{ securityContext: Record<string, unknown>; env: Array<{ name: string }> }>;
          };
        };
      };
    };
    const container = deploy.spec.template.spec.containers[0]!;
    expect(deploy.spec.replicas).toBe(2);
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.env.map((e) => e.name)).toEqual(
      expect.arrayContaining(['POD_NAME', 'HARK_NAMESPACE', 'HARK_CA_SECRET', 'HARK_HTTP_PORT']),
    );
    const ns = manifests.find((m) => m.kind === 'Namespace')!;
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
  });

  it('renders the bundled Mosquitto with the topic prefix filled in, and the alert learning period', () => {
    const manifests = parseManifests(
      helm([
        'template',
        'agg',
        chartDir('hark-aggregator'),
        '-f',
        exampleValues('hark-aggregator', 'mosquitto-values.yaml'),
        '--set',
        'topicPrefix=plant',
        '--set',
        'alertLearningSeconds=3600',
      ]),
    );
    const cm = manifests.find((m) => m.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    expect(cm.data.acl).toContain('pattern write plant/v1/%u/+/+');
    expect(cm.data['mosquitto.conf']).toContain('require_certificate true');
    const deploy = manifests.find(
      (m) => m.kind === 'Deployment' && m.metadata.name === 'agg-hark-aggregator',
    ) as unknown as {
      spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } };
    };
    expect(deploy.spec.template.spec.containers[0]!.env).toContainEqual({
      name: 'HARK_BROKER_URL',
      value: 'mqtts://agg-hark-aggregator-mosquitto:8883',
    });
    expect(deploy.spec.template.spec.containers[0]!.env).toContainEqual({
      name: 'HARK_ALERT_LEARNING_SECONDS',
      value: '3600',
    });
  });
});

describe('the aggregator chart with shards', () => {
  const manifests = () =>
    parseManifests(
      helm([
        'template',
        'agg',
        chartDir('hark-aggregator'),
        '-n',
        'hark',
        '-f',
        exampleValues('hark-aggregator', 'shards-values.yaml'),
      ]),
    );
  type Env = Array<{ name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }>;

  it('renders a StatefulSet whose pods are the shards, each its own session and volume, peers by stable names', () => {
    const all = manifests();
    expect(all.filter((m) => m.kind === 'Deployment' || m.kind === 'PersistentVolumeClaim')).toEqual([]);
    const sts = all.find((m) => m.kind === 'StatefulSet') as unknown as {
      spec: {
        replicas: number;
        serviceName: string;
        volumeClaimTemplates: Array<{ metadata: { name: string } }>;
        template: { spec: { containers: Array<{ env: Env }>; volumes: Array<{ name: string }> } };
      };
    };
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.volumeClaimTemplates.map((t) => t.metadata.name)).toEqual(['data']);
    expect(sts.spec.template.spec.volumes.map((v) => v.name)).not.toContain('data');
    const env = Object.fromEntries(sts.spec.template.spec.containers[0]!.env.map((e) => [e.name, e]));
    expect(env.HARK_SHARDS!.value).toBe('3');
    expect(env.HARK_SHARD_INDEX!.valueFrom!.fieldRef.fieldPath).toBe(
      "metadata.labels['apps.kubernetes.io/pod-index']",
    );
    expect(env.HARK_CLIENT_ID!.valueFrom!.fieldRef.fieldPath).toBe('metadata.name');
    expect(env.HARK_BROKER_URL!.value).toBe('mqtts://mqtt.example.com:8883');
    expect(env.HARK_PEERS!.value!.split(',')).toEqual(
      [0, 1, 2].map((i) => `http://agg-hark-aggregator-${i}.agg-hark-aggregator-headless.hark.svc:8080`),
    );
    const headless = all.find(
      (m) => m.kind === 'Service' && m.metadata.name === sts.spec.serviceName,
    ) as unknown as {
      spec: { clusterIP: string };
    };
    expect(headless.spec.clusterIP).toBe('None');
    // Shards read each other with their own ServiceAccount: bound to the reader Role.
    const shards = all.find((m) => m.kind === 'RoleBinding') as unknown as {
      roleRef: { name: string };
      subjects: { name: string }[];
    };
    expect([shards.roleRef.name, shards.subjects[0]!.name]).toEqual([
      'agg-hark-aggregator-reader',
      'agg-hark-aggregator',
    ]);
  });
});

describe('the aggregator chart: who may read the API, and where alerts go', () => {
  type Env = Array<{ name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }>;
  type Pod = {
    serviceAccountName: string;
    automountServiceAccountToken: boolean;
    containers: { env: Env }[];
  };
  const render = (...set: string[]) =>
    parseManifests(helm(['template', 'agg', chartDir('hark-aggregator'), '--namespace', NS, ...set]));
  const podOf = (all: ReturnType<typeof render>) =>
    (all.find((m) => m.kind === 'Deployment') as unknown as { spec: { template: { spec: Pod } } }).spec
      .template.spec;

  it('reads through Kubernetes RBAC by default: a reader Role, a responder Role, token reviews and nothing more for itself', () => {
    const all = render();
    const pod = podOf(all);
    expect([pod.serviceAccountName, pod.automountServiceAccountToken]).toEqual(['agg-hark-aggregator', true]);
    const env = Object.fromEntries(pod.containers[0]!.env.map((e) => [e.name, e]));
    expect(env.HARK_API_AUTH!.value).toBe('kubernetes');
    expect(env.HARK_NAMESPACE!.valueFrom!.fieldRef.fieldPath).toBe('metadata.namespace');
    const roles = Object.fromEntries(
      all
        .filter((m) => m.kind === 'Role')
        .map((m) => [
          (m as unknown as { metadata: { name: string } }).metadata.name,
          (m as unknown as { rules: unknown[] }).rules,
        ]),
    );
    // Reading, and acting on alerts, each its own Role to bind.
    expect(roles).toEqual({
      'agg-hark-aggregator-reader': [{ apiGroups: ['hark.dev'], resources: ['inventory'], verbs: ['get'] }],
      'agg-hark-aggregator-responder': [
        { apiGroups: ['hark.dev'], resources: ['alerts'], verbs: ['update'] },
      ],
    });
    const delegator = all.find((m) => m.kind === 'ClusterRoleBinding') as unknown as {
      roleRef: { name: string };
    };
    expect(delegator.roleRef.name).toBe('system:auth-delegator');
    // One replica reads no peer: its ServiceAccount is not a reader.
    expect(all.filter((m) => m.kind === 'RoleBinding')).toEqual([]);
  });

  it('sends alerts to a webhook with a token from a Secret, mounted as a file, only when asked', () => {
    const pod = podOf(
      render(
        '--set',
        'alertWebhook.url=https://soar.example/hooks/hark',
        '--set',
        'alertWebhook.tokenSecret.name=soar',
      ),
    ) as Pod & { volumes: { name: string; secret?: { secretName: string; items: unknown[] } }[] };
    const env = Object.fromEntries(pod.containers[0]!.env.map((e) => [e.name, e.value]));
    expect(env.HARK_ALERT_WEBHOOK_URL).toBe('https://soar.example/hooks/hark');
    expect(env.HARK_ALERT_WEBHOOK_TOKEN_FILE).toBe('/etc/hark/alert-webhook/token');
    expect(pod.volumes.find((v) => v.name === 'alert-webhook')!.secret).toEqual({
      secretName: 'soar',
      items: [{ key: 'token', path: 'token' }],
    });
    const plain = podOf(render());
    expect(plain.containers[0]!.env.map((e) => e.name)).not.toContain('HARK_ALERT_WEBHOOK_URL');
    expect(() => render('--set', 'alertWebhook.url=soar.example')).toThrow(/alertWebhook/);
  });

  it('with api.auth none mounts no token and grants nothing', () => {
    const all = render('--set', 'api.auth=none');
    expect(podOf(all).automountServiceAccountToken).toBe(false);
    expect(all.filter((m) => ['Role', 'RoleBinding', 'ClusterRoleBinding'].includes(m.kind))).toEqual([]);
  });
});

describe('the charts on a real control plane', () => {
  let cp: ControlPlane;
  let operator: OperatorHandle | undefined;
  let kubeconfig: string;
  const log = pino({ level: process.env.HARK_TEST_LOG ?? 'silent' });
  const kube = (args: string[], input?: string) => cp.kubectl(args, input);
  const h = (args: string[]) => helm([...args, '--kubeconfig', kubeconfig]);
  const json = (args: string[]) => JSON.parse(kube([...args, '-o', 'json']));

  beforeAll(async () => {
    cp = await new ControlPlane().start();
    kubeconfig = cp.adminKubeconfigPath;
    kube(['create', 'namespace', NS]);
  });

  afterAll(async () => {
    await operator?.stop();
    await cp?.stop();
  });

  it('has every rendered manifest accepted by the real kube-apiserver (dry run)', () => {
    kube(['apply', '--server-side', '-f', join(root, 'crds')]);
    kube(['wait', '--for=condition=Established', 'crd/sensors.hark.dev', '--timeout=60s']);
    kube(['create', 'namespace', 'hark-agents']);
    try {
      for (const [chart, values] of VALUES) {
        const manifests = parseManifests(
          helm(['template', chart, chartDir(chart), '-n', NS, '-f', exampleValues(chart, values)]),
        );
        const checked = manifests.filter((m) => !THIRD_PARTY.has(`${m.apiVersion}/${m.kind}`));
        expect(manifests.length - checked.length).toBeLessThanOrEqual(3);
        const out = kube(
          ['apply', '--dry-run=server', '-f', '-'],
          checked.map((m) => JSON.stringify(m)).join('\n'),
        );
        expect(out.trim().split('\n')).toHaveLength(checked.length);
      }
    } finally {
      kube(['delete', 'namespace', 'hark-agents', '--wait=true', '--timeout=60s']);
      kube(['delete', 'crd', 'sensors.hark.dev', '--wait=true']);
    }
  });

  it('installs the operator chart; the Sensor it creates becomes Ready under the chart RBAC', async () => {
    h([
      'install',
      'hark-operator',
      chartDir('hark-operator'),
      '-n',
      NS,
      '-f',
      exampleValues('hark-operator'),
      '--set',
      'metrics.serviceMonitor.enabled=false',
      '--wait',
      '--timeout=3m',
    ]);
    const deploy = json(['get', 'deployment', 'hark-operator', '-n', NS]);
    expect(deploy.status.readyReplicas).toBe(2);
    // The Deployment's pods are kwok fakes: run the real operator as the chart's ServiceAccount.
    operator = await startOperator({
      kubeconfig: cp.serviceAccountKubeconfig(NS, 'hark-operator'),
      namespace: NS,
      caSecretName: 'hark-operator-site-ca',
      httpPort: 0,
      logger: log,
      leaderElection: { identity: 'helm-test' },
    });
    await operator.leading;
    await waitFor(
      'the chart Sensor to be Ready',
      () => {
        const s = json(['get', 'sensor', 'plant-floor', '-n', 'hark-agents']);
        return s.status?.conditions?.some(
          (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
        );
      },
      {
        timeoutMs: 90_000,
        describe: () =>
          JSON.stringify(json(['get', 'sensor', 'plant-floor', '-n', 'hark-agents']).status, null, 1),
      },
    );
    expect(json(['get', 'secret', 'hark-operator-site-ca', '-n', NS]).type).toBe('kubernetes.io/tls');
  });

  it('rolls a fleet change from the values (the Git change) through each DaemonSet at maxUnavailable, and stalls a bad one', async () => {
    // Each step is a new values file, as a commit to the site's values would be; Helm patches the Sensor in
    // place (the first install created it through a hook; this upgrade adopts it).
    const base = parse(readFileSync(exampleValues('hark-operator'), 'utf8'));
    const upgrade = async (change: (values: typeof base) => void) => {
      const values = structuredClone(base);
      values.metrics.serviceMonitor.enabled = false;
      values.agents ??= {};
      change(values);
      const file = join(cp.workDir, `values-${Date.now()}.yaml`);
      writeFileSync(file, stringify(values));
      // Asynchronously: the in-process operator must keep reconciling while Helm waits.
      await helmAsync(
        ['--kubeconfig', kubeconfig, 'upgrade', 'hark-operator', chartDir('hark-operator')].concat([
          '-n',
          NS,
          '-f',
          file,
          '--wait',
          '--timeout=3m',
        ]),
      );
    };
    const sensor = () => json(['get', 'sensor', 'plant-floor', '-n', 'hark-agents']);
    const daemonSet = () => json(['get', 'daemonset', 'hark-agent-plant-floor', '-n', 'hark-agents']);
    const condition = (type: string) =>
      sensor().status?.conditions?.find((c: { type: string }) => c.type === type) as
        | { status: string; reason: string; message: string; observedGeneration: number }
        | undefined;
    const before = { sensor: sensor(), daemonSet: daemonSet() };
    expect(before.sensor.status.agentVersion).toBe('0.1.0');
    expect(before.daemonSet.status.desiredNumberScheduled).toBe(2);

    let worstUnavailable = 0;
    const watchRollout = setInterval(() => {
      void cp
        .kubectlAsync(['get', 'daemonset', 'hark-agent-plant-floor', '-n', 'hark-agents', '-o', 'json'])
        .then(
          (out) => {
            worstUnavailable = Math.max(worstUnavailable, JSON.parse(out).status.numberUnavailable ?? 0);
          },
          () => {},
        );
    }, 100);
    try {
      await upgrade((v) => {
        v.agents.version = '0.2.0';
        v.replicaCount = 3;
      });
      await waitFor(
        'every agent on 0.2.0 and the Sensor Ready',
        () => sensor().status.agentVersion === '0.2.0' && condition('Ready')?.status === 'True',
        { timeoutMs: 90_000, describe: () => JSON.stringify(sensor().status, null, 1) },
      );
    } finally {
      clearInterval(watchRollout);
    }
    const after = { sensor: sensor(), daemonSet: daemonSet() };
    // The same Sensor, certificate and DaemonSet, rolled: not deleted and re-created.
    expect(after.sensor.metadata.uid).toBe(before.sensor.metadata.uid);
    expect(after.sensor.status.certificate.serialNumber).toBe(before.sensor.status.certificate.serialNumber);
    expect(after.daemonSet.metadata.uid).toBe(before.daemonSet.metadata.uid);
    expect(after.sensor.metadata.annotations?.['helm.sh/hook']).toBeUndefined();
    expect(after.daemonSet.spec.updateStrategy.rollingUpdate.maxUnavailable).toBe(1);
    expect(worstUnavailable).toBeLessThanOrEqual(1);
    const pods = json(['get', 'pods', '-n', 'hark-agents', '-l', 'app.kubernetes.io/instance=plant-floor']);
    expect(
      pods.items.map((p: { spec: { containers: Array<{ image: string }> } }) => p.spec.containers[0]!.image),
    ).toEqual(['ghcr.io/hark-dev/sensor-agent:0.2.0', 'ghcr.io/hark-dev/sensor-agent:0.2.0']);
    expect(json(['get', 'deployment', 'hark-operator', '-n', NS]).status.readyReplicas).toBe(3);

    // A version whose agents never become ready: the rollout stops at one node and says so, and Helm's
    // --wait (kstatus, as Flux's helm-controller uses) fails the upgrade with the Sensor's own message.
    const [repository, tag] = NEVER_READY_IMAGE.split(/:(?=[^:]+$)/) as [string, string];
    await expect(
      upgrade((v) => {
        v.agents.image = repository;
        v.agents.version = tag;
        v.replicaCount = 3;
        v.sensors[0].spec.rollout.progressDeadline = '15s';
      }),
    ).rejects.toThrow(/Sensor\/hark-agents\/plant-floor not ready.*No rollout progress for 15s/);
    expect(condition('Stalled')?.status).toBe('True');
    const stalled = condition('Stalled')!;
    expect(stalled.observedGeneration).toBe(sensor().metadata.generation);
    expect(stalled.message).toMatch(/15s/);
    expect(condition('Ready')?.status).toBe('False');
    // maxUnavailable 1: the other node still runs the last good version.
    const images = json([
      'get',
      'pods',
      '-n',
      'hark-agents',
      '-l',
      'app.kubernetes.io/instance=plant-floor',
    ]).items.map((p: { spec: { containers: Array<{ image: string }> } }) => p.spec.containers[0]!.image);
    expect(images).toContain('ghcr.io/hark-dev/sensor-agent:0.2.0');

    // Reverting the commit recovers.
    await upgrade((v) => {
      v.agents.version = '0.2.0';
      v.replicaCount = 3;
    });
    await waitFor(
      'Ready on 0.2.0 again',
      () => condition('Ready')?.status === 'True' && condition('Stalled')?.status === 'False',
      { timeoutMs: 90_000, describe: () => JSON.stringify(sensor().status, null, 1) },
    );
    expect(h(['status', 'hark-operator', '-n', NS, '-o', 'json'])).toContain('"version":4');
  });

  it('installs, upgrades and uninstalls the aggregator chart with its data volume', async () => {
    const ca = await pki.generateCa({ commonName: 'hark-test-site-ca', lifetimeMs: 86_400_000 });
    const server = await pki.issueCertificate(ca, {
      commonName: 'hark-aggregator',
      usage: 'server',
      dnsNames: ['hark-aggregator'],
      lifetimeMs: 86_400_000,
    });
    const client = await pki.issueCertificate(ca, {
      commonName: 'hark-aggregator',
      usage: 'client',
      lifetimeMs: 86_400_000,
    });
    const dir = cp.workDir;
    const files: Record<string, string> = {
      'ca.crt': ca.certPem,
      's.crt': server.certPem,
      's.key': server.keyPem,
      'c.crt': client.certPem,
      'c.key': client.keyPem,
    };
    for (const [f, c] of Object.entries(files)) writeFileSync(join(dir, f), c);
    kube([
      'create',
      'secret',
      'generic',
      'hark-site-ca',
      '-n',
      NS,
      `--from-file=ca.crt=${join(dir, 'ca.crt')}`,
    ]);
    kube([
      'create',
      'secret',
      'tls',
      'hark-aggregator-server-tls',
      '-n',
      NS,
      `--cert=${join(dir, 's.crt')}`,
      `--key=${join(dir, 's.key')}`,
    ]);
    kube([
      'create',
      'secret',
      'tls',
      'hark-aggregator-client-tls',
      '-n',
      NS,
      `--cert=${join(dir, 'c.crt')}`,
      `--key=${join(dir, 'c.key')}`,
    ]);
    kube(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: 'hark-test-data' },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          storageClassName: 'manual',
          persistentVolumeReclaimPolicy: 'Delete',
          hostPath: { path: join(dir, 'pv') },
        },
      }),
    );
    const values = ['-f', exampleValues('hark-aggregator'), '--set', 'serviceMonitor.enabled=false', ...KWOK];
    h([
      'install',
      'hark-aggregator',
      chartDir('hark-aggregator'),
      '-n',
      NS,
      ...values,
      '--wait',
      '--timeout=3m',
    ]);
    expect(json(['get', 'pvc', 'hark-aggregator-data', '-n', NS]).status.phase).toBe('Bound');
    const svc = json(['get', 'service', 'hark-aggregator', '-n', NS]);
    expect(svc.spec.ports.map((p: { name: string; port: number }) => `${p.name}:${p.port}`)).toEqual([
      'http:8080',
      'mqtts:8883',
    ]);
    h([
      'upgrade',
      'hark-aggregator',
      chartDir('hark-aggregator'),
      '-n',
      NS,
      ...values,
      '--set',
      'logLevel=debug',
      '--wait',
      '--timeout=3m',
    ]);
    h(['uninstall', 'hark-aggregator', '-n', NS, '--wait', '--timeout=2m']);
    await waitFor(
      'the aggregator objects to go',
      () =>
        kube([
          'get',
          'deploy,svc,pvc,ingress',
          '-n',
          NS,
          '-l',
          'app.kubernetes.io/instance=hark-aggregator',
          '-o',
          'name',
        ]).trim() === '',
    );
  });

  it('installs the aggregator as shards: a pod per shard numbered by the StatefulSet, each bound to its own volume', async () => {
    // The Secrets are the previous test's.
    for (const i of [0, 1])
      kube(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: `hark-test-shard-${i}` },
          spec: {
            capacity: { storage: '1Gi' },
            accessModes: ['ReadWriteOnce'],
            storageClassName: 'manual',
            persistentVolumeReclaimPolicy: 'Delete',
            hostPath: { path: join(cp.workDir, `shard-${i}`) },
          },
        }),
      );
    const release = 'shards';
    const full = `${release}-hark-aggregator`;
    h([
      'install',
      release,
      chartDir('hark-aggregator'),
      '-n',
      NS,
      '-f',
      exampleValues('hark-aggregator', 'shards-values.yaml'),
      '--set',
      'replicas=2',
      ...KWOK,
      '--wait',
      '--timeout=3m',
    ]);
    for (const i of [0, 1]) {
      const pod = json(['get', 'pod', `${full}-${i}`, '-n', NS]);
      // The label HARK_SHARD_INDEX is read from, set by the StatefulSet controller.
      expect(pod.metadata.labels['apps.kubernetes.io/pod-index']).toBe(String(i));
      expect(json(['get', 'pvc', `data-${full}-${i}`, '-n', NS]).status.phase).toBe('Bound');
    }
    h(['uninstall', release, '-n', NS, '--wait', '--timeout=2m']);
    // persistence.keepOnUninstall is false: the claims go with the StatefulSet.
    await waitFor(
      'the shards and their claims to go',
      () =>
        kube([
          'get',
          'statefulset,pod,pvc,svc',
          '-n',
          NS,
          '-l',
          `app.kubernetes.io/instance=${release}`,
          '-o',
          'name',
        ]).trim() === '',
    );
  });

  it('uninstalls the operator chart: the pre-delete hook removes every Sensor, nothing hark-labelled is left but the kept CRD', async () => {
    // kwok "runs" the hook Job without running its container, so first run the hook's command here, as the
    // hook's own ServiceAccount with the hook's own RBAC (from `helm get hooks`): proof that it works.
    const hooks = parseManifests(h(['get', 'hooks', 'hark-operator', '-n', NS]));
    const job = hooks.find((m) => m.kind === 'Job') as unknown as Manifest & {
      spec: {
        template: {
          spec: { serviceAccountName: string; containers: Array<{ command: string[]; args: string[] }> };
        };
      };
    };
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-delete');
    // What runs here is what the container runs: kubectl with the hook's arguments.
    expect(job.spec.template.spec.containers[0]!.command).toEqual(['/bin/kubectl']);
    kube(
      ['apply', '-f', '-'],
      hooks
        .filter((m) => m.kind !== 'Job')
        .map((m) => JSON.stringify(m))
        .join('\n'),
    );
    const hookKubeconfig = cp.serviceAccountKubeconfig(NS, job.spec.template.spec.serviceAccountName);
    // Asynchronously: the hook waits for the Sensors' finalizers, which the in-process operator must run meanwhile.
    await promisify(execFile)(cp.kubectlPath, [
      '--kubeconfig',
      hookKubeconfig,
      ...job.spec.template.spec.containers[0]!.args,
    ]);
    expect(kube(['get', 'sensors', '-A', '-o', 'name']).trim()).toBe('');

    h(['uninstall', 'hark-operator', '-n', NS, '--wait', '--timeout=3m']);
    await operator?.stop();
    operator = undefined;
    await waitFor(
      'hark-agents to be deleted',
      () => !kube(['get', 'namespaces', '-o', 'name']).includes('namespace/hark-agents'),
      { timeoutMs: 90_000 },
    );
    const kinds =
      'deployments,daemonsets,jobs,pods,services,configmaps,serviceaccounts,roles,rolebindings,networkpolicies,poddisruptionbudgets,persistentvolumeclaims';
    expect(kube(['get', kinds, '-A', '-l', 'app.kubernetes.io/part-of=hark', '-o', 'name']).trim()).toBe('');
    expect(
      kube([
        'get',
        'clusterroles,clusterrolebindings,namespaces',
        '-l',
        'app.kubernetes.io/part-of=hark',
        '-o',
        'name',
      ]).trim(),
    ).toBe('');
    expect(kube(['get', 'crd', '-l', 'app.kubernetes.io/part-of=hark', '-o', 'name']).trim()).toBe(
      'customresourcedefinition.apiextensions.k8s.io/sensors.hark.dev',
    );
    expect(kube(['get', 'sensors', '-A', '-o', 'name']).trim()).toBe('');
  });
});
