// The history's fast shredder must fill parquetjs's row buffer exactly as the
// library's own shredRecord does (DuckDB reading the files back is
// durability.test.ts): same levels, values, distinct values and counts, row
// after row, on both history schemas, and the same errors for bad rows.
import { describe, expect, it } from 'vitest';
import { flatShredder, libraryShredRecord, shredRun } from '../src/durability/flat-shredder.js';
import { inventorySchema, observationSchema } from '../src/durability/history.js';

const fast = flatShredder(libraryShredRecord);

function both(schema: typeof observationSchema, rows: Record<string, unknown>[]) {
  const a: Record<string, unknown> = {};
  const b: Record<string, unknown> = {};
  for (const row of rows) {
    libraryShredRecord(schema, row, a);
    fast(schema, row, b);
  }
  return { library: unreadDistinctsDropped(schema, a), fast: b };
}

/**
 * The writer reads a column's distinct values only for its statistics: where
 * the schema turns those off, ours keeps none and the library's are never read.
 */
function unreadDistinctsDropped(schema: typeof observationSchema, buffer: Record<string, unknown>) {
  const columns = (buffer as { columnData: Record<string, { distinct_values: Set<unknown> }> }).columnData;
  for (const field of schema.fieldList) {
    if ((field as { statistics?: boolean }).statistics === false) {
      const library = columns[field.path.join(',')]!;
      expect(library.distinct_values.size).toBeGreaterThan(0);
      library.distinct_values = new Set();
    }
  }
  return buffer;
}

