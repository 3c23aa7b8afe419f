// A Parquet file of a flat schema written column by column: the history's
// writer (history.ts: the observation log and the inventory snapshots).
// Columns are UTF8 (required, optional or repeated) and INT64 or
// TIMESTAMP_MILLIS (required or optional).
//
// Why not @dsnp/parquetjs's ParquetWriter: it takes one row object at a time,
// shreds it into per-column arrays of converted values and levels, encodes
// those into pages, then concatenates pages into chunks. Even with its
// shredder, PLAIN encoder and row-group writer replaced by ours, the history
// worker spent ~8 µs per observation (the ingest-passes profile), and the
// worker was the largest consumer of the aggregator's CPU; written this way,
// ~5.5 µs, most of it reading the message and the collector. Here a column
// is a byte buffer its values are encoded into as they arrive (PLAIN); a run
// of equal values, as a message's site or seq for each of its records, is
// encoded once and copied; statistics are kept as values arrive; a record's
// bytes are copied once from the message and written from the column's
// buffer as they are (compressed, by default). A row group is written as each
// column's page header, levels and values, with no concatenation.
//
// The file's envelope (magic, footer, the schema's elements) is the library's
// ParquetEnvelopeWriter, and every header and metadata structure is its
// Thrift class, serialized by its serializer: only the page contents are
// ours. column-file.test.ts reads files back with DuckDB and with parquetjs.
import { fdatasync } from 'node:fs';
import { constants as zlibConstants, zstdCompressSync } from 'node:zlib';
import parquet from '@dsnp/parquetjs';
import parquetThrift from '@dsnp/parquetjs/dist/gen-nodejs/parquet_types.js';
import parquetUtil from '@dsnp/parquetjs/dist/lib/util.js';

type Schema = InstanceType<typeof parquet.ParquetSchema>;

interface SchemaField {
  name: string;
  path: string[];
  primitiveType?: string;
  originalType?: string;
  repetitionType: string;
  isNested?: boolean;
  statistics?: boolean;
}

type Int64 = { valueOf(): number; setValue(v: number): void };
type Int64Class = new (v: number) => Int64;

