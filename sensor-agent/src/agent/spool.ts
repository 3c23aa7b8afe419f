// The agent's disk spool: every inventory and heartbeat message is written
// here (and fsynced) before it is published, and leaves only when the broker
// acknowledges it (PUBACK). mqtt.js alone keeps QoS 1 messages in memory and
// drops them past 65,535 queued, so the spool, not mqtt.js, is the queue; the
// reporter hands mqtt.js a bounded window of it at a time.
//
// Layout: append-only segment files "<first id>.seg" in spoolDir. A segment is
// a sequence of frames [u32 body length][u32 crc32(body)][body]; a body is
//   message: [1][f64 id][u8 kind][u8 class][u8 retain][payload]
//   ack:     [2][f64 id]
// On start every segment is read; messages without an ack are pending again
// and are re-sent (the aggregator de-duplicates by runId/seq). A torn frame at
// the tail (crash mid-write) ends its segment: it was never acknowledged to
// anyone, because a message is published only after its frame is durable.
//
// fsync policy: group commit. Appends made in the same event-loop turn are
// written with one writev() of their frames' pieces (no copy into one buffer)
// and one fdatasync(); append() resolves after it.
// Ack frames are written with the next batch and not fsynced on their own: a
// lost ack only means one more (de-duplicated) re-send after a crash.
//
// Size policy: the segments together stay under maxBytes. When an append
// would exceed it, the OLDEST segment is deleted whole, pending messages and
// all; each lost message is counted by class (hark_agent_spool_dropped_total)
// and the reporter is told, so it publishes a fresh full snapshot: a snapshot
// restates every device, so the inventory converges again even though the
// dropped deltas and superseded snapshot parts never arrive. The oldest data
// is what a newer snapshot supersedes first, which is why oldest goes first.
// Heartbeats are dropped like anything else in that segment: an old heartbeat
// is worthless once a newer one exists.
import {
  closeSync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { MessageKind } from '@hark/contracts/mqtt';

export type SpoolClass = 'control' | 'snapshot' | 'delta';
const KINDS: MessageKind[] = ['inventory', 'heartbeat', 'status'];
const CLASSES: SpoolClass[] = ['control', 'snapshot', 'delta'];
const HEADER = 8;
/** Newest payloads kept in memory until first sent (see Spool.held). */
const HELD_BYTES = 4 * 1024 * 1024;
const MSG = 1;
const ACK = 2;

/** A pending message; its payload stays on disk until it is sent (Spool.payload). */
export interface SpoolEntry {
  readonly id: number;
  readonly kind: MessageKind;
  readonly cls: SpoolClass;
  readonly retain: boolean;
  readonly segment: number;
  /** Where the payload lies in its segment file, and its length. */
  readonly offset: number;
  readonly length: number;
}

export interface SpoolOptions {
  dir: string;
  /** Bound on all segment files together; default 64 MiB. */
  maxBytes?: number;
  /** A new segment is started past this size; default maxBytes / 8. */
  segmentBytes?: number;
  /** Called after messages were dropped because the spool was full. */
  onDrop?: (dropped: Record<SpoolClass, number>) => void;
}

interface Segment {
  first: number;
  path: string;
  fd: number | undefined;
  /** Opened on the first read of a payload from this segment. */
  readFd?: number;
  bytes: number;
  /** Pending (unacknowledged) messages in this segment. */
  live: number;
}

export class Spool {
  readonly dropped: Record<SpoolClass, number> = { control: 0, snapshot: 0, delta: 0 };
  private readonly entries = new Map<number, SpoolEntry>();
  /**
   * The newest payloads, held until first sent (the connected case: sent
   * right after being written, never read back) up to HELD_BYTES; the rest
   * are read back from their segment when sent, so a spool filled during a
   * long outage costs disk, not the agent's resident memory.
   */
  private readonly held = new Map<number, Buffer>();
  private heldBytes = 0;
  private readonly segments: Segment[] = [];
  private nextId = 1;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private batch: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private scheduled = false;
  private closed = false;

  private constructor(private readonly o: SpoolOptions) {
    this.maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
    this.segmentBytes = o.segmentBytes ?? Math.max(64 * 1024, Math.floor(this.maxBytes / 8));
  }

  /** Opens (creating) the spool and recovers what an earlier run left unacknowledged. */
  static open(options: SpoolOptions): Spool {
    const spool = new Spool(options);
    spool.recover();
    return spool;
  }

  /** Messages written and not yet acknowledged. */
  get depth(): number {
    return this.entries.size;
  }

  /** The bound on bytes (SpoolOptions.maxBytes). */
  get capacity(): number {
    return this.maxBytes;
  }

  get bytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.bytes;
    return total;
  }

  /** Pending messages, oldest first. */
  pending(): IterableIterator<SpoolEntry> {
    return this.entries.values();
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  get(id: number): SpoolEntry | undefined {
    return this.entries.get(id);
  }

  /** A pending message's payload (held, else read from disk); undefined once it was acknowledged or dropped. */
  payload(entry: SpoolEntry): Buffer | undefined {
    if (!this.entries.has(entry.id) || this.closed) return undefined;
    const held = this.held.get(entry.id);
    if (held) {
      this.release(entry.id);
      return held;
    }
    const segment = this.segments.find((s) => s.first === entry.segment);
    if (!segment) return undefined;
    segment.readFd ??= openSync(segment.path, 'r');
    const payload = Buffer.allocUnsafe(entry.length);
    let got = 0;
    while (got < entry.length) {
      const n = readSync(segment.readFd, payload, got, entry.length - got, entry.offset + got);
      if (n === 0) throw new Error(`spool segment ${segment.path} ends before message ${entry.id}`);
      got += n;
    }
    return payload;
  }

  /** Appends a message; resolves once it is on disk (fsynced). */
  append(kind: MessageKind, cls: SpoolClass, retain: boolean, payload: Buffer): Promise<SpoolEntry> {
    if (this.closed) return Promise.reject(new Error('spool closed'));
    const frameBytes = HEADER + 12 + payload.byteLength;
    if (frameBytes > this.maxBytes) {
      this.dropped[cls]++;
      this.o.onDrop?.({ control: 0, snapshot: 0, delta: 0, [cls]: 1 });
      return Promise.reject(new Error(`message of ${payload.byteLength} bytes exceeds the spool size`));
    }
    this.makeRoom(frameBytes);
    const segment = this.active();
    const id = this.nextId++;
    const offset = segment.bytes + HEADER + 12;
    // The body is the 12-byte message head and the payload, written side by side (writev), not copied together.
    const head = Buffer.allocUnsafe(12);
    head[0] = MSG;
    head.writeDoubleBE(id, 1);
    head[9] = KINDS.indexOf(kind);
    head[10] = CLASSES.indexOf(cls);
    head[11] = retain ? 1 : 0;
    this.queueFrame(segment, head, payload);
    segment.live++;
    const entry: SpoolEntry = {
      id,
      kind,
      cls,
      retain,
      segment: segment.first,
      offset,
      length: payload.byteLength,
    };
    this.entries.set(id, entry);
    this.hold(id, payload);
    return new Promise((resolve) => this.waiters.push(() => resolve(entry)));
  }

  /** The broker acknowledged `id`: it leaves the spool. Unknown ids (dropped, already acked) are ignored. */
  ack(id: number): void {
    const entry = this.entries.get(id);
    if (!entry || this.closed) return;
    this.entries.delete(id);
    this.release(id);
    const body = Buffer.allocUnsafe(9);
    body[0] = ACK;
    body.writeDoubleBE(id, 1);
    this.queueFrame(this.active(), body);
    const segment = this.segments.find((s) => s.first === entry.segment);
    if (segment) segment.live--;
    this.trim();
  }

  /** Writes what is buffered (fsynced) and closes the files. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    for (const s of this.segments) {
      if (s.fd !== undefined) closeSync(s.fd);
      closeReader(s);
    }
  }

  /** Holds a new payload; the oldest held ones go back to being read from disk beyond HELD_BYTES. */
  private hold(id: number, payload: Buffer): void {
    this.held.set(id, payload);
    this.heldBytes += payload.byteLength;
    for (const [oldest, p] of this.held) {
      if (this.heldBytes <= HELD_BYTES || oldest === id) break;
      this.held.delete(oldest);
      this.heldBytes -= p.byteLength;
    }
  }

  private release(id: number): void {
    const p = this.held.get(id);
    if (!p) return;
    this.held.delete(id);
    this.heldBytes -= p.byteLength;
  }

  private active(): Segment {
    let last = this.segments[this.segments.length - 1];
    if (!last || last.fd === undefined || last.bytes >= this.segmentBytes) {
      if (last?.fd !== undefined) {
        this.flush();
        closeSync(last.fd);
        last.fd = undefined;
      }
      const first = this.nextId;
      const path = join(this.o.dir, `${String(first).padStart(16, '0')}.seg`);
      last = { first, path, fd: openSync(path, 'a'), bytes: 0, live: 0 };
      this.segments.push(last);
    }
    return last;
  }

  /** Queues the frame of a body given as `body` then `rest` (optional): the CRC runs across both. */
  private queueFrame(segment: Segment, body: Buffer, rest?: Buffer): void {
    const length = body.byteLength + (rest?.byteLength ?? 0);
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32BE(length, 0);
    header.writeUInt32BE(rest ? crc32(rest, crc32(body)) : crc32(body), 4);
    this.batch.push(header, body);
    if (rest) this.batch.push(rest);
    segment.bytes += HEADER + length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Group commit: one write and, if any message is in the batch, one fdatasync. */
  private flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0 && this.waiters.length === 0) return;
    const segment = this.segments[this.segments.length - 1];
    if (segment?.fd !== undefined && this.batch.length > 0) {
      // One writev of the frames' pieces, without first copying them into one buffer;
      // a short write (a full disk that recovers, a signal) continues from where it stopped.
      let pieces = this.batch;
      let total = 0;
      for (const p of pieces) total += p.byteLength;
      let written = writevSync(segment.fd, pieces);
      while (written < total) {
        const rest = Buffer.concat(pieces).subarray(written);
        pieces = [rest];
        total = rest.byteLength;
        written = writeSync(segment.fd, rest);
      }
      if (this.waiters.length > 0) fdatasyncSync(segment.fd);
    }
    this.batch = [];
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Deletes leading segments that hold nothing pending (never the one being written). */
  private trim(): void {
    while (this.segments.length > 1 && this.segments[0]!.live <= 0) {
      const s = this.segments.shift()!;
      closeReader(s);
      unlinkSafe(s.path);
    }
  }

  private makeRoom(frameBytes: number): void {
    if (this.bytes + frameBytes <= this.maxBytes) return;
    const dropped: Record<SpoolClass, number> = { control: 0, snapshot: 0, delta: 0 };
    while (this.bytes + frameBytes > this.maxBytes) {
      // The segment being written cannot go; start a new one so it can.
      if (this.segments.length === 1) {
        const only = this.segments[0]!;
        if (only.fd !== undefined) {
          this.flush();
          closeSync(only.fd);
          only.fd = undefined;
        }
        this.active();
      }
      const oldest = this.segments.shift()!;
      for (const [id, e] of this.entries) {
        if (e.segment !== oldest.first) continue;
        this.entries.delete(id);
        this.release(id);
        dropped[e.cls]++;
        this.dropped[e.cls]++;
      }
      closeReader(oldest);
      unlinkSafe(oldest.path);
    }
    this.o.onDrop?.(dropped);
  }

  private recover(): void {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    const files = readdirSync(this.o.dir)
      .filter((f) => /^\d{16}\.seg$/.test(f))
      .sort();
    const acked = new Set<number>();
    for (const file of files) {
      const path = join(this.o.dir, file);
      const segment: Segment = { first: Number(file.slice(0, 16)), path, fd: undefined, bytes: 0, live: 0 };
      const data = readFileSync(path);
      let off = 0;
      while (off + HEADER <= data.byteLength) {
        const len = data.readUInt32BE(off);
        const crc = data.readUInt32BE(off + 4);
        if (off + HEADER + len > data.byteLength) break;
        const body = data.subarray(off + HEADER, off + HEADER + len);
        if (crc32(body) !== crc) break; // a torn tail: nothing after it was ever durable
        const offset = off + HEADER + 12;
        off += HEADER + len;
        const id = body.readDoubleBE(1);
        this.nextId = Math.max(this.nextId, id + 1);
        if (body[0] === MSG) {
          this.entries.set(id, {
            id,
            kind: KINDS[body[9]!] ?? 'inventory',
            cls: CLASSES[body[10]!] ?? 'delta',
            retain: body[11] === 1,
            segment: segment.first,
            offset,
            length: len - 12,
          });
        } else if (body[0] === ACK) {
          acked.add(id);
        }
      }
      segment.bytes = off;
      this.segments.push(segment);
    }
    for (const id of acked) this.entries.delete(id);
    for (const e of this.entries.values()) {
      const s = this.segments.find((x) => x.first === e.segment);
      if (s) s.live++;
    }
    // Leading segments with nothing pending go; the rest stay until acknowledged.
    while (this.segments.length > 0 && this.segments[0]!.live <= 0) unlinkSafe(this.segments.shift()!.path);
    // Ack frames must land in a segment that outlives the messages they ack, so
    // a recovered spool always writes into a fresh segment.
    this.nextId = Math.max(this.nextId, ...this.segments.map((s) => s.first + 1));
  }
}

function closeReader(segment: Segment): void {
  if (segment.readFd === undefined) return;
  closeSync(segment.readFd);
  segment.readFd = undefined;
}

function unlinkSafe(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
