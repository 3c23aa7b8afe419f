// A device's history, read back from the Parquet observation log
// (history.ts) with DuckDB: every record a sensor reported for the device,
// newest first. DuckDB is the engine made for this: it prunes by the site's
// partition directory, reads only the device_id column to find the rows, and
// fetches their records after; parquetjs would decode every column of every
// row in JavaScript.
//
// It reads the finished files only, those of compacted generations (renamed
// into place atomically), so the log is at most one compaction interval
// behind the live inventory. DuckDB runs with one thread and a memory cap, as
// its queries share the machine with ingest.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { DeviceRecord } from '@hark/contracts/inventory';

export interface HistoryEntry {
  /** When the aggregator received the message (ISO 8601). */
  receivedAt: string;
  sensor: string;
  node: string;
  runId: string;
  seq: number;
  mode: string;
  /** The device record the sensor sent. */
  record: DeviceRecord;
}

export interface DeviceHistoryQuery {
  site: string;
  zone: string | undefined;
  deviceId: string;
  limit: number;
  offset: number;
}

/** Site names become directory names and a glob: only these characters reach one. */
const SAFE_SITE = /^[A-Za-z0-9_.-]+$/;

export class HistoryReader {
  private connection: Promise<DuckDBConnection> | undefined;
  private instance: DuckDBInstance | undefined;

  constructor(private readonly dir: string) {}

  /** The device's observations, newest first; empty when the history holds none yet. */
  async deviceHistory(q: DeviceHistoryQuery): Promise<HistoryEntry[]> {
    if (!SAFE_SITE.test(q.site)) return [];
    const siteDir = join(this.dir, 'observations', `site=${q.site}`);
    if (!existsSync(siteDir)) return [];
    const glob = join(siteDir, 'date=*', 'observations-*.parquet');
    const connection = await this.connect();
    const reader = await connection
      .runAndReadAll(
        `select strftime(received_at, '%Y-%m-%dT%H:%M:%S.%gZ') as received_at, sensor, node, run_id, seq::DOUBLE as seq, mode, record
       from read_parquet('${glob.replaceAll("'", "''")}')
       where device_id = $device and ${q.zone === undefined ? 'zone is null' : 'zone = $zone'}
       order by received_at desc, seq desc, sensor, node
       limit $limit offset $offset`,
        {
          device: q.deviceId,
          ...(q.zone === undefined ? {} : { zone: q.zone }),
          limit: q.limit,
          offset: q.offset,
        },
      )
      // Files are still being written (before the site's first compaction): no history yet.
      .catch((err: Error) => {
        if (err.message.includes('No files found')) return undefined;
        const first = err.message.split('\n')[0];
        // When DuckDB names a file, it is a file it could not read: say what that means and what to do.
        if (/file '[^']+'/i.test(first ?? ''))
          throw new Error(
            `cannot read the device's history: ${first}. A file of the Parquet history under ${siteDir} is damaged: move it aside (its rows leave the history; the live inventory is not affected)`,
          );
        throw new Error(`cannot read the device's history: ${first}`);
      });
    if (!reader) return [];
    return (reader.getRowObjects() as Record<string, unknown>[]).map((r) => ({
      receivedAt: String(r.received_at),
      sensor: String(r.sensor),
      node: String(r.node),
      runId: String(r.run_id),
      seq: Number(r.seq),
      mode: String(r.mode),
      record: JSON.parse(String(r.record)) as DeviceRecord,
    }));
  }

  /** Closes DuckDB (the connection, then the database), if a request ever opened it. */
  async close(): Promise<void> {
    const connection = await this.connection?.catch(() => undefined);
    this.connection = undefined;
    connection?.closeSync();
    this.instance?.closeSync();
    this.instance = undefined;
  }

  private connect(): Promise<DuckDBConnection> {
    // Loaded on the first history request: a platform without DuckDB's native binding still
    // runs the aggregator, and that request says why it cannot read the history.
    this.connection ??= import('@duckdb/node-api')
      .catch((err: Error) => {
        this.connection = undefined;
        throw new Error(`the history reader (DuckDB) cannot load on this platform: ${err.message}`);
      })
      .then(({ DuckDBInstance }) =>
        DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '256MB' }),
      )
      .then((instance) => {
        this.instance = instance;
        return instance.connect();
      });
    return this.connection;
  }
}
