// History in Parquet, partitioned the way DuckDB, Spark and Athena read hive
// partitions:
//   <dir>/observations/site=<site>/date=<YYYY-MM-DD>/observations-<gen>.parquet
//   <dir>/inventory/site=<site>/date=<YYYY-MM-DD>/inventory-<gen>.parquet
// Written at each journal compaction. Observation rows are grouped by the WAL
// generation their message was logged in, and a file's name carries that
// generation: after a crash, replaying a generation rewrites the same file
// with the same rows, so history neither loses nor doubles an observation.
// Every file is written to a temporary name, then renamed into place.
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import parquet from '@dsnp/parquetjs';
import type { Device } from '../inventory/store.js';

export interface ObservationRow {
  gen: number;
  site: string;
  sensor: string;
  node: string;
  runId: string;
  seq: number;
  mode: string;
  zone: string | undefined;
  deviceId: string;
  receivedAt: number;
  lastSeen: string;
  record: string;
}

const observationSchema = new parquet.ParquetSchema({
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
  record: { type: 'UTF8' },
});

const inventorySchema = new parquet.ParquetSchema({
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
  device: { type: 'UTF8' },
});

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

async function writeAtomically(
  schema: InstanceType<typeof parquet.ParquetSchema>,
  path: string,
  rows: Record<string, unknown>[],
): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp`;
  const writer = await parquet.ParquetWriter.openFile(schema, tmp);
  try {
    for (const row of rows) await writer.appendRow(row);
  } finally {
    await writer.close();
  }
  await rename(tmp, path).catch(async (err) => {
    await rm(tmp, { force: true });
    throw err;
  });
}

export class HistoryWriter {
  constructor(private readonly dir: string) {}

  async writeObservations(rows: ObservationRow[]): Promise<number> {
    const groups = new Map<string, ObservationRow[]>();
    for (const row of rows) {
      const key = join(
        'observations',
        `site=${row.site}`,
        `date=${day(row.receivedAt)}`,
        `observations-${String(row.gen).padStart(12, '0')}.parquet`,
      );
      let group = groups.get(key);
      if (!group) {
        group = [];
        groups.set(key, group);
      }
      group.push(row);
    }
    for (const [file, group] of groups) {
      await writeAtomically(
        observationSchema,
        join(this.dir, file),
        group.map((r) => ({
          site: r.site,
          sensor: r.sensor,
          node: r.node,
          run_id: r.runId,
          seq: r.seq,
          mode: r.mode,
          ...(r.zone !== undefined ? { zone: r.zone } : {}),
          device_id: r.deviceId,
          received_at: new Date(r.receivedAt),
          last_seen: new Date(Date.parse(r.lastSeen)),
          record: r.record,
        })),
      );
    }
    return groups.size;
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
