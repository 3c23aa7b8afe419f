// Shared by the chart tests: where helm is (built by test/controlplane/build.sh
// beside the control plane), and small wrappers that say what failed.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { buildControlPlane } from '../support/controlplane.js';
import { repoRoot } from '../support/paths.js';

export const root = repoRoot();
export const CHARTS = ['hark-operator', 'hark-aggregator'] as const;
export const chartDir = (chart: string) => join(root, 'charts', chart);
export const exampleValues = (chart: string, name = 'example-values.yaml') =>
  join(chartDir(chart), 'ci', name);

let bin: string | undefined;
export function helmPath(): string {
  bin ??= join(process.env.HARK_CONTROLPLANE_BIN ?? buildControlPlane(), 'helm');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run bash test/controlplane/build.sh`);
  return bin;
}

/**
 * helm with args, without blocking this process: for commands that wait on
 * the in-process operator (hooks that delete Sensors wait for its finalizer).
 */
export async function helmAsync(args: string[]): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(helmPath(), args, {
      encoding: 'utf8',
      env: {
        ...process.env,
        HELM_CACHE_HOME: '/tmp/hark-helm-cache',
        HELM_CONFIG_HOME: '/tmp/hark-helm-config',
      },
      maxBuffer: 64 << 20,
    });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(' ')} failed:\n${e.stderr ?? e.message}`);
  }
}

/** helm with args; returns stdout, throws with stderr. */
export function helm(args: string[], env: Record<string, string> = {}): string {
  try {
    return execFileSync(helmPath(), args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HELM_CACHE_HOME: '/tmp/hark-helm-cache',
        HELM_CONFIG_HOME: '/tmp/hark-helm-config',
        ...env,
      },
      maxBuffer: 64 << 20,
    });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`helm ${args.join(' ')} failed:\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => !!m && typeof m === 'object' && 'kind' in m);
}
