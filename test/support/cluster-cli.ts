#!/usr/bin/env node
// `make cluster-up` / `make cluster-down`: the tests' control plane, for a
// person. `up` starts a supervisor in the background and waits for it; the
// supervisor (`serve`) owns etcd, the API server, the controller manager,
// the scheduler and kwok, and stops them all when it is told to stop.
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { ControlPlane } from './controlplane.js';
import { waitFor } from './processes.js';

const [command, dirArg] = process.argv.slice(2);
const dir = dirArg ?? join(process.cwd(), '.hark');
const pidFile = join(dir, 'cluster.pid');
const readyFile = join(dir, 'cluster.ready');
const logFile = join(dir, 'cluster.log');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runningPid(): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  return pid && alive(pid) ? pid : undefined;
}

function printUsage(): void {
  const rel = relative(process.cwd(), dir) || '.';
  console.log(`Local control plane is up (${readFileSync(join(dir, 'cluster.ready'), 'utf8').trim()}).

  export KUBECONFIG=$PWD/${rel}/kubeconfig
  ${rel}/bin/kubectl get nodes
  make operator-run                      # the operator, in the foreground
  ${rel}/bin/kubectl apply -f examples/sensor.yaml
  ${rel}/bin/kubectl get sensors -w
  make cluster-down                      # stop everything

Logs: ${rel}/cluster/logs/`);
}

async function up(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (runningPid()) {
    printUsage();
    return;
  }
  rmSync(readyFile, { force: true });
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [process.argv[1]!, 'serve', dir], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: process.env,
  });
  closeSync(fd);
  writeFileSync(pidFile, String(child.pid));
  child.unref();
  process.stdout.write('Starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok');
  await waitFor(
    'the local control plane',
    () => {
      process.stdout.write('.');
      if (!alive(child.pid!)) throw new Error(`the supervisor exited:\n${readFileSync(logFile, 'utf8')}`);
      return existsSync(readyFile);
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  process.stdout.write('\n');
  printUsage();
}

async function serve(): Promise<void> {
  const workDir = join(dir, 'cluster');
  rmSync(workDir, { recursive: true, force: true });
  const cp = await new ControlPlane({ workDir }).start();
  writeFileSync(join(dir, 'kubeconfig'), readFileSync(cp.adminKubeconfigPath), { mode: 0o600 });
  mkdirSync(join(dir, 'bin'), { recursive: true });
  rmSync(join(dir, 'bin', 'kubectl'), { force: true });
  symlinkSync(cp.kubectlPath, join(dir, 'bin', 'kubectl'));
  writeFileSync(
    readyFile,
    `Kubernetes ${
      cp
        .kubectl(['version', '-o', 'json'])
        .match(/"gitVersion": "([^"]+)"/g)
        ?.pop()
        ?.split('"')[3] ?? ''
    } at ${cp.apiServerUrl}`,
  );
  console.log(`control plane ready at ${cp.apiServerUrl}`);
  const shutdown = async () => {
    await cp.stop();
    rmSync(readyFile, { force: true });
    rmSync(pidFile, { force: true });
    process.exit(0);
  };
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  setInterval(() => {}, 1 << 30);
}

async function down(): Promise<void> {
  const pid = runningPid();
  if (!pid) {
    console.log('No local control plane is running.');
    return;
  }
  process.kill(pid, 'SIGTERM');
  await waitFor('the control plane to stop', () => !alive(pid), { timeoutMs: 60_000 });
  rmSync(join(dir, 'cluster'), { recursive: true, force: true });
  rmSync(join(dir, 'kubeconfig'), { force: true });
  console.log('Local control plane stopped.');
}

const commands: Record<string, () => Promise<void>> = { up, serve, down };
const run = commands[command ?? ''];
if (!run) {
  console.error('usage: cluster-cli up|down [DIR]');
  process.exit(2);
}
run().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
