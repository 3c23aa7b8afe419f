// History in Parquet, partitioned the way DuckDB, Spark and Athena read hive
// partitions:
//   <dir>/observations/site=<site>/date=<YYYY-MM-DD>/observations-<gen>.parquet
//   <dir>/inventory/site=<site>/date=<YYYY-MM-DD>/inventory-<gen>.parquet
// Observation rows are grouped by the WAL generation their message was
// logged in, and a file's name carries that generation: after a crash,
// replaying a generation rewrites the same file with the same rows, so
// history neither loses nor doubles an observation. Every file is written
// (column-file.ts) to a temporary name, fsynced, then renamed into place once
// its generation is compacted.
//
// This runs in the history worker (history-worker.ts), off the ingest
// thread: rows are appended to the open files of their generation as
// messages arrive (bounded memory: a row group per open file), and a
// compaction closes and renames the files of the covered generations, writes
// the inventory snapshot when one is due, the journal's state file, and
// removes the days past retention (prune).
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import parquet from '@dsnp/parquetjs';
import type { Device } from '../inventory/store.js';
import { ColumnFile, type Int64Column, type Utf8Column } from './column-file.js';
import { type ScannedInventory, scanInventory } from './inventory-scan.js';

/** One applied inventory message, as the ingest thread hands it over. */
export interface HistoryItem {
  gen: number;
  site: string;
  sensor: string;
  node: string;
  receivedAt: number;
  /** The message's JSON, as received (already validated by the ingest thread). */
  payload: Uint8Array;
}

/** A batch of items: their payloads packed into one buffer (one transfer instead of one per message). */
export interface HistoryBatch {
  items: (Omit<HistoryItem, 'payload'> & { offset: number; length: number })[];
  data: Uint8Array;
}

/** Schemas of the two histories (exported for the shredder's equivalence test). */
export const observationSchema = new parquet.ParquetSchema({
  site: { type: 'UTF8' },
  sensor: { type: 'UTF8' },
  node: { type: 'UTF8' },
  run_id: { type: 'UTF8' },
  seq: { type: 'INT64' },
  mode: { type: 'UTF8' },
  zone: { type: 'UTF8', optional: true },
  device_id: { type: 'UTF8' },
  received_at: { type: 'TIMESTAMP_MILLIS' },
  last_seen: { type: 'TIMESTAMP_MILLIS' },
  // Statistics of whole records would only cost time: nothing filters on their min or max.
  record: { type: 'UTF8', statistics: false },
});

export const inventorySchema = new parquet.ParquetSchema({
  site: { type: 'UTF8' },
  zone: { type: 'UTF8', optional: true },
  id: { type: 'UTF8' },
  device_id: { type: 'UTF8' },
  macs: { type: 'UTF8', repeated: true },
  ipv4: { type: 'UTF8', repeated: true },
  sensors: { type: 'UTF8', repeated: true },
  hostname: { type: 'UTF8', optional: true },
  vendor: { type: 'UTF8', optional: true },
  first_seen: { type: 'TIMESTAMP_MILLIS' },
  last_seen: { type: 'TIMESTAMP_MILLIS' },
  device: { type: 'UTF8', statistics: false },
});

/** The slow path, for a payload the scanner could not read: parsed, and each record re-encoded. */
function parsedInventory(payload: Buffer): Omit<ScannedInventory, 'devices'> & {
  devices: { id: string; lastSeenMs: number; record: string }[];
} {
  const message = JSON.parse(payload.toString('utf8')) as Omit<ScannedInventory, 'devices'> & {
    devices: { id: string; lastSeen: string }[];
  };
  return {
    runId: message.runId,
    seq: message.seq,
    mode: message.mode,
    zone: message.zone,
    devices: message.devices.map((d) => ({
      id: d.id,
      lastSeenMs: Date.parse(d.lastSeen),
      record: JSON.stringify(d),
    })),
  };
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** A directory's entries; none where it does not exist (yet). */
async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}

async function tmpFor(path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  return `${path}.tmp`;
}

/** Renames a finished (closed and fsynced) file into place, and fsyncs its directory. */
async function renameIntoPlace(tmp: string, path: string): Promise<void> {
  await rename(tmp, path).catch(async (err) => {
    await rm(tmp, { force: true });
    throw err;
  });
  await syncPath(dirname(path));
}

/**
 * fsyncs a file or directory. A history file is renamed into place before the
 * WAL generations it holds are deleted: it must be on disk first, and so must
 * its name.
 */
