// The column-by-column Parquet writer, read back by two readers that share
// none of its code: DuckDB (rows, and each row group's statistics as its
// metadata holds them) and parquetjs's own reader.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parquet from '@dsnp/parquetjs';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { ColumnFile, type ColumnFileOptions } from '../src/durability/column-file.js';

const work = mkdtempSync(join(tmpdir(), 'hark-column-file-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const schema = new parquet.ParquetSchema({
  name: { type: 'UTF8' },
  note: { type: 'UTF8', optional: true },
  tags: { type: 'UTF8', repeated: true },
  count: { type: 'INT64' },
  at: { type: 'TIMESTAMP_MILLIS', optional: true },
  blob: { type: 'UTF8', statistics: false },
});

interface Row {
  name: string;
  note: string | undefined;
  tags: string[];
  count: number;
  at: number | undefined;
  blob: string;
}

// Strings whose UTF-16 order is not their UTF-8 order: an emoji (a surrogate pair) sorts before
// U+FFFD in JavaScript and after it in bytes, as Parquet orders UTF8.
const names = ['plc-1', 'Ünïcode', '😀 face', '\uFFFD', '', 'z', 'a\u0000b', '\uE000'];

function rowAt(i: number): Row {
  return {
    name: names[i % names.length]!,
    note: i % 3 === 0 ? undefined : `note ${i % 7}`,
    tags: Array.from({ length: i % 4 }, (_, k) => `t${(i + k) % 5}`),
    count: [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 4294967296, -4294967297, i][i % 7]!,
    at: i % 5 === 0 ? undefined : Date.UTC(2026, 0, 1) + i * 1000,
    blob: JSON.stringify({ i, text: 'x'.repeat(i % 50) }),
  };
}

async function write(
  path: string,
  rows: Row[],
  perCommit: number,
  options?: ColumnFileOptions,
): Promise<void> {
  const file = await ColumnFile.open(schema, path, options);
  const name = file.utf8('name');
  const note = file.utf8('note');
  const tags = file.utf8('tags');
  const count = file.int64('count');
  const at = file.int64('at');
  const blob = file.utf8('blob');
  for (let i = 0; i < rows.length; i += perCommit) {
    const batch = rows.slice(i, i + perCommit);
    for (const r of batch) {
      name.push(r.name);
      note.push(r.note);
      tags.list(r.tags);
      count.push(r.count);
      at.push(r.at);
      const bytes = Buffer.from(`  ${r.blob}  `);
      blob.pushBytes(bytes, 2, bytes.length - 2);
    }
    await file.commit(batch.length);
  }
  await file.close();
}

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('column file', () => {
  // More rows than a row group holds (4096), so the file has several.
  const rows = Array.from({ length: 9000 }, (_, i) => rowAt(i));
  const path = join(work, 'rows.parquet');

  it('writes rows DuckDB reads back as they were, in several row groups with their statistics', async () => {
    await write(path, rows, 100);
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      const read = await connection.runAndReadAll(
        `select name, note, tags, count::DOUBLE as count, epoch_ms("at")::DOUBLE as "at", blob from read_parquet('${path}')`,
      );
      const got = (read.getRowObjectsJS() as Record<string, unknown>[]).map((r) => ({
        ...r,
        tags: (r.tags as string[] | null) ?? [],
        note: r.note ?? undefined,
        at: r.at ?? undefined,
      }));
      expect(got).toEqual(rows);

      const groups = (
        await connection.runAndReadAll(
          `select row_group_id::INTEGER as g, path_in_schema as col, row_group_num_rows::INTEGER as n,
             stats_min_value as min, stats_max_value as max, stats_null_count::INTEGER as nulls, compression
           from parquet_metadata('${path}') order by g, column_id`,
        )
      ).getRowObjectsJS() as {
        g: number;
        col: string;
        n: number;
        min: string;
        max: string;
        nulls: number;
        compression: string;
      }[];
      // Zstandard by default, the records' column included.
      expect([...new Set(groups.map((r) => r.compression))]).toEqual(['ZSTD']);
      const sizes = [...new Set(groups.map((r) => `${r.g}:${r.n}`))];
      expect(sizes).toEqual(['0:4100', '1:4100', '2:800']);
      let first = 0;
      for (const g of [0, 1, 2]) {
        const slice = rows.slice(first, first + groups.find((r) => r.g === g)!.n);
        first += slice.length;
        const stat = (col: string) => groups.find((r) => r.g === g && r.col === col)!;
        const sortedNames = slice.map((r) => r.name).sort(utf8Order);
        expect([stat('name').min, stat('name').max]).toEqual([sortedNames[0], sortedNames.at(-1)]);
        expect(stat('note').nulls).toBe(slice.filter((r) => r.note === undefined).length);
        expect(stat('tags').nulls).toBe(slice.filter((r) => r.tags.length === 0).length);
        const counts = slice.map((r) => r.count);
        expect([Number(stat('count').min), Number(stat('count').max)]).toEqual([
          Math.min(...counts),
          Math.max(...counts),
        ]);
        expect(stat('blob').min).toBeNull();
      }
    } finally {
      connection.closeSync();
    }
  });

  it('writes rows parquetjs reads back as they were, uncompressed (its reader has no Zstandard)', async () => {
    const plain = join(work, 'plain.parquet');
    await write(plain, rows, 100, { compression: 'UNCOMPRESSED' });
    const reader = await parquet.ParquetReader.openFile(plain);
    const cursor = reader.getCursor();
    const got: Row[] = [];
    for (
      let r = (await cursor.next()) as Record<string, unknown> | null;
      r;
      r = (await cursor.next()) as Record<string, unknown> | null
    ) {
      got.push({
        name: r.name as string,
        note: (r.note as string | undefined) ?? undefined,
        tags: (r.tags as string[] | undefined) ?? [],
        count: Number(r.count),
        at: r.at == null ? undefined : (r.at as Date).getTime(),
        blob: r.blob as string,
      });
    }
    await reader.close();
    expect(got).toEqual(rows);
  });

  it('refuses rows that break the schema before they reach the file', async () => {
    const file = await ColumnFile.open(schema, join(work, 'refused.parquet'));
    expect(() => file.utf8('name').push(undefined)).toThrow('missing required field: name');
    expect(() => file.utf8('name').list(['a'])).toThrow('name: not a repeated column');
    expect(() => file.utf8('tags').push('a')).toThrow('tags: a repeated column takes lists');
    expect(() => file.int64('count').push(2 ** 53)).toThrow('not an integer this writer can store exactly');
    expect(() => file.int64('name')).toThrow('name: not an INT64 column');
    expect(() => file.utf8('name').pushBytes(Buffer.from('x'), 0, 1)).toThrow(
      'statistics are kept of strings',
    );
    // A row given to some columns and not to others is a mistake of the caller's, not a short row.
    file.utf8('name').push('only this');
    await expect(file.commit(1)).rejects.toThrow('note: 0 values for 1 rows');
  });
});
