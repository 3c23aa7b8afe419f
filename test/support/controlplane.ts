// A real Kubernetes control plane on loopback for tests and `make cluster-up`:
// etcd, kube-apiserver (client-certificate authentication, RBAC, service
// account keys, as envtest configures it), kube-controller-manager,
// kube-scheduler and kwok with a few fake edge nodes. The binaries come from
// test/controlplane/build.sh, built from pinned upstream Go modules.
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pki } from '@hark/operator';
import { parseAllDocuments, stringify } from 'yaml';
import { repoRoot } from './paths.js';
import { freePort, type ManagedProcess, startProcess, waitFor } from './processes.js';

const DAY = 86_400_000;

export interface FakeNode {
  name: string;
  labels: Record<string, string>;
}

export interface ControlPlaneOptions {
  /** Where the binaries are; defaults to $HARK_CONTROLPLANE_BIN or a build via test/controlplane/build.sh. */
  binDir?: string;
  /** Working directory for data, certificates, logs and kubeconfigs; a fresh temp dir by default. */
  workDir?: string;
  /** Fake edge nodes kwok runs pods on. Default: three edge nodes across two sites and one non-edge node. */
  nodes?: FakeNode[];
  /** Start kube-controller-manager, kube-scheduler and kwok (pods that run). Default true. */
  withWorkloads?: boolean;
  /**
   * Lift the client-side QPS limits of kube-controller-manager and
   * kube-scheduler and the API server's in-flight limits, as
   * `kwokctl create cluster --disable-qps-limits` does for scale tests.
   * Without it the DaemonSet controller's default 20 requests/s, not the
   * operator, is what a 1,000-Sensor benchmark measures.
   */
  disableQpsLimits?: boolean;
}

export const DEFAULT_NODES: FakeNode[] = [
  { name: 'edge-a-1', labels: { 'hark.dev/site': 'site-a', 'hark.dev/role': 'edge' } },
  { name: 'edge-a-2', labels: { 'hark.dev/site': 'site-a', 'hark.dev/role': 'edge' } },
  { name: 'edge-b-1', labels: { 'hark.dev/site': 'site-b', 'hark.dev/role': 'edge' } },
  { name: 'core-1', labels: { 'hark.dev/role': 'core' } },
];

/** Pods whose first container runs this image never become Ready on the fake nodes. */
export const NEVER_READY_IMAGE = 'example.invalid/hark/never-ready:1';

/** The taint kwok's nodes carry, so nothing lands on them by accident. */
export const KWOK_TAINT = { key: 'kwok.x-k8s.io/node', value: 'fake', effect: 'NoSchedule' } as const;

interface Pem {
  certPem: string;
  keyPem: string;
}

export class ControlPlane {
  readonly workDir: string;
  readonly binDir: string;
  apiServerUrl = '';
  adminKubeconfigPath = '';
  private ca!: Pem;
  private admin!: Pem;
  private etcdPort = 0;
  private apiPort = 0;
  private readonly processes = new Map<string, ManagedProcess>();
  private readonly ownsWorkDir: boolean;
  private readonly pendingKubeconfigs = new Map<string, Pem>();