async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes the rows `fill` appends to a new file, closes, fsyncs and renames it into place. */
async function writeAtomically(
  schema: InstanceType<typeof parquet.ParquetSchema>,
  path: string,
  fill: (file: ColumnFile) => Promise<void>,
): Promise<void> {
  const tmp = await tmpFor(path);
  const file = await ColumnFile.open(schema, tmp);
  try {
    await fill(file);
    await file.close();
  } catch (err) {
    await file.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await renameIntoPlace(tmp, path);
}

/** An observation file being written, and its columns. */
interface OpenFile {
  gen: number;
  path: string;
  tmp: string;
  file: ColumnFile;
  site: Utf8Column;
  sensor: Utf8Column;
  node: Utf8Column;
  runId: Utf8Column;
  seq: Int64Column;
  mode: Utf8Column;
  zone: Utf8Column;
  deviceId: Utf8Column;
  receivedAt: Int64Column;
  lastSeen: Int64Column;
  record: Utf8Column;
}

async function openObservations(gen: number, path: string): Promise<OpenFile> {
  const tmp = await tmpFor(path);
  const file = await ColumnFile.open(observationSchema, tmp);
  return {
    gen,
    path,
    tmp,
    file,
    site: file.utf8('site'),
    sensor: file.utf8('sensor'),
    node: file.utf8('node'),
    runId: file.utf8('run_id'),
    seq: file.int64('seq'),
    mode: file.utf8('mode'),
    zone: file.utf8('zone'),
    deviceId: file.utf8('device_id'),
    receivedAt: file.int64('received_at'),
    lastSeen: file.int64('last_seen'),
    record: file.utf8('record'),
  };
}

export class HistoryWriter {
  /** Observation files being written, by final path. */
  private readonly open = new Map<string, OpenFile>();

  constructor(private readonly dir: string) {}

  /** Appends one message's device records to its generation's file (opened on first use). */
  async observe(item: HistoryItem): Promise<number> {
    const payload = Buffer.from(item.payload.buffer, item.payload.byteOffset, item.payload.byteLength);
    const message = scanInventory(payload) ?? parsedInventory(payload);
    const path = join(
      this.dir,
      'observations',
      `site=${item.site}`,
      `date=${day(item.receivedAt)}`,
      `observations-${String(item.gen).padStart(12, '0')}.parquet`,
    );
    let file = this.open.get(path);
    if (!file) {
      // A file of this generation may exist from before a crash: it is rewritten from the replay.
      file = await openObservations(item.gen, path);
      this.open.set(path, file);
    }
    const count = message.devices.length;
    if (count === 0) return 0;
    // What every record of the message shares is encoded once and copied.
    file.site.repeat(item.site, count);
    file.sensor.repeat(item.sensor, count);
    file.node.repeat(item.node, count);
    file.runId.repeat(message.runId, count);
    file.seq.repeat(message.seq, count);
    file.mode.repeat(message.mode, count);
    file.zone.repeat(message.zone, count);
    file.receivedAt.repeat(item.receivedAt, count);
    for (const d of message.devices) {
      file.deviceId.push(d.id);
      file.lastSeen.push(d.lastSeenMs);
      // The record goes in as the sensor sent it (its bytes in the payload), not re-encoded.
      if ('record' in d) file.record.push(d.record);
      else file.record.pushBytes(payload, d.start, d.end);
    }
    await file.file.commit(count);
    return count;
  }

  /** Closes and renames into place the observation files of generations <= `gen`; returns how many. */
  async finish(gen: number): Promise<number> {
    let n = 0;
    for (const [path, file] of this.open) {
      if (file.gen > gen) continue;
      this.open.delete(path);
      await file.file.close();
      await renameIntoPlace(file.tmp, file.path);
      n++;
    }
    return n;
  }

  /** Drops unfinished files (their generations are replayed from the WAL after a restart). */
  async abandon(): Promise<void> {
    for (const file of this.open.values()) {
      await file.file.close().catch(() => undefined);
      await rm(file.tmp, { force: true });
    }
    this.open.clear();
  }

  /**
   * Retention: removes the date partitions (observations and inventory
   * snapshots, every site) of days before the one `before` falls on; returns
   * how many. Whole days go, as the partitions are laid out: a reader sees a
   * day entire or not at all.
   */
  async prune(before: number): Promise<number> {
    const cutoff = `date=${day(before)}`;
    let removed = 0;
    for (const kind of ['observations', 'inventory']) {
      for (const site of await entries(join(this.dir, kind))) {
        if (!site.startsWith('site=')) continue;
        for (const date of await entries(join(this.dir, kind, site))) {
          // date=YYYY-MM-DD sorts as its day does.
          if (!date.startsWith('date=') || date >= cutoff) continue;
          await rm(join(this.dir, kind, site, date), { recursive: true, force: true });
          removed++;
        }
      }
    }
    return removed;
  }

  /** One file per site: the merged inventory as it stands at generation `gen`. */
  async writeInventory(devices: Iterable<Device>, gen: number, at = Date.now()): Promise<void> {
    const bySite = new Map<string, Device[]>();
    for (const d of devices) {
      let list = bySite.get(d.site);
      if (!list) {
        list = [];
        bySite.set(d.site, list);
      }
      list.push(d);
    }
    for (const [site, list] of bySite) {
      const path = join(
        this.dir,
        'inventory',
        `site=${site}`,
        `date=${day(at)}`,
        `inventory-${String(gen).padStart(12, '0')}.parquet`,
      );
      await writeAtomically(inventorySchema, path, async (file) => {
        const c = {
          site: file.utf8('site'),
          zone: file.utf8('zone'),
          id: file.utf8('id'),
          deviceId: file.utf8('device_id'),
          macs: file.utf8('macs'),
          ipv4: file.utf8('ipv4'),
          sensors: file.utf8('sensors'),
          hostname: file.utf8('hostname'),
          vendor: file.utf8('vendor'),
          firstSeen: file.int64('first_seen'),
          lastSeen: file.int64('last_seen'),
          device: file.utf8('device'),
        };
        for (const d of list) {
          c.site.push(d.site);
          c.zone.push(d.zone);
          c.id.push(d.id);
          c.deviceId.push(d.deviceId);
          c.macs.list(d.macs);
          c.ipv4.list(d.ipv4);
          c.sensors.list(d.sensors);
          c.hostname.push(d.hostname?.value);
          c.vendor.push(d.vendor?.value);
          c.firstSeen.push(Date.parse(d.firstSeen));
          c.lastSeen.push(Date.parse(d.lastSeen));
          c.device.push(JSON.stringify(d));
          await file.commit(1);
        }
      });
    }
  }
}
