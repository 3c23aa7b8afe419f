// A faster ParquetShredder.shredRecord for flat schemas (required, optional
// and repeated primitive columns, no groups), which is all the history
// writes. @dsnp/parquetjs shreds every row generically: a fresh object, array
// and Set per column per row, then a copy into the row buffer. In the
// aggregator's benchmark that was a third of the history worker's time, and
// the worker a full core. This writes the same levels, values and distinct
// values straight into the row buffer; history.ts installs it, and
// flat-shredder.test.ts checks it yields what the library's own does, row for
// row, on both history schemas. Nested schemas still go to the original.
import parquet from '@dsnp/parquetjs';
// The library's value conversion (UTF8 to Buffer, timestamps to int64...): not re-implemented here.
import parquetTypes from '@dsnp/parquetjs/dist/lib/types.js';

type Schema = InstanceType<typeof parquet.ParquetSchema>;

interface Column {
  dlevels: number[];
  rlevels: number[];
  values: unknown[];
  distinct_values: Set<unknown>;
  count: number;
}

interface RowBuffer {
  rowCount?: number;
  pageRowCount?: number;
  columnData?: Record<string, Column>;
  pages?: Record<string, unknown[]>;
}

interface FlatField {
  name: string;
  path: string;
  type: string;
  repeated: boolean;
  required: boolean;
  dLevelMax: number;
  rLevelMax: number;
  /** False when the schema turns the column's statistics off: its distinct values are then never read. */
  statistics: boolean;
  // The library's field definition, passed back to its toPrimitive.
  field: unknown;
  /** The last string converted for this column and its bytes: most columns repeat within a message. */
  lastString: string | undefined;
  lastBytes: unknown;
}

type Shred = (schema: Schema, record: Record<string, unknown>, buffer: RowBuffer) => void;

const flatFields = new WeakMap<Schema, FlatField[] | null>();

/** The schema's columns when it is flat, else null (remembered per schema). */
function flat(schema: Schema): FlatField[] | null {
  let fields = flatFields.get(schema);
  if (fields !== undefined) return fields;
  fields = [];
  for (const f of schema.fieldList as unknown as Record<string, unknown>[]) {
    const path = f.path as string[];
    if (f.isNested || path.length !== 1) {
      fields = null;
      break;
    }
    fields.push({
      name: f.name as string,
      path: path.join(','),
      type: (f.originalType ?? f.primitiveType) as string,
      repeated: f.repetitionType === 'REPEATED',
      required: f.repetitionType === 'REQUIRED',
      dLevelMax: f.dLevelMax as number,
      rLevelMax: f.rLevelMax as number,
      statistics: f.statistics !== false,
      field: f,
      lastString: undefined,
      lastBytes: undefined,
    });
  }
  flatFields.set(schema, fields);
  return fields;
}

function emptyColumn(): Column {
  return { dlevels: [], rlevels: [], values: [], distinct_values: new Set(), count: 0 };
}

/** The library's checks of one column's value in a row, with its messages. */
function check(f: FlatField, v: unknown): void {
  const present = v !== undefined && v !== null;
  const n = !present ? 0 : Array.isArray(v) ? v.length : 1;
  if (n === 0 && f.required) throw new Error(`missing required field: ${f.name}`);
  if (n > 1 && !f.repeated) throw new Error(`too many values for field: ${f.name}`);
  if (present && !Array.isArray(v) && ArrayBuffer.isView(v) && !(v instanceof Uint8Array))
    throw new Error(`${Object.prototype.toString.call(v)} is not supported`);
}

/** The buffer's columns, made on the first row. */
function columnsOf(buffer: RowBuffer, fields: FlatField[]): Record<string, Column> {
  if (!buffer.columnData || buffer.rowCount === undefined) {
    buffer.rowCount = 0;
    buffer.pageRowCount = 0;
    buffer.columnData = {};
    buffer.pages = {};
    for (const f of fields) {
      buffer.columnData[f.path] = emptyColumn();
      buffer.pages[f.path] = [];
    }
  }
  return buffer.columnData;
}

/** One row's value of a column (checked already): absent, a single value, or a list. */
function shredField(f: FlatField, column: Column, value: unknown): void {
  let v = value;
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) {
    column.rlevels.push(0);
    column.dlevels.push(0);
    column.count += 1;
    return;
  }
  // A Uint8Array goes in as a Buffer (the library's thrift layer needs one).
  if (!Array.isArray(v) && v instanceof Uint8Array && !Buffer.isBuffer(v)) v = Buffer.from(v);
  // A single value is shredded as it is: no one-element array per field per row.
  if (!Array.isArray(v)) shredValue(f, column, v, 0);
  else for (let i = 0; i < v.length; i++) shredValue(f, column, v[i], i === 0 ? 0 : f.rLevelMax);
}

