// What the tests against real protocol software share: a program run inside
// the test's network namespace (in a UTS namespace of its own where it
// announces a hostname), tcpdump recording the near end of the veth pair,
// and tshark's reading of the capture. The programs are the control plane's
// kind of child process (test/support/processes.ts): each logs to a file,
// and is killed when the test process exits, however it exits.
import { execFileSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { commandWorks, netnsAvailable, type VethNamespace } from '../../test/support/netns.js';
import { type ManagedProcess, startProcess } from '../../test/support/processes.js';
import { tsharkAvailable } from './reframe.js';

/**
 * Whether a test against real protocol software can run here: as root, with
 * iproute2, tcpdump and tshark, and with `software` there (each check true).
 * Else false, having printed `skipped` (what the test needs, and how to
 * install it).
 */
export function peerAvailable(skipped: string, ...software: boolean[]): boolean {
  if (netnsAvailable('tcpdump') && software.every(Boolean) && tsharkAvailable()) return true;
  console.warn(skipped);
  return false;
}

/**
 * The interpreter of the Python peers' environment (test/peers/python.sh,
 * which `make test` passes as HARK_PEER_PYTHON) when the peer test `test`
 * can run here (peerAvailable) with `modules` importable (what `packages`
 * install), and `also` (software of another kind it needs) present. Else '',
 * having said why it skips.
 */
export function pythonPeer(
  test: string,
  modules: string,
  packages: string,
  also?: { needs: string; present: boolean },
): string {
  const python = process.env.HARK_PEER_PYTHON ?? '';
  const available = peerAvailable(
    `${test} peer test skipped: needs root, iproute2, tcpdump, tshark and HARK_PEER_PYTHON with ${packages} (make test sets it: test/peers/python.sh)${also ? `, and ${also.needs}` : ''}`,
    python !== '' && commandWorks(python, ['-c', `import ${modules}`]),
    also?.present ?? true,
  );
  return available ? python : '';
}

/**
 * Starts `command args` inside the namespace, logging to `<logDir>/<command>.log`;
 * with `hostname`, in a UTS namespace of its own under that name (the
 * machine's own is untouched).
 */
export function spawnInside(
  netns: VethNamespace,
  logDir: string,
  command: string,
  args: readonly string[],
  hostname?: string,
): ManagedProcess {
  const inside = hostname
    ? ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', hostname, command, ...args]
    : [command, ...args];
  const name = basename(command);
  return startProcess(name, 'ip', ['netns', 'exec', netns.name, ...inside], {
    logFile: join(logDir, `${name}.log`),
  });
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
  const tcpdump = startProcess(
    'tcpdump',
    'tcpdump',
    ['-i', netns.pairs[0]!.near, '--immediate-mode', '-U', '-w', file, filter],
    { logFile: `${file}.tcpdump.log` },
  );
  try {
    await delay(1000); // tcpdump is listening
    await body();
    await delay(500); // the last frame is written
  } finally {
    await tcpdump.stop('SIGINT');
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

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
