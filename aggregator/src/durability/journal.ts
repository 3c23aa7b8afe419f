// The aggregator's write-ahead log. An accepted inventory message is appended
// here and acknowledged to the broker (PUBACK) only after the append is
// fsynced, so a SIGKILLed aggregator loses nothing it acknowledged: the broker
// redelivers what was not acknowledged, and the log replays what was.
//
// Files in the data directory:
//   wal-<gen>.log   frames [u32 length][u32 crc32][JSON record], appended
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
  write,
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

const HEADER = 8;
const walName = (gen: number) => `wal-${String(gen).padStart(12, '0')}.log`;

export class Journal<S> {
  private gen = 0;
  private fd = -1;
  private queue: { frame: Buffer; done: () => void }[] = [];
  private flushing = false;
  private compaction: (() => void) | undefined;
  private sinceCompaction = 0;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Opens the journal in `dir` and returns what to replay. */
  static open<S>(dir: string, log: Logger): { journal: Journal<S>; recovered: Recovered<S> } {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const journal = new Journal<S>(dir, log);
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
        records.push({ gen, record: JSON.parse(body.toString('utf8')) as JournalRecord });
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

  /** Records appended since the last compaction. */
  get uncompacted(): number {
    return this.sinceCompaction;
  }

  /** Appends; `durable(gen)` runs once the record is fsynced (in append order). */
  append(record: JournalRecord, durable: (gen: number) => void): void {
    if (this.closed) return;
    const body = Buffer.from(JSON.stringify(record));
    const frame = Buffer.allocUnsafe(HEADER + body.byteLength);
    frame.writeUInt32BE(body.byteLength, 0);
    frame.writeUInt32BE(crc32(body), 4);
    body.copy(frame, HEADER);
    const gen = this.gen;
    this.queue.push({ frame, done: () => durable(gen) });
    this.sinceCompaction++;
    if (!this.flushing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue;
        this.queue = [];
        const data = Buffer.concat(batch.map((b) => b.frame));
        const handle = this.fd;
        await new Promise<void>((resolve, reject) => {
          // One write and one fdatasync for the whole batch, off the event loop.
          const writeAll = (off: number): void => {
            write(handle, data, off, data.byteLength - off, null, (err, n) => {
              if (err) return reject(err);
              if (off + n < data.byteLength) return writeAll(off + n);
              fdatasync(handle, (e) => (e ? reject(e) : resolve()));
            });
          };
          writeAll(0);
        });
        for (const b of batch) b.done();
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
   * then exactly the WAL so far), a new generation starts, `beforeState(g)`
   * runs (e.g. history files for generations <= g), then the state file is
   * replaced atomically and the covered WAL files are deleted.
   */
  compact<T>(
    capture: () => { state: S; extra: T },
    beforeState?: (extra: T) => Promise<void>,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const run = () => {
        try {
          const { state, extra } = capture();
          const covered = this.gen;
          closeSync(this.fd);
          this.gen += 1;
          this.fd = openSync(join(this.dir, walName(this.gen)), 'a');
          this.sinceCompaction = this.queue.length;
          const newGen = this.gen;
          (async () => {
            if (beforeState) await beforeState(extra);
            const tmp = join(this.dir, 'state.json.tmp');
            await writeFile(tmp, JSON.stringify({ walGen: newGen, state }));
            const h = await open(tmp, 'r+');
            await h.datasync();
            await h.close();
            await rename(tmp, join(this.dir, 'state.json'));
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

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
