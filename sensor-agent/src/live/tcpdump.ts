// Live capture: a supervised `tcpdump -U -w - -i IFACE [bpf]` child whose
// pcap stream is parsed by the same reader as capture files.
//
// -U (one write per packet) stays, though at ~450k pkt/s it costs tcpdump
// most of a core (make bench ARGS=live-capture). Two ways around it were
// measured and refused: buffered output flushed by SIGUSR2 corrupted the
// stream under load (tcpdump flushes stdio from its signal handler), and
// dumpcap, which flushes per batch, dropped 27% where tcpdump -U dropped 1%.
//
// Since then the agent captures in-process through libpcap by default
// (libpcap.ts): on the live-capture benchmark, with the capture side pinned
// to one core at ~480k pkt/s, this path kept 82-84% of the packets with that
// core 99-100% busy (the agent ~53%, tcpdump's write per packet the rest),
// while the addon kept every packet with the core 37% busy. This backend
// remains for hosts where the addon was not built (no C toolchain at install)
// or will not load, and on request (spec.capture.backend: tcpdump); a dying
// tcpdump is restarted with back-off. tcpdump never transmits.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { FrameBatch } from '../capture/frames.js';
import { readCaptureBatches } from '../capture/reader.js';
import { RestartBackoff } from './backoff.js';

export interface LiveCaptureOptions {
  /** Interface name, e.g. "eth1". */
  interface: string;
  /** Optional BPF filter expression. */
  filter?: string;
  /** Bytes kept per packet; identity lives in headers, 65535 keeps whole frames anyway. */
  snaplen?: number;
  /** Kernel capture buffer (tcpdump -B); tcpdump's default when unset. */
  bufferBytes?: number;
  /** tcpdump binary; default "tcpdump" on PATH. */
  tcpdump?: string;
  /** Restart back-off: first delay and cap (ms). */
  backoff?: { initialMs: number; maxMs: number };
  /** The interface index stamped on its frames (as pcapng numbers interfaces); 0 by default. */
  interfaceId?: number;
  /** Each batch of frames as it arrives, read in place (see FrameBatch): consume it before returning. */
  onFrames(frames: FrameBatch): void;
  /** Told about each start/exit/restart, for logs. */
  onEvent?(event: LiveCaptureEvent): void;
}

export type LiveCaptureEvent =
  | { kind: 'listening'; interface: string }
  | { kind: 'exit'; code: number | null; signal: string | null; stderr: string }
  | { kind: 'restart'; delayMs: number; attempt: number }
  | { kind: 'error'; error: Error };

export interface LiveCaptureStats {
  packets: number;
  restarts: number;
  /**
   * From tcpdump's summary lines, summed over its runs: the exit summary of
   * each finished run plus the latest summary of the running one (tcpdump
   * prints one on SIGUSR1, see requestStats).
   */
  captured: number;
  receivedByFilter: number;
  droppedByKernel: number;
  droppedByInterface: number;
  /**
   * Packets tcpdump wrote but the agent never parsed: a child that dies with
   * frames in the pipe or mid-record loses them. Counted for finished runs
   * only (a running child's count includes frames still in the pipe).
   */
  lostInPipe: number;
}

const SUMMED = ['captured', 'receivedByFilter', 'droppedByKernel', 'droppedByInterface'] as const;

const SUMMARY: readonly [RegExp, keyof LiveCaptureStats][] = [
  [/^(\d+) packets? captured/, 'captured'],
  [/^(\d+) packets? received by filter/, 'receivedByFilter'],
  [/^(\d+) packets? dropped by kernel/, 'droppedByKernel'],
  [/^(\d+) packets? dropped by interface/, 'droppedByInterface'],
];

/**
 * Parses tcpdump's summaries into counters: the exit summary ("N packets
 * captured" one per line) and the SIGUSR1 one ("tcpdump: N packets captured,
 * N packets received by filter, ..." on one line). The last value wins.
 */
export function parseTcpdumpSummary(stderr: string): Partial<LiveCaptureStats> {
  const out: Partial<LiveCaptureStats> = {};
  for (const line of stderr.split('\n')) {
    for (const part of line.replace(/^tcpdump:\s*/, '').split(',')) {
      for (const [re, key] of SUMMARY) {
        const m = re.exec(part.trim());
        if (m) out[key] = Number(m[1]);
      }
    }
  }
  return out;
}

