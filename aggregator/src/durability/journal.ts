// The aggregator's write-ahead log. An accepted inventory message is appended
// here and acknowledged to the broker (PUBACK) only after the append is
// fsynced, so a SIGKILLed aggregator loses nothing it acknowledged: the broker
// redelivers what was not acknowledged, and the log replays what was.
//
// Files in the data directory:
//   wal-<gen>.log   frames [u32 length][u32 crc32][body], appended; the body is
//                   [0x01][f64 received at][u16 topic length][topic][payload]
//                   (the payload's own bytes, not re-encoded), or, in logs
//                   written before that format, a JSON record (first byte "{")
//   state.json      the compacted state, with the first WAL generation NOT in it
// Group commit: appends made while a write+fdatasync is under way are written
// together by the next one, so throughput grows with load instead of being
// one fsync per message. Records are applied (made visible) when durable.
//
// Compaction, at a safe point between two commits: capture the in-memory
// state (which then reflects exactly the WAL up to generation g), start
// generation g+1, write state.json.tmp, fsync, rename over state.json, fsync
// the directory, then delete WAL generations <= g. A crash anywhere in
// between leaves either the old state and all WAL files, or the new state and
// perhaps some already-covered WAL files (ignored on replay by generation).
import {
  closeSync,
  fdatasync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writev,
} from 'node:fs';
import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../log.js';

export interface JournalRecord {
  /** MQTT topic */
  t: string;
  /** payload, UTF-8 (messages are JSON) */
  p: string;
  /** received at, ms since the epoch */
  at: number;
}

export interface Recovered<S> {
  state: S | undefined;
  /** WAL records after the state, oldest first, each with its generation. */
  records: { gen: number; record: JournalRecord }[];
}

/** A record to append: the payload's bytes are logged as they are. */
export interface JournalEntry {
  t: string;
  payload: Uint8Array;
  at: number;
}

const HEADER = 8;
/** First body byte of a binary record (a JSON record starts with "{"). */
const BINARY = 0x01;
/** Binary body: marker, f64 receivedAt, u16 topic length. */
const META = 1 + 8 + 2;

function decodeBody(body: Buffer): JournalRecord {
  if (body[0] !== BINARY) return JSON.parse(body.toString('utf8')) as JournalRecord;
  const at = body.readDoubleBE(1);
  const topicLength = body.readUInt16BE(9);
  return {
    at,
    t: body.toString('utf8', META, META + topicLength),
    p: body.toString('utf8', META + topicLength),
  };
}
const walName = (gen: number) => `wal-${String(gen).padStart(12, '0')}.log`;

