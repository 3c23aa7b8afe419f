// History in Parquet, partitioned the way DuckDB, Spark and Athena read hive
// partitions:
//   <dir>/observations/site=<site>/date=<YYYY-MM-DD>/observations-<gen>.parquet
//   <dir>/inventory/site=<site>/date=<YYYY-MM-DD>/inventory-<gen>.parquet
// Observation rows are grouped by the WAL generation their message was
// logged in, and a file's name carries that generation: after a crash,
// replaying a generation rewrites the same file with the same rows, so
// history neither loses nor doubles an observation. Every file is written to
// a temporary name, then renamed into place once its generation is compacted.
//
// This runs in the history worker (history-worker.ts), off the ingest
// thread: rows are appended to the open files of their generation as
// messages arrive (bounded memory: a row group per open file), and a
// compaction closes and renames the files of the covered generations, writes
// the inventory snapshot, and the journal's state file.
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import parquet from '@dsnp/parquetjs';
import type { Device } from '../inventory/store.js';
import { installFlatShredder, shredRun } from './flat-shredder.js';
import { type ScannedInventory, scanInventory } from './inventory-scan.js';
import { installPlainEncoder } from './plain-encoder.js';
import { installRowGroupWriter } from './row-group-writer.js';

installFlatShredder();
installPlainEncoder();
installRowGroupWriter();

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

type Writer = Awaited<ReturnType<typeof parquet.ParquetWriter.openFile>>;

async function openTmp(
  schema: InstanceType<typeof parquet.ParquetSchema>,
  path: string,
): Promise<{ writer: Writer; tmp: string }> {
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = `${path}.tmp`;
  return { writer: await parquet.ParquetWriter.openFile(schema, tmp), tmp };
}

async function closeAndRename(writer: Writer, tmp: string, path: string): Promise<void> {
  await writer.close();
  await rename(tmp, path).catch(async (err) => {
    await rm(tmp, { force: true });
    throw err;
  });
}

async function writeAtomically(
  schema: InstanceType<typeof parquet.ParquetSchema>,
  path: string,
  rows: Record<string, unknown>[],
): Promise<void> {
  const { writer, tmp } = await openTmp(schema, path);
  try {
    for (const row of rows) await writer.appendRow(row);
  } catch (err) {
    await writer.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await closeAndRename(writer, tmp, path);
}

interface OpenFile {
  gen: number;
  path: string;
  tmp: string;
  writer: Writer;
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
      file = { gen: item.gen, path, ...(await openTmp(observationSchema, path)) };
      this.open.set(path, file);
    }
    const count = message.devices.length;
    if (count === 0) return 0;
    const shared = {
      site: item.site,
      sensor: item.sensor,
      node: item.node,
      run_id: message.runId,
      seq: message.seq,
      mode: message.mode,
      zone: message.zone,
      received_at: item.receivedAt,
    };
    const deviceIds: string[] = [];
    const lastSeen: number[] = [];
    // The record goes in as the sensor sent it (a slice of the payload, not re-encoded).
    const records: (string | Buffer)[] = [];
    for (const d of message.devices) {
      deviceIds.push(d.id);
      lastSeen.push(d.lastSeenMs);
      records.push('record' in d ? d.record : payload.subarray(d.start, d.end));
    }
    // All rows but the last straight into the writer's row buffer; the last through appendRow,
    // which encodes the pages and the row group once they are full.
    const lastRow = {
      ...shared,
      device_id: deviceIds.pop(),
      last_seen: lastSeen.pop(),
      record: records.pop(),
    };
    shredRun(
      observationSchema,
      { shared, perRow: { device_id: deviceIds, last_seen: lastSeen, record: records }, count: count - 1 },
      file.writer.rowBuffer,
    );
    await file.writer.appendRow(lastRow);
    return count;
  }

  /** Closes and renames into place the observation files of generations <= `gen`; returns how many. */
  async finish(gen: number): Promise<number> {
    let n = 0;
    for (const [path, file] of this.open) {
      if (file.gen > gen) continue;
      this.open.delete(path);
      await closeAndRename(file.writer, file.tmp, file.path);
      n++;
    }
    return n;
  }

  /** Drops unfinished files (their generations are replayed from the WAL after a restart). */
  async abandon(): Promise<void> {
    for (const file of this.open.values()) {
      await file.writer.close().catch(() => undefined);
      await rm(file.tmp, { force: true });
    }
    this.open.clear();
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
      await writeAtomically(
        inventorySchema,
        join(
          this.dir,
          'inventory',
          `site=${site}`,
          `date=${day(at)}`,
          `inventory-${String(gen).padStart(12, '0')}.parquet`,
        ),
        list.map((d) => ({
          site: d.site,
          ...(d.zone !== undefined ? { zone: d.zone } : {}),
          id: d.id,
          device_id: d.deviceId,
          macs: d.macs,
          ipv4: d.ipv4,
          sensors: d.sensors,
          ...(d.hostname ? { hostname: d.hostname.value } : {}),
          ...(d.vendor ? { vendor: d.vendor.value } : {}),
          first_seen: new Date(Date.parse(d.firstSeen)),
          last_seen: new Date(Date.parse(d.lastSeen)),
          device: JSON.stringify(d),
        })),
      );
    }
  }
}
