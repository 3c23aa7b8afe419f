// The Parquet history's upkeep, through the ingest core as the aggregator
// runs it: inventory snapshots at most once an interval (and at the first
// compaction and a clean stop), and date partitions past the retention
// removed at compaction, the observation log of the days kept untouched.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { topicFor } from '@hark/contracts/mqtt';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { HistoryWriter } from '../src/durability/history.js';
import { AlertStore, FleetRegistry, InventoryStore, openIngestCore } from '../src/index.js';
import { silentLogger } from '../src/log.js';
import { device, inventory } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'hark-history-upkeep-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DAY = 86_400_000;
const topic = topicFor('hark', { site: 'site-u', sensor: 's1', node: 'n1' }, 'inventory');

describe('history upkeep', () => {
  it('snapshots the inventory once an interval and at the stop, and removes the days past retention', async () => {
    const dataDir = join(work, 'data');
    const history = join(dataDir, 'history');
    // Forty days ago, and yesterday, as a previous run would have left them.
    const old = new HistoryWriter(history);
    for (const [gen, receivedAt] of [
      [1, Date.now() - 40 * DAY],
      [2, Date.now() - DAY],
    ] as const) {
      await old.observe({
        gen,
        site: 'site-u',
        sensor: 's1',
        node: 'n1',
        receivedAt,
        payload: inventory([device('02:00:00:00:00:99')]),
      });
    }
    await old.finish(2);
    const dayOf = (ms: number) => `date=${new Date(ms).toISOString().slice(0, 10)}`;
    const partitions = join(history, 'observations', 'site=site-u');
    expect(readdirSync(partitions).sort()).toEqual([dayOf(Date.now() - 40 * DAY), dayOf(Date.now() - DAY)]);

    const registry = new Registry();
    const inventoryStore = new InventoryStore();
    const core = openIngestCore({
      topicPrefix: 'hark',
      inventory: inventoryStore,
      fleet: new FleetRegistry({ staleAfterMs: 90_000 }),
      alerts: new AlertStore({ learningMs: 0, logger: silentLogger }),
      logger: silentLogger,
      registry,
      dataDir,
      compaction: { everyRecords: Number.MAX_SAFE_INTEGER, intervalMs: 2 ** 31 - 1 },
      history: { retentionDays: 30, snapshotIntervalMs: 3_600_000 },
    });
    const apply = (mac: string) =>
      new Promise<void>((resolve) => core.handler.receive(topic, inventory([device(mac)]), false, resolve));

    await apply('02:00:00:00:00:01');
    await core.compact(); // the first since start: a snapshot
    await apply('02:00:00:00:00:02');
    await core.compact(); // within the hour: none
    await apply('02:00:00:00:00:03');
    await core.close(); // the stop: a snapshot

    // The day forty days back is gone, yesterday's and today's are there.
    expect(readdirSync(partitions).sort()).toEqual([dayOf(Date.now() - DAY), dayOf(Date.now())]);
    const pruned = await registry.getSingleMetric('hark_aggregator_history_partitions_pruned_total')?.get();
    expect(pruned?.values[0]?.value).toBe(1);

    const snapshots = join(history, 'inventory', 'site=site-u', dayOf(Date.now()));
    expect(existsSync(snapshots)).toBe(true);
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      const files = (
        await connection.runAndReadAll(
          `select count(*)::INTEGER as devices from read_parquet('${snapshots}/*.parquet', filename = true)
           group by filename order by devices`,
        )
      ).getRowObjectsJS() as { devices: number }[];
      // Two snapshots, not three: the first compaction's (one device) and the stop's (all three).
      expect(files.map((f) => f.devices)).toEqual([1, 3]);
      const observations = (
        await connection.runAndReadAll(
          `select count(*)::INTEGER as n from read_parquet('${partitions}/*/*.parquet')`,
        )
      ).getRowObjectsJS() as { n: number }[];
      // Yesterday's one and today's three.
      expect(observations[0]!.n).toBe(4);
    } finally {
      connection.closeSync();
    }
  });

  it('compacts, and says so, when a partition past retention cannot be removed', async () => {
    const dataDir = join(work, 'stuck');
    // A "site" that is a file, not a directory: listing its days fails.
    mkdirSync(join(dataDir, 'history', 'observations'), { recursive: true });
    writeFileSync(join(dataDir, 'history', 'observations', 'site=stuck'), 'not a directory');
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const core = openIngestCore({
      topicPrefix: 'hark',
      inventory: new InventoryStore(),
      fleet: new FleetRegistry({ staleAfterMs: 90_000 }),
      alerts: new AlertStore({ learningMs: 0, logger: silentLogger }),
      logger,
      dataDir,
      compaction: { everyRecords: Number.MAX_SAFE_INTEGER, intervalMs: 2 ** 31 - 1 },
      history: { retentionDays: 30 },
    });
    await new Promise<void>((resolve) =>
      core.handler.receive(topic, inventory([device('02:00:00:00:00:05')]), false, resolve),
    );
    const logs = () => readdirSync(join(dataDir, 'wal')).filter((f) => f.startsWith('wal-'));
    const [compacted] = logs();
    expect(compacted).toBeDefined();
    await core.compact();
    // The compaction went through: the state file holds the device, the compacted WAL file is gone.
    expect(readFileSync(join(dataDir, 'wal', 'state.json'), 'utf8')).toContain('02:00:00:00:00:05');
    expect(logs()).not.toContain(compacted);
    expect(lines.map((l) => JSON.parse(l).msg)).toContain(
      'history retention: could not remove old partitions (tried again at the next compaction); check the data volume',
    );
    await core.close();
  });
});
