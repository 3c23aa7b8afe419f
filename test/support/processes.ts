// Child processes for the local control plane and brokers: each one logs to
// its own file, and every one still running is killed when this process
// exits, however it exits, so a failing test leaves nothing behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const running = new Set<ChildProcess>();

function killAll(): void {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** The last lines it logged, for error messages. */
  tail(lines?: number): string;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; detached?: boolean },
): ManagedProcess {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(command, args, {
    stdio: ['ignore', fd, fd],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    detached: opts.detached ?? false,
  });
  closeSync(fd);
  if (!opts.detached) running.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
    child.once('error', () => {
      running.delete(child);
      resolve(-1);
    });
  });
  const tail = (lines = 30) => {
    try {
      return readFileSync(opts.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { name, child, logFile: opts.logFile, tail, stop, exited };
}

/** A free loopback TCP port (bound and released: another process could take it, which is rare enough here). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Polls `check` until it returns true, failing with `describe()` after the deadline. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
  const detail = opts.describe?.() ?? '';
  throw new Error(
    `timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}${detail ? `\n${detail}` : ''}`,
  );
}