  constructor(private readonly options: ControlPlaneOptions = {}) {
    this.binDir = options.binDir ?? process.env.HARK_CONTROLPLANE_BIN ?? buildControlPlane();
    this.ownsWorkDir = !options.workDir;
    this.workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'hark-cp-'));
    mkdirSync(this.workDir, { recursive: true });
  }

  get kubectlPath(): string {
    return join(this.binDir, 'kubectl');
  }

  /** Starts everything and waits until the API server is ready and the fake nodes are Ready. */
  async start(): Promise<this> {
    await this.writePki();
    await this.startEtcd();
    await this.startApiServer();
    if (this.options.withWorkloads ?? true) {
      await this.startControllerManager();
      await this.startScheduler();
      await this.startKwok();
      await this.createNodes(this.options.nodes ?? DEFAULT_NODES);
    }
    return this;
  }

  async stop(): Promise<void> {
    const order = ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
    for (const name of order) await this.processes.get(name)?.stop();
    this.processes.clear();
    if (this.ownsWorkDir && !process.env.HARK_KEEP_CONTROLPLANE)
      rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Stops and restarts kube-apiserver on the same port and storage (for outage tests). */
  async restartApiServer(downtimeMs = 0): Promise<void> {
    await this.processes.get('kube-apiserver')?.stop();
    if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
    await this.startApiServer(this.apiPort);
  }

  /** kubectl against this cluster as admin; returns stdout, throws with stderr. */
  kubectl(args: string[], input?: string): string {
    return execFileSync(this.kubectlPath, ['--kubeconfig', this.adminKubeconfigPath, ...args], {
      input,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      // A list of a thousand objects is megabytes of JSON; the default 1 MB would cut it off.
      maxBuffer: 512 * 1024 * 1024,
    });
  }
  /** kubectl without blocking the event loop (for parallel applies, and while an in-process operator runs). */
  kubectlAsync(args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.kubectlPath,
        ['--kubeconfig', this.adminKubeconfigPath, ...args],
        { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
      );
      child.stdin?.end(input ?? '');
    });
  }

  /**
   * A kubeconfig for a user authenticated by a client certificate, bound to
   * `clusterRole` (cluster-wide, or in `namespace` when given).
   */
  async kubeconfigForUser(user: string, clusterRole?: string, namespace?: string): Promise<string> {
    const cert = await pki.issueCertificate(this.ca, { commonName: user, usage: 'client', lifetimeMs: DAY });
    if (clusterRole) {
      const kind = namespace ? 'rolebinding' : 'clusterrolebinding';
      const scope = namespace ? ['-n', namespace] : [];
      this.kubectl([
        'create',
        kind,
        `${user}-${clusterRole}`.slice(0, 63),
        ...scope,
        `--clusterrole=${clusterRole}`,
        `--user=${user}`,
      ]);
    }
    const path = join(this.workDir, `kubeconfig-${user.replace(/[^A-Za-z0-9-]/g, '_')}`);
    writeFileSync(path, this.kubeconfigYaml(user, cert), { mode: 0o600 });
    return path;
  }

  /** A kubeconfig that authenticates as a ServiceAccount with a bound token from the TokenRequest API. */
  serviceAccountKubeconfig(namespace: string, name: string, durationSeconds = 86_400): string {
    const token = this.kubectl([
      'create',
      'token',
      name,
      '-n',
      namespace,
      `--duration=${durationSeconds}s`,
    ]).trim();
    const path = join(this.workDir, `kubeconfig-sa-${namespace}-${name}`);
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'hark-local',
          cluster: { server: this.apiServerUrl, 'certificate-authority-data': b64(this.ca.certPem) },
        },
      ],
      users: [{ name: `${namespace}:${name}`, user: { token } }],
      contexts: [
        { name: 'hark-local', context: { cluster: 'hark-local', user: `${namespace}:${name}`, namespace } },
      ],
      'current-context': 'hark-local',
    };
    writeFileSync(path, stringify(config), { mode: 0o600 });
    return path;
  }

  private kubeconfigYaml(user: string, cert: Pem): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'hark-local',
          cluster: { server: this.apiServerUrl, 'certificate-authority-data': b64(this.ca.certPem) },
        },
      ],
      users: [
        {
          name: user,
          user: { 'client-certificate-data': b64(cert.certPem), 'client-key-data': b64(cert.keyPem) },
        },
      ],
      contexts: [{ name: 'hark-local', context: { cluster: 'hark-local', user } }],
      'current-context': 'hark-local',
    });
  }

  private path(...parts: string[]): string {
    return join(this.workDir, ...parts);
  }

  private async writePki(): Promise<void> {
    mkdirSync(this.path('pki'), { recursive: true });
    this.ca = await pki.generateCa({ commonName: 'hark-local-kubernetes-ca', lifetimeMs: 30 * DAY });
    const serving = await pki.issueCertificate(this.ca, {
      commonName: 'kube-apiserver',
      usage: 'server',
      dnsNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      ipAddresses: ['127.0.0.1', '10.0.0.1'],
      lifetimeMs: 30 * DAY,
    });
    this.admin = await pki.issueCertificate(this.ca, {
      commonName: 'hark-admin',
      organization: 'system:masters',
      usage: 'client',
      lifetimeMs: 30 * DAY,
    });
    const sa = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const files: Record<string, string> = {
      'ca.crt': this.ca.certPem,
      'ca.key': this.ca.keyPem,
      'apiserver.crt': serving.certPem,
      'apiserver.key': serving.keyPem,
      'sa.pub': sa.publicKey,
      'sa.key': sa.privateKey,
    };
    for (const [name, content] of Object.entries(files))
      writeFileSync(this.path('pki', name), content, { mode: 0o600 });
    for (const [user, org] of [
      ['system:kube-controller-manager', undefined],
      ['system:kube-scheduler', undefined],
    ] as const) {
      const cert = await pki.issueCertificate(this.ca, {
        commonName: user,
        organization: org,
        usage: 'client',
        lifetimeMs: 30 * DAY,
      });
      this.pendingKubeconfigs.set(user, cert);
    }
  }

  private writeKubeconfigs(): void {
    this.adminKubeconfigPath = this.path('kubeconfig');
    writeFileSync(this.adminKubeconfigPath, this.kubeconfigYaml('hark-admin', this.admin), { mode: 0o600 });
    for (const [user, cert] of this.pendingKubeconfigs) {
      writeFileSync(this.path(`${user.split(':')[1]}.kubeconfig`), this.kubeconfigYaml(user, cert), {
        mode: 0o600,
      });
    }
  }

  private spawn(name: string, args: string[]): ManagedProcess {
    mkdirSync(this.path('logs'), { recursive: true });
    const proc = startProcess(name, join(this.binDir, name), args, {
      logFile: this.path('logs', `${name}.log`),
    });
    this.processes.set(name, proc);
    return proc;
  }

  private async startEtcd(): Promise<void> {
    this.etcdPort = await freePort();
    const peerPort = await freePort();
    const proc = this.spawn('etcd', [
      `--data-dir=${this.path('etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${this.etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${this.etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      // Test data is disposable; fsync would only slow every write on a shared disk.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor(
      'etcd to report healthy',
      async () => (await fetch(`http://127.0.0.1:${this.etcdPort}/health`)).ok,
      {
        timeoutMs: 30_000,
        describe: () => proc.tail(),
      },
    );
  }

  private async startApiServer(port?: number): Promise<void> {
    this.apiPort = port ?? (await freePort());
    this.apiServerUrl = `https://127.0.0.1:${this.apiPort}`;
    this.writeKubeconfigs();
    const proc = this.spawn('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
      `--secure-port=${this.apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--tls-cert-file=${this.path('pki', 'apiserver.crt')}`,
      `--tls-private-key-file=${this.path('pki', 'apiserver.key')}`,
      `--client-ca-file=${this.path('pki', 'ca.crt')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${this.path('pki', 'sa.pub')}`,
      `--service-account-signing-key-file=${this.path('pki', 'sa.key')}`,
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
      ...(this.options.disableQpsLimits
        ? [
            '--max-requests-inflight=0',
            '--max-mutating-requests-inflight=0',
            '--enable-priority-and-fairness=false',
          ]
        : []),
    ]);
    await waitFor('kube-apiserver /readyz', () => this.apiReady(), {
      timeoutMs: 90_000,
      describe: () => `kube-apiserver log (${proc.logFile}):\n${proc.tail()}`,
    });
  }

  private apiReady(): Promise<boolean> {
    return new Promise((resolveReady) => {
      const req = request(
        `${this.apiServerUrl}/readyz`,
        { ca: this.ca.certPem, cert: this.admin.certPem, key: this.admin.keyPem, timeout: 2000 },
        (res) => {
          res.resume();
          resolveReady(res.statusCode === 200);
        },
      );
      req.on('error', () => resolveReady(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  private async startControllerManager(): Promise<void> {
    const kubeconfig = this.path('kube-controller-manager.kubeconfig');
    this.spawn('kube-controller-manager', [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${this.path('pki', 'sa.key')}`,
      `--root-ca-file=${this.path('pki', 'ca.crt')}`,
      '--use-service-account-credentials=true',
      // The route, service-LB and cloud controllers have no cloud here.
      '--controllers=*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
      '--v=1',
      ...this.clientQpsFlags(),
    ]);
    // The token controller's first act: every namespace gets a default ServiceAccount.
    await waitFor(
      'kube-controller-manager to create the default ServiceAccount',
      () => {
        try {
          this.kubectl(['get', 'serviceaccount', 'default', '-n', 'default']);
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, describe: () => this.processes.get('kube-controller-manager')?.tail() ?? '' },
    );
  }

  private async startScheduler(): Promise<void> {
    const kubeconfig = this.path('kube-scheduler.kubeconfig');
    this.spawn('kube-scheduler', [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      '--leader-elect=false',
      '--v=1',
      ...this.clientQpsFlags(),
    ]);
  }

  private clientQpsFlags(): string[] {
    // kwokctl's "unlimited" figures (consts.DefaultUnlimitedQPS/Burst).
    return this.options.disableQpsLimits ? ['--kube-api-qps=5000', '--kube-api-burst=10000'] : [];
  }

  private async startKwok(): Promise<void> {
    // build.sh leaves kwok's upstream default stages beside the binaries; we
    // add one rule: a container running NEVER_READY_IMAGE never becomes ready,
    // which is how tests make a rollout stall.
    const config = this.path('kwok-stages.yaml');
    const stages = parseAllDocuments(readFileSync(join(this.binDir, '..', 'kwok-stages.yaml'), 'utf8'))
      .map((d) => d.toJS())
      .filter(Boolean);
    for (const stage of stages) {
      if (stage.metadata?.name === 'pod-ready') {
        stage.spec.selector.matchExpressions.push({
          key: '.spec.containers.[0].image',
          operator: 'NotIn',
          values: [NEVER_READY_IMAGE],
        });
      }
    }
    writeFileSync(config, stages.map((s) => stringify(s)).join('---\n'));
    this.spawn('kwok', [
      `--kubeconfig=${this.adminKubeconfigPath}`,
      `--config=${config}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-lease-duration-seconds=40',
      '--cidr=10.244.0.0/16',
      '--node-ip=127.0.0.1',
      `--server-address=127.0.0.1:${await freePort()}`,
    ]);
  }

  async createNodes(nodes: FakeNode[]): Promise<void> {
    const manifests = nodes.map((n, i) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: n.name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          ...n.labels,
          'kubernetes.io/hostname': n.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          type: 'kwok',
        },
      },
      spec: { taints: [KWOK_TAINT] },
      status: {
        allocatable: { cpu: '8', memory: '32Gi', pods: '110' },
        capacity: { cpu: '8', memory: '32Gi', pods: '110' },
        nodeInfo: {
          architecture: 'amd64',
          kubeletVersion: 'fake',
          operatingSystem: 'linux',
          kubeProxyVersion: 'fake',
        },
        addresses: [{ type: 'InternalIP', address: `10.99.0.${i + 1}` }],
      },
    }));
    this.kubectl(['apply', '-f', '-'], manifests.map((m) => JSON.stringify(m)).join('\n'));
    await waitFor(
      `kwok to mark ${nodes.length} nodes Ready`,
      () => {
        const out = this.kubectl([
          'get',
          'nodes',
          '-o',
          'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
        ]);
        return out.split('\n').filter((s) => s === 'True').length >= nodes.length;
      },
      { timeoutMs: 60_000, describe: () => this.processes.get('kwok')?.tail() ?? '' },
    );
  }
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

/** Builds (or finds in the cache) the control-plane binaries; returns their directory. */
export function buildControlPlane(): string {
  const script = join(repoRoot(), 'test', 'controlplane', 'build.sh');
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}
