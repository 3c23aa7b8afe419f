// The history's row group writer must write what @dsnp/parquetjs writes,
// byte for byte (DuckDB reading the files back is durability.test.ts and
// history-writer.test.ts): several row groups of several pages, on both
// history schemas, with optional, repeated and statistics-free columns.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parquet from '@dsnp/parquetjs';
import { afterAll, describe, expect, it } from 'vitest';
import { inventorySchema, observationSchema } from '../src/durability/history.js';
import { libraryWriteRowGroup, pageByPageWriteRowGroup } from '../src/durability/row-group-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'hark-row-groups-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const prototype = (parquet.ParquetEnvelopeWriter as unknown as { prototype: { writeRowGroup: unknown } })
  .prototype;

async function write(
  schema: typeof observationSchema,
  rows: Record<string, unknown>[],
  writeRowGroup: unknown,
  name: string,
): Promise<Buffer> {
  const installed = prototype.writeRowGroup;
  prototype.writeRowGroup = writeRowGroup;
  try {
    const path = join(dir, name);
    // Small groups and pages: several of each per file, and a last group that is not full.
    const writer = await parquet.ParquetWriter.openFile(schema, path, { rowGroupSize: 40, pageSize: 15 });
    for (const row of rows) await writer.appendRow(row);
    await writer.close();
    return readFileSync(path);
  } finally {
    prototype.writeRowGroup = installed;
  }
}

describe('row group writer', () => {
  it('writes observation files byte for byte as the library does', async () => {
    const rows = Array.from({ length: 137 }, (_, i) => ({
      site: i < 70 ? 'site-a' : 'site-b',
      sensor: `s${i % 3}`,
      node: 'edge-1',
      run_id: 'r1',
      seq: 1000 - i,
      mode: i % 5 ? 'delta' : 'snapshot',
      ...(i % 4 ? { zone: `line-${i % 2}` } : {}),
      device_id: `mac:02:00:00:00:00:${(i * 7) % 256}`,
      received_at: 1_700_000_000_000 + i,
      last_seen: 1_700_000_000_000 - i * 1000,
      record: Buffer.from(JSON.stringify({ id: i, pad: 'x'.repeat(i) })),
    }));
    const library = await write(
      observationSchema,
      rows,
      libraryWriteRowGroup,
      'observations-library.parquet',
    );
    const ours = await write(observationSchema, rows, pageByPageWriteRowGroup, 'observations-ours.parquet');
    expect(library.length).toBeGreaterThan(10_000);
    expect(ours.equals(library)).toBe(true);
  });

  it('writes inventory files (lists, absent values) byte for byte as the library does', async () => {
    const rows = Array.from({ length: 95 }, (_, i) => ({
      site: 'site-b',
      ...(i % 3 === 1 ? { zone: 'z' } : {}),
      id: `site-b~d${i}`,
      device_id: `d${i}`,
      macs: Array.from({ length: i % 3 }, (_, k) => `02:00:00:00:${k}:${i % 256}`),
      ipv4: i % 2 ? [`10.0.0.${i}`] : [],
      sensors: ['s1', 's2'].slice(0, i % 3),
      ...(i % 4 === 2 ? { hostname: `plc-${i}`, vendor: 'Siemens' } : {}),
      first_seen: new Date(1_700_000_000_000 + i),
      last_seen: new Date(1_700_000_500_000 - i),
      device: JSON.stringify({ i }),
    }));
    const library = await write(inventorySchema, rows, libraryWriteRowGroup, 'inventory-library.parquet');
    const ours = await write(inventorySchema, rows, pageByPageWriteRowGroup, 'inventory-ours.parquet');
    expect(ours.equals(library)).toBe(true);
  });
});
