// What the tests against real protocol software share: a program run inside
// the test's network namespace (in a UTS namespace of its own where it
// announces a hostname), tcpdump recording the near end of the veth pair,
// retries while a server starts, and tshark's reading of the capture.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import type { VethNamespace } from '../../test/support/netns.js';

/**
 * Sends `signal` and waits for the exit (at once when the child is already
 * gone); SIGKILL after `graceMs`, so that a daemon slow to go cannot hang the
 * test.
 */
export function stop(child: ChildProcess, signal: NodeJS.Signals, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}

/**
 * Starts `command args` inside the namespace; with `hostname`, in a UTS
 * namespace of its own under that name (the machine's own is untouched).
 */
export function spawnInside(
  netns: VethNamespace,
  command: string,
  args: readonly string[],
  hostname?: string,
): ChildProcess {
  const inside = hostname
    ? ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', hostname, command, ...args]
    : [command, ...args];
  return spawn('ip', ['netns', 'exec', netns.name, ...inside], { stdio: 'ignore' });
}

/**
 * Runs `body` while tcpdump writes what the near end of the namespace's first
 * veth pair sees (matching `filter`) to `file`. Immediate mode: a short
 * exchange would otherwise still sit in libpcap's ring when tcpdump stops.
 */
export async function recording(
  netns: VethNamespace,
  file: string,
  filter: string,
  body: () => Promise<unknown>,
): Promise<void> {
  const tcpdump = spawn(
    'tcpdump',
    ['-i', netns.pairs[0]!.near, '--immediate-mode', '-U', '-w', file, filter],
    {
      stdio: 'ignore',
    },
  );
  try {
    await delay(1000); // tcpdump is listening
    await body();
    await delay(500); // the last frame is written
  } finally {
    await stop(tcpdump, 'SIGINT');
  }
}

/** Calls `attempt` every `everyMs` until it resolves; its last error once `withinMs` has passed. */
export async function retry<T>(attempt: () => Promise<T>, withinMs: number, everyMs = 500): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await delay(everyMs);
    }
  }
}

/** tshark's values of `field` in the frames of `capture` that match `filter`, one per frame that has it. */
export function tsharkFields(capture: string, filter: string, field: string): string[] {
  const out = execFileSync('tshark', ['-r', capture, '-Y', filter, '-T', 'fields', '-e', field], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out.split('\n').filter(Boolean);
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
