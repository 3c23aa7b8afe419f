// The daemon's live capture: one capture per interface, all feeding the one
// pipeline (the inventory is per node, not per interface). A capture is
// libpcap in-process (live/libpcap.ts) when the addon is built and loads,
// else a supervised tcpdump (live/tcpdump.ts); the Sensor's
// spec.capture.backend (or HARK_CAPTURE_BACKEND, for a hand-run agent)
// forces one.
//
// Interfaces: the configured names, where "auto" stands for every interface
// that is up and is not a loopback, read from /sys/class/net (an interface
// carrying only a SPAN/mirror feed has no address, so os.networkInterfaces()
// would miss it). "auto" is resolved once at start.
//
// Counters, reported in heartbeats and /metrics:
//   kernel drops = libpcap's "dropped by kernel" (the TPACKET ring was full:
//                  the agent did not keep up) + "dropped by interface" (NIC),
//   agent drops  = frames tcpdump wrote that the agent never parsed (a child
//                  that died with frames in the pipe; always 0 in-process).
// tcpdump prints its counters on SIGUSR1 without stopping; the daemon asks
// every STATS_INTERVAL_MS, so the figures are at most that old. The addon
// reports them with every batch.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FrameBatch } from '../capture/frames.js';
import {
  LibpcapCapture,
  type LibpcapCaptureOptions,
  LiveCapture,
  type LiveCaptureEvent,
  nativePcap,
} from '../live/index.js';
import type { Pipeline } from '../pipeline.js';

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const STATS_INTERVAL_MS = 5000;

export class NoCaptureInterfaceError extends Error {
  constructor(requested: string[]) {
    super(
      `no interface to capture on: capture.interfaces ${JSON.stringify(requested)} resolved to none (is any non-loopback interface up?)`,
    );
    this.name = 'NoCaptureInterfaceError';
  }
}

/** Every up, non-loopback interface under `sysfs` (default /sys/class/net), sorted by name. */
export function autoInterfaces(sysfs = '/sys/class/net'): string[] {
  const out: string[] = [];
  for (const name of readdirSync(sysfs)) {
    try {
      const flags = Number.parseInt(readFileSync(join(sysfs, name, 'flags'), 'utf8').trim(), 16);
      if (flags & IFF_UP && !(flags & IFF_LOOPBACK)) out.push(name);
    } catch {
      // vanished between listing and reading, or not an interface directory
    }
  }
  return out.sort();
}

/** The configured interface list with "auto" expanded; duplicates removed, order kept. */
export function resolveInterfaces(requested: readonly string[], sysfs?: string): string[] {
  const out = new Set<string>();
  for (const name of requested) {
    if (name === 'auto') for (const i of autoInterfaces(sysfs)) out.add(i);
    else out.add(name);
  }
  return [...out];
}

export interface LiveSourceOptions {
  interfaces: readonly string[];
  filter?: string;
  pipeline: Pipeline;
  logger: Logger;
  /** tcpdump binary (tests; setting it chooses the tcpdump backend) and restart back-off. */
  tcpdump?: string;
  /** auto, libpcap or tcpdump (the config's capture.backend); unset: $HARK_CAPTURE_BACKEND, else auto. */
  backend?: string;
  /** Kernel capture buffer per interface, MiB (the config's capture.bufferMiB). */
  bufferMiB?: number;
  backoff?: { initialMs: number; maxMs: number };
  sysfs?: string;
}

export type CaptureBackend = 'libpcap' | 'tcpdump';

/**
 * Which capture to run: `requested` (the Sensor's spec.capture.backend, or
 * HARK_CAPTURE_BACKEND) unless it is auto or unset, else the in-process
 * libpcap addon when it loads, else tcpdump; with the reason, for the log.
 */
export function chooseBackend(requested: string | undefined): { backend: CaptureBackend; reason: string } {
  if (requested === 'tcpdump') return { backend: 'tcpdump', reason: 'requested' };
  const { native, error } = nativePcap();
  if (requested === 'libpcap') {
    if (!native)
      throw new Error(
        `the libpcap capture backend was requested, but its addon does not load (${error}): use an agent image built with it, or request tcpdump`,
      );
    return { backend: 'libpcap', reason: 'requested' };
  }
  if (requested !== undefined && requested !== '' && requested !== 'auto')
    throw new Error(`the capture backend must be auto, libpcap or tcpdump, not "${requested}"`);
  return native
    ? { backend: 'libpcap', reason: 'the libpcap addon loaded' }
    : { backend: 'tcpdump', reason: `the libpcap addon is not available (${error})` };
}