describe('flat shredder', () => {
  it('shreds observation rows (optional zone present and absent) as the library does', () => {
    const rows = [0, 1, 2, 3].map((i) => ({
      site: 'site-a',
      sensor: `s${i % 2}`,
      node: 'edge-1',
      run_id: 'r1',
      seq: i + 1,
      mode: i === 0 ? 'snapshot' : 'delta',
      ...(i % 2 ? { zone: 'line-1' } : {}),
      device_id: `mac:02:00:00:00:00:0${i}`,
      received_at: new Date(1_700_000_000_000 + i),
      last_seen: new Date(1_700_000_000_500 + i),
      // The history passes records as slices of the payload (Buffers), or re-encoded (strings).
      record: i % 2 ? Buffer.from(JSON.stringify({ id: i })) : JSON.stringify({ id: i }),
    }));
    const { library, fast: ours } = both(observationSchema, rows);
    expect(ours).toEqual(library);
    expect((ours as { rowCount: number }).rowCount).toBe(4);
  });

  it('shreds inventory rows with empty, single and repeated lists as the library does', () => {
    const rows = [
      [],
      ['02:00:00:00:00:01'],
      ['02:00:00:00:00:02', '02:00:00:00:00:03', '02:00:00:00:00:04'],
    ].map((macs, i) => ({
      site: 'site-b',
      ...(i === 1 ? { zone: 'z' } : {}),
      id: `site-b~d${i}`,
      device_id: `d${i}`,
      macs,
      ipv4: i ? [`10.0.0.${i}`] : [],
      sensors: ['s1', 's2'].slice(0, i),
      ...(i === 2 ? { hostname: 'plc-7', vendor: 'Siemens' } : {}),
      first_seen: new Date(1_700_000_000_000),
      last_seen: new Date(1_700_000_000_000 + i),
      device: '{}',
    }));
    const { library, fast: ours } = both(inventorySchema, rows);
    expect(ours).toEqual(library);
  });

  it('shreds a run of rows sharing most values as the library shreds the rows one by one', () => {
    for (const zone of [undefined, 'line-1']) {
      const shared = {
        site: 'site-a',
        sensor: 's1',
        node: 'edge-1',
        run_id: 'r1',
        seq: 9,
        mode: 'delta',
        zone,
        received_at: 1_700_000_000_000,
      };
      const perRow = {
        device_id: ['mac:1', 'mac:2', 'mac:1'],
        last_seen: [1_700_000_000_100, 1_700_000_000_200, 1_700_000_000_100],
        record: [Buffer.from('{"id":"mac:1"}'), Buffer.from('{"id":"mac:2"}'), '{"id":"mac:1"}'],
      };
      const rows = [0, 1, 2].map((i) => ({
        ...shared,
        device_id: perRow.device_id[i],
        last_seen: perRow.last_seen[i],
        record: perRow.record[i],
      }));
      // One row before the run, so the run appends to a buffer already under way.
      const before = { ...rows[1]!, seq: 8 };
      const library: Record<string, unknown> = {};
      for (const row of [before, ...rows]) libraryShredRecord(observationSchema, row, library);
      const ours: Record<string, unknown> = {};
      fast(observationSchema, before, ours);
      shredRun(observationSchema, { shared, perRow, count: 3 }, ours);
      expect(ours).toEqual(unreadDistinctsDropped(observationSchema, library));
    }
    // The inventory schema's repeated columns, shared (a list) and per row.
    const shared = { site: 'site-b', macs: ['02:00:00:00:00:01', '02:00:00:00:00:02'], sensors: [] };
    const perRow = {
      id: ['site-b~a', 'site-b~b'],
      device_id: ['a', 'b'],
      ipv4: [['10.0.0.1'], []],
      first_seen: [new Date(0), new Date(1)],
      last_seen: [new Date(2), new Date(3)],
      device: ['{}', '{}'],
    };
    const library: Record<string, unknown> = {};
    for (const i of [0, 1]) {
      const row = Object.fromEntries(Object.entries(perRow).map(([k, v]) => [k, v[i]]));
      libraryShredRecord(inventorySchema, { ...shared, ...row }, library);
    }
    const ours: Record<string, unknown> = {};
    shredRun(inventorySchema, { shared, perRow, count: 2 }, ours);
    expect(ours).toEqual(unreadDistinctsDropped(inventorySchema, library));
  });

  it('refuses a run with a bad row before touching the buffer', () => {
    const shared = { site: 'a', sensor: 's', node: 'n', run_id: 'r', seq: 1, mode: 'delta', received_at: 0 };
    const ours: Record<string, unknown> = {};
    const perRow = { device_id: ['d1', 'd2'], last_seen: [0, 0], record: ['{}', '{}'] };
    shredRun(observationSchema, { shared, perRow, count: 2 }, ours);
    const untouched: Record<string, unknown> = {};
    shredRun(observationSchema, { shared, perRow, count: 2 }, untouched);
    expect(() =>
      shredRun(
        observationSchema,
        { shared, perRow: { ...perRow, device_id: ['d3', undefined as unknown as string] }, count: 2 },
        ours,
      ),
    ).toThrow('missing required field: device_id');
    expect(() =>
      shredRun(observationSchema, { shared: { ...shared, seq: [1, 2] }, perRow, count: 2 }, ours),
    ).toThrow('too many values for field: seq');
    expect(() => shredRun(observationSchema, { shared, perRow, count: 3 }, ours)).toThrow(
      '2 values of device_id for a run of 3 rows',
    );
    expect(ours).toEqual(untouched);
  });

  it('refuses what the library refuses, with its messages, and leaves the buffer as it was', () => {
    const good = {
      site: 'a',
      sensor: 's',
      node: 'n',
      run_id: 'r',
      seq: 1,
      mode: 'delta',
      device_id: 'd',
      received_at: new Date(0),
      last_seen: new Date(0),
      record: '{}',
    };
    const { site: _site, ...missing } = good;
    for (const bad of [missing, { ...good, seq: [1, 2] }]) {
      const a: Record<string, unknown> = {};
      const b: Record<string, unknown> = {};
      libraryShredRecord(observationSchema, good, a);
      fast(observationSchema, good, b);
      let libraryError = '';
      try {
        libraryShredRecord(observationSchema, bad, a);
      } catch (err) {
        libraryError = (err as Error).message;
      }
      expect(libraryError).not.toBe('');
      expect(() => fast(observationSchema, bad, b)).toThrow(libraryError);
      expect(b).toEqual(unreadDistinctsDropped(observationSchema, a));
    }
  });
});
