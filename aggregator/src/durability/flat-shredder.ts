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

/** Wraps `original` (the library's shredRecord): flat schemas take the fast path. */
export function flatShredder(original: Shred): Shred {
  return (schema, record, buffer) => {
    const fields = flat(schema);
    if (!fields) return original(schema, record, buffer);
    // Validate the whole row before touching the buffer, as the library does.
    for (const f of fields) {
      const v = record[f.name];
      const present = v !== undefined && v !== null;
      const n = !present ? 0 : Array.isArray(v) ? v.length : 1;
      if (n === 0 && f.required) throw new Error(`missing required field: ${f.name}`);
      if (n > 1 && !f.repeated) throw new Error(`too many values for field: ${f.name}`);
      if (present && !Array.isArray(v) && ArrayBuffer.isView(v) && !(v instanceof Uint8Array))
        throw new Error(`${Object.prototype.toString.call(v)} is not supported`);
    }
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
    buffer.rowCount += 1;
    buffer.pageRowCount = (buffer.pageRowCount ?? 0) + 1;
    const columns = buffer.columnData;
    for (const f of fields) {
      const column = columns[f.path]!;
      let v = record[f.name];
      if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) {
        column.rlevels.push(0);
        column.dlevels.push(0);
        column.count += 1;
        continue;
      }
      // A Uint8Array goes in as a Buffer (the library's thrift layer needs one).
      if (!Array.isArray(v) && v instanceof Uint8Array && !Buffer.isBuffer(v)) v = Buffer.from(v);
      // A single value is shredded as it is: no one-element array per field per row.
      if (!Array.isArray(v)) shredValue(f, column, v, 0);
      else for (let i = 0; i < v.length; i++) shredValue(f, column, v[i], i === 0 ? 0 : f.rLevelMax);
    }
  };
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
