// Time for N Sensors to converge to Ready on the local control plane (kwok
// runs their agent pods), and the operator process's peak memory meanwhile.
// The operator runs as its own process under the chart's RBAC, as in
// production; the figure includes the real API server, scheduler, DaemonSet
// controller and kwok sharing this machine's cores with it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ControlPlane } from '../support/controlplane.js';
import { installOperatorPrerequisites } from '../support/operator-install.js';
import { repoRoot } from '../support/paths.js';
import { freePort, startProcess, waitFor } from '../support/processes.js';
import { imageEnv } from './image-env.js';
import type { Benchmark } from './registry.js';

const COUNT = Number(process.env.HARK_BENCH_SENSORS ?? 1000);

/** The V8 flags the operator image runs with (its Dockerfile's NODE_OPTIONS), so the figure is what ships. */
function imageNodeOptions(): string {
  return imageEnv('operator/Dockerfile').NODE_OPTIONS ?? '';
}

/** The operator chart's default worker count, so the figure is what a Helm install runs. */
function chartWorkers(): number {
  const values = parse(readFileSync(join(repoRoot(), 'charts/hark-operator/values.yaml'), 'utf8'));
  return Number(values.workers);
}

async function heapUsedMb(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^hark_operator_nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export const operatorScale: Benchmark = {
  name: 'operator-scale',
  description: `${COUNT} Sensors to Ready on the local control plane (goal: < 60 s, operator < 150 MB)`,
  async run() {
    // Fake nodes take at most 110 pods (kwok's default allocatable), so the
    // Sensors are spread over enough edge nodes, one node each.
    const nodeCount = Math.max(1, Math.ceil(COUNT / 100));
    const nodes = Array.from({ length: nodeCount }, (_, n) => ({
      name: `edge-bench-${n}`,
      labels: { 'hark.dev/site': 'bench' },
    }));
    const cp = await new ControlPlane({ nodes, disableQpsLimits: true }).start();
    try {
      const kubeconfig = installOperatorPrerequisites(cp);
      const httpPort = await freePort();
      const nodeOptions = imageNodeOptions();
      // HARK_BENCH_HEAP_SNAPSHOT=DIR: a V8 heap snapshot of the operator at the end, for finding what it holds.
      const snapshotDir = process.env.HARK_BENCH_HEAP_SNAPSHOT;
      const diagnostics = snapshotDir ? ` --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}` : '';
      const operator = startProcess(
        'hark-operator',
        process.execPath,
        [
          join(repoRoot(), 'operator/dist/main.js'),
          '--kubeconfig',
          kubeconfig,
          '--namespace',
          'hark-system',
          '--http-port',
          String(httpPort),
          '--workers',
          String(chartWorkers()),
        ],
        {
          logFile: join(cp.workDir, 'operator.log'),
          env: { ...process.env, LOG_LEVEL: 'warn', NODE_OPTIONS: nodeOptions + diagnostics },
        },
      );
      const sensors = Array.from({ length: COUNT }, (_, i) => ({
        apiVersion: 'hark.dev/v1alpha1',
        kind: 'Sensor',
        metadata: { name: `bench-${i}`, namespace: 'default' },
        spec: {
          site: 'bench',
          nodeSelector: { 'hark.dev/site': 'bench', 'kubernetes.io/hostname': `edge-bench-${i % nodeCount}` },
          tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
          reporting: { brokerUrl: 'mqtts://aggregator.example:8883' },
          // They share one node's network namespace, so each needs its own port.
          agent: { metricsPort: 10_000 + i },
        },
      }));
      // kubectl applies one object at a time; eight at once, as a GitOps
      // controller syncing a fleet would, so the figure is the operator's.
      const start = performance.now();
      const APPLIERS = 8;
      await Promise.all(
        Array.from({ length: APPLIERS }, (_, k) =>
          cp.kubectlAsync(
            ['apply', '--server-side', '-f', '-'],
            sensors
              .filter((_, i) => i % APPLIERS === k)
              .map((s) => JSON.stringify(s))
              .join('\n'),
          ),
        ),
      );
      const applied = (performance.now() - start) / 1000;
      let ready = 0;
      let lastPrint = 0;
      // When each stage first covered every Sensor, read off the Sensors' own status: where the time goes.
      const stages = ['certificate issued', 'DaemonSet scheduled', 'agent pod ready', 'Ready'] as const;
      const reachedAt = new Map<(typeof stages)[number], number>();
      await waitFor(
        `${COUNT} Sensors Ready`,
        () => {
          const rows = cp
            .kubectl([
              'get',
              'sensors',
              '-n',
              'default',
              '--no-headers',
              '-o',
              'custom-columns=CERT:.status.conditions[?(@.type=="CertificateReady")].status,DESIRED:.status.desiredNodes,READYNODES:.status.readyNodes,READY:.status.conditions[?(@.type=="Ready")].status',
            ])
            .split('\n')
            .filter((line) => line.trim() !== '')
            .map((line) => line.trim().split(/\s+/));
          const counts = [
            rows.filter((r) => r[0] === 'True').length,
            rows.filter((r) => Number(r[1]) > 0).length,
            rows.filter((r) => Number(r[2]) > 0).length,
            rows.filter((r) => r[3] === 'True').length,
          ];
          const elapsed = (performance.now() - start) / 1000;
          stages.forEach((stage, i) => {
            if (counts[i] === COUNT && !reachedAt.has(stage)) reachedAt.set(stage, elapsed);
          });
          ready = counts[3]!;
          if (process.stdout.isTTY && performance.now() - lastPrint > 2000) {
            process.stdout.write(`\r   ${ready}/${COUNT} Ready after ${elapsed.toFixed(0)} s`);
            lastPrint = performance.now();
          }
          return ready === COUNT;
        },
        {
          timeoutMs: 15 * 60_000,
          intervalMs: 1000,
          describe: () => `${ready}/${COUNT} Ready\n${operator.tail(5)}`,
        },
      );
      const seconds = (performance.now() - start) / 1000;
      if (process.stdout.isTTY) process.stdout.write('\r');
      const rss = peakRssMb(operator.child.pid!);
      const heap = await heapUsedMb(httpPort);
      if (snapshotDir) {
        const before = readdirSync(snapshotDir).length;
        operator.child.kill('SIGUSR2');
        await waitFor('the heap snapshot', () => readdirSync(snapshotDir).length > before, {
          timeoutMs: 120_000,
        });
        await new Promise((r) => setTimeout(r, 10_000));
      }
      await operator.stop();
      return [
        `${COUNT} Sensors Ready in ${seconds.toFixed(1)} s (kubectl apply took ${applied.toFixed(1)} s of it) — goal < 60 s: ${seconds < 60 ? 'MET' : 'NOT MET'}`,
        `operator peak resident memory ${rss.toFixed(0)} MB — goal < 150 MB: ${rss < 150 ? 'MET' : 'NOT MET'} (V8 heap in use at the end ${heap.toFixed(0)} MB; NODE_OPTIONS=${nodeOptions} as in the image)`,
        `${chartWorkers()} workers (the chart's default); ${COUNT} certificates, ${COUNT} DaemonSets, ${COUNT} agent pods on ${nodeCount} kwok nodes; every Sensor's ${stages
          .map((stage) => `${stage} by ${reachedAt.get(stage)?.toFixed(0) ?? '?'} s`)
          .join(', ')}`,
      ];
    } finally {
      await cp.stop();
    }
  },
};