interface EnvelopeWriter {
  offset: Int64;
  rowCount: Int64;
  rowGroups: unknown[];
  writeHeader(): Promise<void>;
  writeSection(buf: Buffer): Promise<void>;
  writeFooter(userMetadata?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: the thrift classes are untyped JavaScript
const thrift = parquetThrift as any;
const util = parquetUtil as unknown as {
  serializeThrift(o: unknown): Buffer;
  osopen(path: string, opts?: unknown): Promise<NodeJS.WritableStream>;
};
const Envelope = parquet.ParquetEnvelopeWriter as unknown as {
  openStream(schema: Schema, stream: NodeJS.WritableStream, opts: object): Promise<EnvelopeWriter>;
};

/**
 * How pages' values are compressed. ZSTD, the default: the observation log's
 * records are JSON, 500-1000 bytes each, which Zstandard's fastest level
 * (Node's own zlib binding) shrinks ~10 times (the shared captures'
 * inventories) at ~0.35 µs a record, where 100k observations a second would
 * otherwise be 50-100 MB/s onto the disk.
 * DuckDB, Spark, Arrow, Trino and Athena read it; parquetjs's reader does
 * not, hence UNCOMPRESSED.
 */
export type Compression = 'ZSTD' | 'UNCOMPRESSED';

export interface ColumnFileOptions {
  compression?: Compression;
}

const ZSTD_FAST = { params: { [zlibConstants.ZSTD_c_compressionLevel]: 1 } };

/** A row group is written once it holds this many rows or this many bytes of values. */
const ROWS_PER_GROUP = 4096;
const BYTES_PER_GROUP = 4 * 1024 * 1024;
const MIN_CAPACITY = 16 * 1024;

/** A growable byte buffer a column's PLAIN values are encoded into. */
class ByteSink {
  buf = Buffer.allocUnsafeSlow(MIN_CAPACITY);
  length = 0;

  /** Room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  /**
   * The bytes so far, handed over to be written (never touched again); the
   * next buffer starts at about their size, so a steady stream of row groups
   * does not grow it by doubling each time.
   */
  take(): Buffer {
    const out = this.buf.subarray(0, this.length);
    this.buf = Buffer.allocUnsafeSlow(Math.max(MIN_CAPACITY, Math.ceil(this.length * 1.125)));
    this.length = 0;
    return out;
  }
}

/**
 * Parquet orders UTF8 statistics by their bytes; JavaScript compares strings
 * by UTF-16 code units, which agrees except where a surrogate (a code point
 * past U+FFFF) meets a unit at or above U+E000: mapped so that it does.
 */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

const TWO_32 = 4294967296;

function int64Bytes(v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32LE(v >>> 0, 0);
  b.writeInt32LE(Math.floor(v / TWO_32), 4);
  return b;
}

/** Levels (all 0 or 1 in a flat schema) as runs of (level, count). */
class LevelRuns {
  private runs: number[] = [];

  add(level: number, count: number): void {
    const n = this.runs.length;
    if (n > 0 && this.runs[n - 2] === level) this.runs[n - 1]! += count;
    else this.runs.push(level, count);
  }

  /** RLE-encoded at bit width 1, without a length prefix (a V2 page's levels). */
  encode(): Buffer {
    const out: number[] = [];
    for (let i = 0; i < this.runs.length; i += 2) {
      // A run's header is its length shifted left once (low bit 0: RLE), as a ULEB128 varint.
      let header = this.runs[i + 1]! * 2;
      while (header >= 0x80) {
        out.push((header & 0x7f) | 0x80);
        header = Math.floor(header / 0x80);
      }
      out.push(header, this.runs[i]!);
    }
    return Buffer.from(out);
  }
}

/**
 * One column of the row group being built: its values, levels and
 * statistics. A flat column's levels are at most 1: definition 1 where a
 * value is (0 for an absent value or an empty list), repetition 1 for a
 * list's second value on.
 */
abstract class Column {
  readonly values = new ByteSink();
  rows = 0;
  /** Level entries: a row's, or one per value of a list (an empty list has one). */
  entries = 0;
  nulls = 0;
  private definitions = new LevelRuns();
  private repetitions = new LevelRuns();
  readonly optional: boolean;
  readonly repeated: boolean;
  readonly statistics: boolean;

  constructor(readonly field: SchemaField) {
    this.optional = field.repetitionType === 'OPTIONAL';
    this.repeated = field.repetitionType === 'REPEATED';
    this.statistics = field.statistics !== false;
  }

  /** `count` rows of one value each. */
  protected present(count: number): void {
    if (this.repeated) throw new Error(`${this.field.name}: a repeated column takes lists`);
    this.rows += count;
    this.entries += count;
    if (this.optional) this.definitions.add(1, count);
  }

  /** `count` rows without a value (an empty list, for a repeated column). */
  protected absent(count: number): void {
    if (!this.optional && !this.repeated) throw new Error(`missing required field: ${this.field.name}`);
    this.rows += count;
    this.entries += count;
    this.nulls += count;
    this.definitions.add(0, count);
    if (this.repeated) this.repetitions.add(0, count);
  }

  /** One row of a repeated column with `count` (> 0) values. */
  protected listOf(count: number): void {
    if (!this.repeated) throw new Error(`${this.field.name}: not a repeated column`);
    this.rows += 1;
    this.entries += count;
    this.definitions.add(1, count);
    this.repetitions.add(0, 1);
    if (count > 1) this.repetitions.add(1, count - 1);
  }

  /** The encoded repetition and definition levels (empty where the column has none). */
  levels(): { repetition: Buffer | undefined; definition: Buffer | undefined } {
    return {
      repetition: this.repeated ? this.repetitions.encode() : undefined,
      definition: this.optional || this.repeated ? this.definitions.encode() : undefined,
    };
  }

  /** The min and max as Parquet's statistics hold them (PLAIN bytes), or undefined without values. */
  abstract bounds(): { min: Buffer; max: Buffer } | undefined;

  /** Starts the next row group. */
  reset(): Buffer {
    this.rows = 0;
    this.entries = 0;
    this.nulls = 0;
    this.definitions = new LevelRuns();
    this.repetitions = new LevelRuns();
    this.resetBounds();
    return this.values.take();
  }

  protected abstract resetBounds(): void;
}

class Utf8Column extends Column {
  private min: string | undefined;
  private max: string | undefined;

  /** The same string (or none) for `count` rows. */
  repeat(value: string | undefined, count: number): void {
    if (count === 0) return;
    if (value === undefined) {
      this.absent(count);
      return;
    }
    if (this.repeated) throw new Error(`${this.field.name}: a repeated column takes lists`);
    const start = this.values.length;
    const size = this.write(value);
    if (count > 1) {
      const sink = this.values;
      sink.reserve(size * (count - 1));
      // Copied in doubling blocks: log2(count) copies, not count.
      let done = 1;
      while (done < count) {
        const k = Math.min(done, count - done);
        sink.buf.copy(sink.buf, start + done * size, start, start + k * size);
        done += k;
      }
      sink.length = start + count * size;
    }
    this.present(count);
  }

  /** One row's string. */
  push(value: string | undefined): void {
    this.repeat(value, 1);
  }

  /** One row of a repeated column: its strings (none for an empty list). */
  list(values: readonly string[] | undefined): void {
    if (!this.repeated) throw new Error(`${this.field.name}: not a repeated column`);
    if (!values || values.length === 0) {
      this.absent(1);
      return;
    }
    for (const v of values) this.write(v);
    this.listOf(values.length);
  }

  /** Appends one string's PLAIN encoding (its length, its UTF-8) and notes it for the statistics. */
  private write(value: string): number {
    const sink = this.values;
    // At most three bytes of UTF-8 per UTF-16 unit.
    sink.reserve(4 + value.length * 3);
    const at = sink.length;
    const n = sink.buf.write(value, at + 4, 'utf8');
    sink.buf.writeUInt32LE(n, at);
    sink.length += 4 + n;
    this.see(value);
    return 4 + n;
  }

  /** One row's value: bytes of `source` (already UTF-8), copied. */
  pushBytes(source: Buffer, start: number, end: number): void {
    if (this.statistics) throw new Error(`${this.field.name}: statistics are kept of strings, not of bytes`);
    this.present(1);
    const sink = this.values;
    const n = end - start;
    sink.reserve(4 + n);
    sink.buf.writeUInt32LE(n, sink.length);
    // Buffer's copy takes the range itself: no view of the record made per row.
    source.copy(sink.buf, sink.length + 4, start, end);
    sink.length += 4 + n;
  }

  private see(value: string): void {
    if (!this.statistics) return;
    if (this.min === undefined || compareUtf8(value, this.min) < 0) this.min = value;
    if (this.max === undefined || compareUtf8(value, this.max) > 0) this.max = value;
  }

  bounds(): { min: Buffer; max: Buffer } | undefined {
    if (this.min === undefined || this.max === undefined) return undefined;
    return { min: Buffer.from(this.min), max: Buffer.from(this.max) };
  }

  protected resetBounds(): void {
    this.min = undefined;
    this.max = undefined;
  }
}

class Int64Column extends Column {
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;

  /** The same integer (or none) for `count` rows. */
  repeat(value: number | undefined, count: number): void {
    if (count === 0) return;
    if (value === undefined) {
      this.absent(count);
      return;
    }
    if (!Number.isSafeInteger(value))
      throw new Error(`${this.field.name}: ${value} is not an integer this writer can store exactly`);
    this.present(count);
    const sink = this.values;
    sink.reserve(8 * count);
    const low = value >>> 0;
    // Two's complement across both halves: ToUint32 takes the low word modulo 2^32, floor the high.
    const high = Math.floor(value / TWO_32);
    for (let i = 0; i < count; i++) {
      sink.buf.writeUInt32LE(low, sink.length);
      sink.buf.writeInt32LE(high, sink.length + 4);
      sink.length += 8;
    }
    if (this.statistics) {
      if (value < this.min) this.min = value;
      if (value > this.max) this.max = value;
    }
  }

  push(value: number | undefined): void {
    this.repeat(value, 1);
  }

  bounds(): { min: Buffer; max: Buffer } | undefined {
    if (this.min > this.max) return undefined;
    return { min: int64Bytes(this.min), max: int64Bytes(this.max) };
  }

  protected resetBounds(): void {
    this.min = Number.POSITIVE_INFINITY;
    this.max = Number.NEGATIVE_INFINITY;
  }
}

export type { Int64Column, Utf8Column };

type ColumnWriter = Utf8Column | Int64Column;

function columnFor(field: SchemaField): ColumnWriter {
  if (field.isNested || field.path.length !== 1)
    throw new Error(`${field.name}: only flat schemas (no groups) are written column by column`);
  if (field.primitiveType === 'BYTE_ARRAY' && field.originalType === 'UTF8') return new Utf8Column(field);
  if (
    field.repetitionType !== 'REPEATED' &&
    field.primitiveType === 'INT64' &&
    (field.originalType === undefined || field.originalType === 'TIMESTAMP_MILLIS')
  )
    return new Int64Column(field);
  throw new Error(`${field.name}: ${field.originalType ?? field.primitiveType} columns are not supported`);
}

function statisticsOf(column: Column, Int64: Int64Class): unknown {
  const s = new thrift.Statistics();
  const bounds = column.bounds();
  // Both the current fields and the deprecated ones, as the library writes them.
  s.min_value = s.min = bounds?.min ?? null;
  s.max_value = s.max = bounds?.max ?? null;
  s.null_count = new Int64(column.nulls);
  return s;
}

/**
 * A Parquet file written column by column: a batch of rows is appended to
 * each column (utf8() and int64() give them by name), then `commit(count)` counts them (and writes a
 * row group once it is full); `close()` writes the footer and fsyncs.
 */
export class ColumnFile {
  private readonly columns: Map<string, ColumnWriter>;
  private readonly ordered: ColumnWriter[];
  private rows = 0;
  private readonly Int64: Int64Class;

  private constructor(
    private readonly envelope: EnvelopeWriter,
    private readonly stream: NodeJS.WritableStream & { fd?: number },
    schema: Schema,
    private readonly compression: Compression,
  ) {
    this.ordered = (schema.fieldList as unknown as SchemaField[]).map(columnFor);
    this.columns = new Map(this.ordered.map((c) => [c.field.name, c]));
    // The library's own Int64 class (node-int64), as its envelope made its counters with.
    this.Int64 = envelope.rowCount.constructor as Int64Class;
  }

  static async open(schema: Schema, path: string, options: ColumnFileOptions = {}): Promise<ColumnFile> {
    const stream = await util.osopen(path);
    const envelope = await Envelope.openStream(schema, stream, {});
    await envelope.writeHeader();
    return new ColumnFile(envelope, stream, schema, options.compression ?? 'ZSTD');
  }

  /** The UTF8 column `name`. */
  utf8(name: string): Utf8Column {
    const c = this.columns.get(name);
    if (!(c instanceof Utf8Column)) throw new Error(`${name}: not a UTF8 column of this file`);
    return c;
  }

  /** The INT64 (or TIMESTAMP_MILLIS) column `name`. */
  int64(name: string): Int64Column {
    const c = this.columns.get(name);
    if (!(c instanceof Int64Column)) throw new Error(`${name}: not an INT64 column of this file`);
    return c;
  }

  /** Counts `count` rows appended to every column; writes a row group once one is full. */
  async commit(count: number): Promise<void> {
    this.rows += count;
    let bytes = 0;
    for (const c of this.ordered) {
      if (c.rows !== this.rows)
        throw new Error(`${c.field.name}: ${c.rows} values for ${this.rows} rows (a column was skipped)`);
      bytes += c.values.length;
    }
    if (this.rows >= ROWS_PER_GROUP || bytes >= BYTES_PER_GROUP) await this.writeRowGroup();
  }

  /** Writes what is left, the footer, fsyncs and closes the file. */
  async close(): Promise<void> {
    if (this.rows > 0) await this.writeRowGroup();
    await this.envelope.writeFooter({});
    const fd = this.stream.fd;
    if (typeof fd === 'number') {
      // Renamed into place after this, and the WAL's covered generations deleted: on disk first.
      await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    }
    await this.envelope.close();
  }

  private async writeRowGroup(): Promise<void> {
    const Int64 = this.Int64;
    const group = new thrift.RowGroup();
    group.num_rows = new Int64(this.rows);
    group.columns = [];
    const sections: Promise<void>[] = [];
    let total = 0;
    for (const column of this.ordered) {
      const { field } = column;
      const { repetition, definition } = column.levels();
      const { rows, entries, nulls } = column;
      const statistics = column.statistics ? statisticsOf(column, Int64) : undefined;
      const raw = column.reset();
      // A V2 page compresses its values only; its levels stay as they are.
      const values = this.compression === 'ZSTD' ? zstdCompressSync(raw, ZSTD_FAST) : raw;
      const levelsLength = (repetition?.length ?? 0) + (definition?.length ?? 0);
      const header = new thrift.PageHeader();
      header.type = thrift.PageType.DATA_PAGE_V2;
      header.uncompressed_page_size = levelsLength + raw.length;
      header.compressed_page_size = levelsLength + values.length;
      const v2 = new thrift.DataPageHeaderV2();
      v2.num_values = entries;
      v2.num_nulls = nulls;
      v2.num_rows = rows;
      v2.encoding = thrift.Encoding.PLAIN;
      v2.definition_levels_byte_length = definition?.length ?? 0;
      v2.repetition_levels_byte_length = repetition?.length ?? 0;
      v2.is_compressed = this.compression !== 'UNCOMPRESSED';
      if (statistics) v2.statistics = statistics;
      header.data_page_header_v2 = v2;
      const headerBytes = util.serializeThrift(header);
      const pageOffset = this.envelope.offset.valueOf();
      const pageLength = headerBytes.length + levelsLength + values.length;

      const metadata = new thrift.ColumnMetaData();
      metadata.type = thrift.Type[field.primitiveType!];
      metadata.encodings = [thrift.Encoding.RLE, thrift.Encoding.PLAIN];
      metadata.path_in_schema = field.path;
      metadata.codec = thrift.CompressionCodec[this.compression];
      metadata.num_values = new Int64(entries);
      metadata.total_uncompressed_size = new Int64(pageLength - values.length + raw.length);
      metadata.total_compressed_size = new Int64(pageLength);
      metadata.data_page_offset = new Int64(pageOffset);
      if (statistics) metadata.statistics = statistics;
      const metadataBytes = util.serializeThrift(metadata);

      const chunk = new thrift.ColumnChunk();
      // As the library does: the chunk's metadata also follows its pages, and file_offset points there.
      chunk.file_offset = new Int64(pageOffset + pageLength);
      chunk.meta_data = metadata;
      group.columns.push(chunk);
      total += pageLength + metadataBytes.length;
      // Queued on the stream in order (each moves the envelope's offset as it is queued).
      sections.push(this.envelope.writeSection(headerBytes));
      // A V2 page's repetition levels come first, then its definition levels, then its values.
      if (repetition) sections.push(this.envelope.writeSection(repetition));
      if (definition) sections.push(this.envelope.writeSection(definition));
      sections.push(this.envelope.writeSection(values));
      sections.push(this.envelope.writeSection(metadataBytes));
    }
    group.total_byte_size = new Int64(total);
    this.envelope.rowGroups.push(group);
    this.envelope.rowCount.setValue(this.envelope.rowCount.valueOf() + this.rows);
    this.rows = 0;
    await Promise.all(sections);
  }
}
