// The observation history as DuckDB reads it back: a message the scanner
// reads and one it declines (an escaped key, left to JSON.parse) give the same
// rows: the envelope's fields, each device's id and lastSeen, and its record.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { HistoryWriter } from '../src/durability/history.js';
import { scanInventory } from '../src/durability/inventory-scan.js';

const work = mkdtempSync(join(tmpdir(), 'hark-history-writer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const devices = (n: number) =>
  [1, 2].map((i) => ({
    id: `mac:02:00:00:00:0${n}:0${i}`,
    macs: [`02:00:00:00:0${n}:0${i}`],
    lastSeen: `2026-01-0${n}T00:00:0${i}.000Z`,
    hostname: { value: `host "${n}.${i}" ✓`, confidence: 0.5, evidence: [] },
  }));

describe('history writer', () => {
  it('writes the same rows whether the scanner reads a message or JSON.parse does', async () => {
    const scanned = Buffer.from(
      JSON.stringify({
        schema: 1,
        kind: 'inventory',
        mode: 'delta',
        seq: 5,
        runId: 'run-a',
        devices: devices(1),
      }),
    );
    // "r\u0075nId" is runId to JSON.parse; the scanner declines it rather than guess.
    const parsed = Buffer.from(
      JSON.stringify({
        schema: 1,
        kind: 'inventory',
        mode: 'snapshot',
        seq: 6,
        runId: 'x',
        zone: 'z',
        devices: devices(2),
      }).replace('"runId":"x"', '"r\\u0075nId":"run-b"'),
    );
    expect(scanInventory(scanned)).toBeDefined();
    expect(scanInventory(parsed)).toBeUndefined();

    const writer = new HistoryWriter(work);
    const receivedAt = Date.UTC(2026, 0, 3);
    for (const payload of [scanned, parsed])
      expect(
        await writer.observe({ gen: 1, site: 'site-w', sensor: 's1', node: 'n1', receivedAt, payload }),
      ).toBe(2);
    expect(await writer.finish(1)).toBe(1);

    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    const reader = await connection.runAndReadAll(
      `select run_id, seq::INTEGER as seq, mode, zone, device_id, epoch_ms(last_seen)::DOUBLE as last_seen, record
       from read_parquet('${join(work, 'observations', 'site=site-w', '*', '*.parquet')}') order by seq, device_id`,
    );
    const rows = reader.getRowObjects() as Record<string, unknown>[];
    const expected = [
      ...devices(1).map((d) => ({ run_id: 'run-a', seq: 5, mode: 'delta', zone: null, d })),
      ...devices(2).map((d) => ({ run_id: 'run-b', seq: 6, mode: 'snapshot', zone: 'z', d })),
    ];
    expect(rows.map(({ record, ...r }) => ({ ...r, record: JSON.parse(String(record)) }))).toEqual(
      expected.map(({ d, ...r }) => ({
        ...r,
        device_id: d.id,
        last_seen: Date.parse(d.lastSeen),
        record: d,
      })),
    );
    connection.closeSync();
  });
});