/** Wraps `original` (the library's shredRecord): flat schemas take the fast path. */
export function flatShredder(original: Shred): Shred {
  return (schema, record, buffer) => {
    const fields = flat(schema);
    if (!fields) return original(schema, record, buffer);
    // Validate the whole row before touching the buffer, as the library does.
    for (const f of fields) check(f, record[f.name]);
    const columns = columnsOf(buffer, fields);
    buffer.rowCount! += 1;
    buffer.pageRowCount = (buffer.pageRowCount ?? 0) + 1;
    for (const f of fields) shredField(f, columns[f.path]!, record[f.name]);
  };
}

/**
 * Rows that share most of their values, as one inventory message's device
 * records share their site, sensor, run, seq and time of receipt: `shared`
 * holds the values common to every row, `perRow` an array of `count` values
 * for each other column.
 */
export interface RowRun {
  shared: Record<string, unknown>;
  perRow: Record<string, readonly unknown[]>;
  count: number;
}

/**
 * Shreds a run of rows as `count` rows through flatShredder would, with each
 * shared value checked and converted once instead of once per row: the
 * history's rows are a message's records, and building, checking and
 * shredding a row object per record was a third of the history worker's
 * time. Every row is checked before the buffer is touched. The caller
 * (history.ts) then appends the run's last row through the writer, which
 * encodes pages and row groups when they are full.
 */
export function shredRun(schema: Schema, run: RowRun, rowBuffer: object): void {
  // The writer's rowBuffer, typed by the library as its generic shredder's.
  const buffer = rowBuffer as RowBuffer;
  const fields = flat(schema);
  if (!fields) throw new Error('shredRun needs a flat schema (primitive columns, no groups)');
  for (const f of fields) {
    const values = run.perRow[f.name];
    if (!values) check(f, run.shared[f.name]);
    else if (values.length !== run.count)
      throw new Error(`${values.length} values of ${f.name} for a run of ${run.count} rows`);
    else for (const v of values) check(f, v);
  }
  if (run.count === 0) return;
  const columns = columnsOf(buffer, fields);
  buffer.rowCount! += run.count;
  buffer.pageRowCount = (buffer.pageRowCount ?? 0) + run.count;
  for (const f of fields) {
    const column = columns[f.path]!;
    const values = run.perRow[f.name];
    if (values) {
      for (const v of values) shredField(f, column, v);
      continue;
    }
    // The shared value shredded once, then its levels and values repeated for every row.
    const once = emptyColumn();
    shredField(f, once, run.shared[f.name]);
    for (const v of once.distinct_values) column.distinct_values.add(v);
    if (once.count === 1) {
      // One value or one absence (not a list): the common case, without the inner loops.
      const value = once.values[0];
      const rlevel = once.rlevels[0]!;
      const dlevel = once.dlevels[0]!;
      const present = once.values.length === 1;
      for (let r = 0; r < run.count; r++) {
        if (present) column.values.push(value);
        column.rlevels.push(rlevel);
        column.dlevels.push(dlevel);
      }
    } else {
      for (let r = 0; r < run.count; r++) {
        for (const v of once.values) column.values.push(v);
        for (const l of once.rlevels) column.rlevels.push(l);
        for (const l of once.dlevels) column.dlevels.push(l);
      }
    }
    column.count += once.count * run.count;
  }
}

/** One value of a column: its distinct value (for statistics), its primitive, its levels. */
function shredValue(f: FlatField, column: Column, value: unknown, rlevel: number): void {
  if (f.statistics) column.distinct_values.add(value);
  let primitive: unknown;
  if (f.type === 'UTF8' && Buffer.isBuffer(value))
    primitive = value; // already its bytes
  else if (f.type === 'UTF8' && value === f.lastString) primitive = f.lastBytes;
  else {
    primitive = parquetTypes.toPrimitive(
      f.type,
      value,
      f.field as Parameters<typeof parquetTypes.toPrimitive>[2],
    );
    if (f.type === 'UTF8' && typeof value === 'string') {
      f.lastString = value;
      f.lastBytes = primitive;
    }
  }
  if (primitive !== undefined) column.values.push(primitive);
  column.rlevels.push(rlevel);
  column.dlevels.push(f.dLevelMax);
  column.count += 1;
}

/** The library's own shredRecord, as loaded (before installFlatShredder). */
export const libraryShredRecord: Shred = (parquet.ParquetShredder as unknown as { shredRecord: Shred })
  .shredRecord;

let installed = false;

/** Makes parquetjs's writers shred flat rows through flatShredder (once per process). */
export function installFlatShredder(): void {
  if (installed) return;
  const shredder = parquet.ParquetShredder as unknown as { shredRecord: Shred };
  shredder.shredRecord = flatShredder(libraryShredRecord);
  installed = true;
}
