// Live capture through libpcap in-process (native/pcap_capture.c): a libuv
// worker thread gathers up to ~1 MiB of packets, or what arrives within
// `maxWaitMs`, and the Node thread parses the batch. Against the supervised
// `tcpdump -U -w -` child (tcpdump.ts), it saves tcpdump's write per packet
// and the pipe between the two processes: on the live-capture benchmark
// (~480k pkt/s, the capture side pinned to one core) that core went from 99%
// busy with 15-18% of the packets dropped to 34-37% busy with none dropped.
// tcpdump stays the fallback when the addon was not built (no C toolchain at
// install) or cannot load.
//
// Same contract as LiveCapture: start() resolves once listening, a failure
// after that is reopened with back-off, stop() waits for the in-flight batch.
import { createRequire } from 'node:module';
import { u32le } from '../bytes.js';
import { FrameBatch } from '../capture/frames.js';
import { RestartBackoff } from './backoff.js';
import type { LiveCaptureEvent, LiveCaptureStats } from './tcpdump.js';

interface PcapStats {
  received?: number;
  dropped?: number;
  ifDropped?: number;
}

interface NativePcap {
  open(
    iface: string,
    snaplen: number,
    bufferBytes: number,
    maxWaitMs: number,
    filter?: string,
  ): { handle: unknown; linkType: number };
  read(
    handle: unknown,
    callback: (error: Error | undefined, records: Buffer, stats: PcapStats) => void,
  ): void;
  close(handle: unknown): void;
}

let loaded: { native?: NativePcap; error?: string } | undefined;

/** The addon, or why it is not available (not built, or libpcap.so.0.8 missing). */
export function nativePcap(): { native?: NativePcap; error?: string } {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  try {
    loaded = { native: require('../../native/build/Release/hark_pcap.node') as NativePcap };
  } catch (error) {
    loaded = { error: (error as Error).message.split('\n')[0] };
  }
  return loaded;
}

export interface LibpcapCaptureOptions {
  interface: string;
  filter?: string;
  snaplen?: number;
  /** Kernel ring size in bytes (libpcap's default is 2 MiB). */
  bufferBytes?: number;
  /** Longest a packet waits in a batch before it is handed over (ms). */
  maxWaitMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** The interface index stamped on its frames (as pcapng numbers interfaces); 0 by default. */
  interfaceId?: number;
  /** Each batch of frames as it arrives, read in place (see FrameBatch): consume it before returning. */
  onFrames(frames: FrameBatch): void;
  onEvent?(event: LiveCaptureEvent): void;
}

const DEFAULT_BUFFER_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_WAIT_MS = 50;

export class LibpcapCapture {
  private readonly native: NativePcap;
  private handle: unknown;
  private linkType = 1;
  private stopping = false;
  private reading: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: RestartBackoff;
  /** Totals of closed handles; `current` holds the open one's (libpcap counts per handle). */
  private readonly done = { received: 0, dropped: 0, ifDropped: 0, packets: 0, restarts: 0 };
  private current: PcapStats = {};
  private runPackets = 0;
  private readonly frames = new FrameBatch();

  constructor(private readonly options: LibpcapCaptureOptions) {
    const { native, error } = nativePcap();
    if (!native) throw new Error(`the libpcap addon is not available: ${error}`);
    this.native = native;
    this.backoff = new RestartBackoff(options.backoff);
  }

  get interface(): string {
    return this.options.interface;
  }

  get listening(): boolean {
    return this.handle !== undefined;
  }

  get stats(): LiveCaptureStats {
    const received = this.done.received + (this.current.received ?? 0);
    const dropped = this.done.dropped + (this.current.dropped ?? 0);
    return {
      packets: this.done.packets + this.runPackets,
      restarts: this.done.restarts,
      captured: this.done.packets + this.runPackets,
      receivedByFilter: received,
      droppedByKernel: dropped,
      droppedByInterface: this.done.ifDropped + (this.current.ifDropped ?? 0),
      lostInPipe: 0,
    };
  }

  /** Counters arrive with every batch (at least once a second): nothing to ask for. */
  requestStats(): void {}

  /** Opens the interface; rejects with libpcap's message if that fails (a retry is scheduled). */
  start(): Promise<void> {
    this.stopping = false;
    try {
      this.open();
      return Promise.resolve();
    } catch (error) {
      this.options.onEvent?.({ kind: 'error', error: error as Error });
      this.scheduleReopen(0);
      return Promise.reject(error);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.handle !== undefined) this.native.close(this.handle);
    await this.reading;
  }

  private open(): void {
    const o = this.options;
    const { handle, linkType } = this.native.open(
      o.interface,
      o.snaplen ?? 65535,
      o.bufferBytes ?? DEFAULT_BUFFER_BYTES,
      o.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
      o.filter,
    );
    this.handle = handle;
    this.linkType = linkType;
    this.current = {};
    this.runPackets = 0;
    const openedAt = performance.now();
    o.onEvent?.({ kind: 'listening', interface: o.interface });
    this.reading = new Promise<void>((resolve) => {
      const next = (): void => {
        this.native.read(handle, (error, records, stats) => {
          this.current = stats;
          this.parse(records);
          if (error || this.stopping) {
            this.closed(error, openedAt);
            return resolve();
          }
          next();
        });
      };
      next();
    });
  }

  /** Reads a batch of pcap records (16-byte little-endian header, then the bytes) as frames in place. */
  private parse(records: Buffer): void {
    const frames = this.frames;
    const linkType = this.linkType;
    const interfaceId = this.options.interfaceId ?? 0;
    let o = 0;
    while (o + 16 <= records.length) {
      const seconds = u32le(records, o);
      const nanos = u32le(records, o + 4);
      const caplen = u32le(records, o + 8);
      const originalLength = u32le(records, o + 12);
      // The frame is read in place, so it must lie within the batch (the addon never cuts one; checked anyway).
      if (o + 16 + caplen > records.length) break;
      frames.push(records, o + 16, o + 16 + caplen, originalLength, seconds, nanos, linkType, interfaceId);
      o += 16 + caplen;
    }
    this.runPackets += frames.length;
    if (frames.length > 0) this.options.onFrames(frames);
    frames.clear();
  }

  private closed(error: Error | undefined, openedAt: number): void {
    if (this.handle !== undefined && error) this.native.close(this.handle);
    this.handle = undefined;
    this.done.received += this.current.received ?? 0;
    this.done.dropped += this.current.dropped ?? 0;
    this.done.ifDropped += this.current.ifDropped ?? 0;
    this.done.packets += this.runPackets;
    this.current = {};
    this.runPackets = 0;
    if (error) this.options.onEvent?.({ kind: 'error', error });
    if (!this.stopping) this.scheduleReopen(performance.now() - openedAt);
  }

  private scheduleReopen(ranMs: number): void {
    const { delayMs, attempt } = this.backoff.next(ranMs);
    this.done.restarts++;
    this.options.onEvent?.({ kind: 'restart', delayMs, attempt });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopping) return;
      try {
        this.open();
      } catch (error) {
        this.options.onEvent?.({ kind: 'error', error: error as Error });
        this.scheduleReopen(0);
      }
    }, delayMs);
  }
}