/** One interface's capture through `backend` (see chooseBackend); `tcpdump` is that backend's binary. */
export function openCapture(
  backend: CaptureBackend,
  options: LibpcapCaptureOptions & { tcpdump?: string },
): LibpcapCapture | LiveCapture {
  if (backend === 'libpcap') {
    const { tcpdump: _unused, ...rest } = options;
    return new LibpcapCapture(rest);
  }
  return new LiveCapture(options);
}

export interface LiveDrops {
  kernel: number;
  agent: number;
}

export class LiveSource {
  readonly interfaces: string[];
  readonly captures: (LiveCapture | LibpcapCapture)[];
  readonly backend: CaptureBackend;
  private statsTimer: NodeJS.Timeout | undefined;

  constructor(options: LiveSourceOptions) {
    this.interfaces = resolveInterfaces(options.interfaces, options.sysfs);
    if (this.interfaces.length === 0) throw new NoCaptureInterfaceError([...options.interfaces]);
    const { pipeline, logger } = options;
    const { backend, reason } = chooseBackend(
      options.tcpdump ? 'tcpdump' : (options.backend ?? process.env.HARK_CAPTURE_BACKEND),
    );
    this.backend = backend;
    logger.info({ backend, reason }, `live capture through ${backend}`);
    this.captures = this.interfaces.map((name, index) => {
      const log = logger.child({ interface: name });
      const common = {
        interface: name,
        ...(options.filter ? { filter: options.filter } : {}),
        ...(options.backoff ? { backoff: options.backoff } : {}),
        ...(options.bufferMiB ? { bufferBytes: options.bufferMiB * 1024 * 1024 } : {}),
        interfaceId: index,
        onFrames: (frames: FrameBatch) => pipeline.processBatch(frames),
        onEvent: (event: LiveCaptureEvent) => {
          switch (event.kind) {
            case 'listening':
              log.info('capturing');
              break;
            case 'exit':
              log.warn(
                { code: event.code, signal: event.signal, stderr: event.stderr.trim().slice(-300) },
                'tcpdump exited',
              );
              break;
            case 'restart':
              log.info(
                { delayMs: event.delayMs, attempt: event.attempt },
                `restarting the ${backend} capture`,
              );
              break;
            case 'error':
              log.error({ err: { message: event.error.message } }, 'capture error');
              break;
          }
        },
      };
      return openCapture(backend, { ...common, ...(options.tcpdump ? { tcpdump: options.tcpdump } : {}) });
    });
  }

  /**
   * Starts every capture. Resolves once each has either started listening or
   * failed its first attempt (it keeps retrying with back-off; /readyz says
   * not ready meanwhile): an interface that is missing now may appear later.
   */
  async start(): Promise<void> {
    this.statsTimer = setInterval(() => {
      for (const c of this.captures) c.requestStats();
    }, STATS_INTERVAL_MS);
    this.statsTimer.unref();
    await Promise.allSettled(this.captures.map((c) => c.start()));
  }

  /** Every interface's capture is open and listening. */
  healthy(): boolean {
    return this.captures.every((c) => c.listening);
  }

  /** Asks every running capture for fresh counters (tcpdump prints them on SIGUSR1). */
  refreshStats(): void {
    for (const c of this.captures) c.requestStats();
  }

  drops(): LiveDrops {
    let kernel = 0;
    let agent = 0;
    for (const c of this.captures) {
      const s = c.stats;
      kernel += s.droppedByKernel + s.droppedByInterface;
      agent += s.lostInPipe;
    }
    return { kernel, agent };
  }

  perInterface(): {
    interface: string;
    listening: boolean;
    packets: number;
    restarts: number;
    kernelDrops: number;
  }[] {
    return this.captures.map((c) => {
      const s = c.stats;
      return {
        interface: c.interface,
        listening: c.listening,
        packets: s.packets,
        restarts: s.restarts,
        kernelDrops: s.droppedByKernel + s.droppedByInterface,
      };
    });
  }

  async stop(): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    await Promise.all(this.captures.map((c) => c.stop()));
  }
}