export class LiveCapture {
  /** Totals of finished runs; `stats` adds the running child's latest summary. */
  private readonly done: LiveCaptureStats = {
    packets: 0,
    restarts: 0,
    captured: 0,
    receivedByFilter: 0,
    droppedByKernel: 0,
    droppedByInterface: 0,
    lostInPipe: 0,
  };
  private current: Partial<LiveCaptureStats> = {};
  private runPackets = 0;
  private isListening = false;
  private child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: RestartBackoff;
  private exited: Promise<void> = Promise.resolve();
  private started: Promise<void> | undefined;

  constructor(private readonly options: LiveCaptureOptions) {
    this.backoff = new RestartBackoff(options.backoff);
  }

  /** Starts tcpdump; resolves once it reports it is listening (or rejects if it exits first). */
  start(): Promise<void> {
    this.stopping = false;
    this.spawnOnce();
    return this.started!;
  }

  get stats(): LiveCaptureStats {
    const out = { ...this.done, packets: this.done.packets + this.runPackets };
    for (const key of SUMMED) out[key] += this.current[key] ?? 0;
    return out;
  }

  /** The interface this capture listens on. */
  get interface(): string {
    return this.options.interface;
  }

  /** True while a tcpdump child runs and has reported it is listening. */
  get listening(): boolean {
    return this.isListening && this.child !== undefined;
  }

  /**
   * Asks the running tcpdump for its counters (SIGUSR1: it prints the same
   * summary as on exit and keeps capturing); `stats` reflects them as soon as
   * the lines arrive on its stderr.
   */
  requestStats(): void {
    const child = this.child;
    if (this.isListening && child && child.exitCode === null && child.signalCode === null)
      child.kill('SIGUSR1');
  }

  /** The pid of the current tcpdump child (tests kill it to exercise the restart). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawnOnce(): void {
    const o = this.options;
    const args = ['-U', '-w', '-', '-n', '-s', String(o.snaplen ?? 65535), '-i', o.interface];
    if (o.bufferBytes) args.push('-B', String(Math.ceil(o.bufferBytes / 1024)));
    if (o.filter) args.push(o.filter);
    const child = spawn(o.tcpdump ?? 'tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const startedAt = performance.now();
    let stderr = '';
    let resolveListening!: () => void;
    let rejectListening!: (e: Error) => void;
    this.started = new Promise<void>((res, rej) => {
      resolveListening = res;
      rejectListening = rej;
    });
    this.started.catch(() => undefined);
    this.current = {};
    this.runPackets = 0;
    this.isListening = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderr = (stderr + s).slice(-8192);
      if (!this.isListening && /listening on/.test(stderr)) {
        this.isListening = true;
        resolveListening();
        o.onEvent?.({ kind: 'listening', interface: o.interface });
      }
      if (/packets? dropped by/.test(s)) this.current = parseTcpdumpSummary(stderr);
    });
    const reading = (async () => {
      try {
        for await (const batch of readCaptureBatches(child.stdout)) {
          this.runPackets += batch.length;
          if (o.interfaceId) batch.interfaceIds.fill(o.interfaceId, 0, batch.length);
          o.onFrames(batch);
        }
      } catch (error) {
        // A child killed mid-record ends the stream mid-record: expected, the restart follows.
        if (!this.stopping) o.onEvent?.({ kind: 'error', error: error as Error });
      }
    })();
    this.exited = new Promise<void>((resolve) => {
      child.on('error', (error) => {
        rejectListening(error);
        o.onEvent?.({ kind: 'error', error });
      });
      child.on('close', (code, signal) => {
        void reading.then(() => {
          const summary = { ...this.current, ...parseTcpdumpSummary(stderr) };
          for (const key of SUMMED) this.done[key] += summary[key] ?? 0;
          this.done.lostInPipe += Math.max(0, (summary.captured ?? 0) - this.runPackets);
          this.done.packets += this.runPackets;
          this.current = {};
          this.runPackets = 0;
          this.isListening = false;
          rejectListening(new Error(`tcpdump exited (${code ?? signal}): ${stderr.trim().slice(-500)}`));
          o.onEvent?.({ kind: 'exit', code, signal, stderr });
          this.child = undefined;
          if (!this.stopping) this.scheduleRestart(performance.now() - startedAt);
          resolve();
        });
      });
    });
  }

  private scheduleRestart(ranMs: number): void {
    const { delayMs, attempt } = this.backoff.next(ranMs);
    this.done.restarts++;
    this.options.onEvent?.({ kind: 'restart', delayMs, attempt });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopping) this.spawnOnce();
    }, delayMs);
  }

  /** Stops tcpdump (SIGINT, so it flushes and prints its drop summary) and waits for it. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(force);
    } else {
      await this.exited;
    }
  }
}