export class Journal {
  private gen = 0;
  private fd = -1;
  /** Frames (a header, then the payload) waiting for the next write, and their callbacks. */
  private queue: Buffer[] = [];
  private callbacks: ((gen: number) => void)[] = [];
  /** Payload bytes appended and not yet handed to a write (see pendingBytes). */
  private queuedBytes = 0;
  /** Payload bytes of the batch being written and fsynced. */
  private writingBytes = 0;
  private flushing = false;
  private compaction: (() => void) | undefined;
  private sinceCompaction = 0;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Opens the journal in `dir` and returns what to replay. */
  static open<S>(dir: string, log: Logger): { journal: Journal; recovered: Recovered<S> } {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const journal = new Journal(dir, log);
    let state: S | undefined;
    let firstGen = 0;
    try {
      const parsed = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
        walGen: number;
        state: S;
      };
      state = parsed.state;
      firstGen = parsed.walGen;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const gens = readdirSync(dir)
      .map((f) => /^wal-(\d{12})\.log$/.exec(f)?.[1])
      .filter((g): g is string => g !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const records: Recovered<S>['records'] = [];
    for (const gen of gens) {
      if (gen < firstGen) continue;
      const data = readFileSync(join(dir, walName(gen)));
      let off = 0;
      while (off + HEADER <= data.byteLength) {
        const len = data.readUInt32BE(off);
        if (off + HEADER + len > data.byteLength) break;
        const body = data.subarray(off + HEADER, off + HEADER + len);
        if (crc32(body) !== data.readUInt32BE(off + 4)) break; // torn tail: never acknowledged
        records.push({ gen, record: decodeBody(body) });
        off += HEADER + len;
      }
    }
    journal.gen = Math.max(firstGen, ...gens) + 1;
    journal.fd = openSync(join(dir, walName(journal.gen)), 'a');
    journal.sinceCompaction = records.length;
    log.info(
      { dir, walGen: journal.gen, replay: records.length, state: state !== undefined },
      'journal opened',
    );
    return { journal, recovered: { state, records } };
  }

  /** The generation new records go to. */
  get generation(): number {
    return this.gen;
  }

  /** Payload bytes appended whose records are not yet durable. */
  get pendingBytes(): number {
    return this.queuedBytes + this.writingBytes;
  }

  /** Records appended since the last compaction. */
  get uncompacted(): number {
    return this.sinceCompaction;
  }

  /**
   * Appends; `durable(gen)` runs once the record is fsynced (in append order).
   * The payload is written as it is (not copied, not re-encoded): the caller
   * must not modify it until `durable` runs.
   */
  append(entry: JournalEntry, durable: (gen: number) => void): void {
    if (this.closed) return;
    const topicLength = Buffer.byteLength(entry.t);
    const head = Buffer.allocUnsafe(HEADER + META + topicLength);
    head[HEADER] = BINARY;
    head.writeDoubleBE(entry.at, HEADER + 1);
    head.writeUInt16BE(topicLength, HEADER + 9);
    head.write(entry.t, HEADER + META, 'utf8');
    const meta = head.subarray(HEADER);
    head.writeUInt32BE(meta.byteLength + entry.payload.byteLength, 0);
    head.writeUInt32BE(crc32(entry.payload, crc32(meta)), 4);
    this.queue.push(
      head,
      Buffer.from(entry.payload.buffer, entry.payload.byteOffset, entry.payload.byteLength),
    );
    this.callbacks.push(durable);
    this.queuedBytes += entry.payload.byteLength;
    this.sinceCompaction++;
    if (!this.flushing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        let buffers = this.queue;
        const callbacks = this.callbacks;
        this.writingBytes = this.queuedBytes;
        this.queue = [];
        this.callbacks = [];
        this.queuedBytes = 0;
        // The generation is the file the batch goes to (a compaction may have started a new one).
        const handle = this.fd;
        const gen = this.gen;
        await new Promise<void>((resolve, reject) => {
          // One gathered write and one fdatasync for the whole batch, off the event loop.
          const writeAll = (): void => {
            writev(handle, buffers, null, (err, n) => {
              if (err) return reject(err);
              // A short write: go on from where it stopped.
              let rest = n;
              let i = 0;
              while (i < buffers.length && rest >= buffers[i]!.byteLength) rest -= buffers[i++]!.byteLength;
              if (i < buffers.length) {
                buffers = buffers.slice(i);
                buffers[0] = buffers[0]!.subarray(rest);
                return writeAll();
              }
              fdatasync(handle, (e) => (e ? reject(e) : resolve()));
            });
          };
          writeAll();
        });
        this.writingBytes = 0;
        for (const done of callbacks) done(gen);
        this.runCompaction();
      }
    } catch (err) {
      // A disk that fails fsync cannot be trusted with acknowledgements: stop.
      this.log.fatal({ err }, 'write-ahead log write failed; exiting so the broker redelivers');
      process.exit(70);
    } finally {
      this.flushing = false;
      this.runCompaction();
    }
  }

  private runCompaction(): void {
    const compaction = this.compaction;
    if (!compaction) return;
    this.compaction = undefined;
    compaction();
  }

  /**
   * Compacts: at the next safe point `capture()` runs (the in-memory state is
   * then exactly the WAL so far), a new generation starts, `persist` runs with
   * the captured value and writes (and fsyncs) the state file's content
   * (see writeStateText) to `stateTmp` (and may write anything else derived
   * from generations <= the covered one, e.g. history), then the state file
   * is replaced atomically and the covered WAL files are deleted.
   */
  compact<C>(
    capture: () => C,
    persist: (captured: C, target: { walGen: number; covered: number; stateTmp: string }) => Promise<void>,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const run = () => {
        try {
          const captured = capture();
          const covered = this.gen;
          closeSync(this.fd);
          this.gen += 1;
          this.fd = openSync(join(this.dir, walName(this.gen)), 'a');
          this.sinceCompaction = this.callbacks.length;
          const walGen = this.gen;
          (async () => {
            const stateTmp = join(this.dir, 'state.json.tmp');
            await persist(captured, { walGen, covered, stateTmp });
            await rename(stateTmp, join(this.dir, 'state.json'));
            syncDir(this.dir);
            for (const f of readdirSync(this.dir)) {
              const g = /^wal-(\d{12})\.log$/.exec(f)?.[1];
              if (g !== undefined && Number(g) <= covered)
                await unlink(join(this.dir, f)).catch(() => undefined);
            }
          })().then(resolve, reject);
        } catch (err) {
          reject(err as Error);
        }
      };
      if (this.flushing) this.compaction = run;
      else run();
    });
  }

  /** Stops accepting records; what is queued is written first. */
  async close(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (!this.flushing) void this.flush();
      await new Promise((r) => setTimeout(r, 5));
    }
    this.closed = true;
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Writes a state file's content ({ walGen, state }) to `path` and fsyncs it,
 * the state given as its JSON text (see ingest/state-text.ts).
 */
export async function writeStateText(path: string, walGen: number, stateText: string): Promise<void> {
  await writeFile(path, `{"walGen":${walGen},"state":${stateText}}`);
  const h = await open(path, 'r+');
  try {
    await h.datasync();
  } finally {
    await h.close();
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
