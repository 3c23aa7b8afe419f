// A row group written page by page, for @dsnp/parquetjs. The library encodes
// a row group into one buffer by concatenation: a column chunk's pages into
// one buffer, that and the chunk's metadata into another, and each chunk onto
// the row group's body so far (Buffer.concat per column). The observation
// history's records were so copied three more times between their page and
// the file, and every copy was fresh external memory: V8 starts a full
// collection each time external memory grows by 64 MB, and that was half of
// the history worker's full collections in the mqtt-throughput bench.
// This computes the same metadata (the library's encodeColumnChunk and
// encodeRowGroup, whose statistics helpers are copied below as they are
// module-private) and writes the same bytes in the same order, one section
// per page and per chunk footer. row-group-writer.test.ts checks that files
// written through it are byte for byte the library's.
import parquet from '@dsnp/parquetjs';
import parquetThrift from '@dsnp/parquetjs/dist/gen-nodejs/parquet_types.js';
import parquetPlain from '@dsnp/parquetjs/dist/lib/codec/plain.js';
import parquetTypes from '@dsnp/parquetjs/dist/lib/types.js';
import parquetUtil from '@dsnp/parquetjs/dist/lib/util.js';

/** A page as encodePages leaves it in the row buffer. */
interface EncodedPage {
  page: Buffer;
  statistics: { min_value?: unknown; max_value?: unknown; null_count?: { valueOf(): number } };
  first_row_index: number;
  distinct_values: Set<unknown>;
  num_values: number;
}

interface Field {
  path: string[];
  isNested?: boolean;
  primitiveType: string;
  originalType?: string;
  compression: string;
  encoding: string;
  statistics?: boolean;
}

type Int64 = { valueOf(): number; setValue(v: number): void };
type Int64Class = new (v: number) => Int64;

interface EnvelopeWriter {
  schema: { fieldList: Field[] };
  offset: Int64;
  rowCount: Int64;
  rowGroups: unknown[];
  pageIndex?: boolean;
  writeSection(buf: Buffer): Promise<void>;
}

interface RowBuffer {
  rowCount: number;
  pages: Record<string, EncodedPage[]>;
}

type WriteRowGroup = (this: EnvelopeWriter, records: RowBuffer) => Promise<void>;

// biome-ignore lint/suspicious/noExplicitAny: the thrift classes are untyped JavaScript
const thrift = parquetThrift as any;
const serializeThrift = (parquetUtil as unknown as { serializeThrift(o: unknown): Buffer }).serializeThrift;
const toPrimitive = parquetTypes.toPrimitive as unknown as (
  type: string,
  value: unknown,
  field: unknown,
) => unknown;
const plainCodec = parquetPlain as unknown as {
  encodeValues: (t: string, v: unknown[], o: unknown) => Buffer;
};

// ---- the library's statistics helpers (writer.js), as they are -------------

function encodeStatisticsValue(value: unknown, column: Field): Buffer {
  if (value === undefined) return Buffer.alloc(0);
  let v: unknown = value;
  if (column.originalType) v = toPrimitive(column.originalType, v, column);
  // Through the codec object, as the library's encodeValues goes (plain-encoder.ts's, once installed).
  if (column.primitiveType !== 'BYTE_ARRAY') v = plainCodec.encodeValues(column.primitiveType, [v], column);
  return v as Buffer;
}

function encodeStatistics(statistics: Record<string, unknown>, column: Field): unknown {
  const s = { ...statistics };
  s.min_value = s.min_value === undefined ? null : encodeStatisticsValue(s.min_value, column);
  s.max_value = s.max_value === undefined ? null : encodeStatisticsValue(s.max_value, column);
  s.max = s.max_value;
  s.min = s.min_value;
  return new thrift.Statistics(s);
}

function compareStatistics(
  potential: unknown,
  statistics: { min_value?: unknown; max_value?: unknown },
): { min_value?: unknown; max_value?: unknown } {
  const result: { min_value?: unknown; max_value?: unknown } = {};
  if (potential instanceof Uint8Array) {
    if (statistics.max_value !== undefined && Buffer.compare(potential, statistics.max_value as Buffer) === 1)
      result.max_value = potential;
    if (statistics.min_value !== undefined && Buffer.compare(statistics.min_value as Buffer, potential) === 1)
      result.min_value = potential;
    return result;
  }
  // biome-ignore lint/suspicious/noExplicitAny: compared as the library compares them (>)
  const p = potential as any;
  if (statistics.max_value !== undefined && p > (statistics.max_value as typeof p))
    result.max_value = potential;
  if (statistics.min_value !== undefined && (statistics.min_value as typeof p) > p)
    result.min_value = potential;
  return result;
}

// ---- encodeColumnChunk, without its two concatenations ----------------------

/** The chunk's metadata and its serialized footer; its pages are written as they are. */
function columnChunk(
  Int64: Int64Class,
  pages: EncodedPage[],
  column: Field,
  baseOffset: number,
  pageIndex: boolean,
): { metadata: Record<string, unknown>; footer: Buffer; pagesLength: number } {
  let pagesLength = 0;
  let numValues = 0;
  for (const p of pages) {
    pagesLength += p.page.length;
    numValues += p.num_values;
  }
  let offset = baseOffset;
  const metadata = new thrift.ColumnMetaData();
  metadata.path_in_schema = column.path;
  metadata.num_values = new Int64(numValues);
  metadata.data_page_offset = new Int64(baseOffset);
  metadata.encodings = [];
  metadata.total_uncompressed_size = new Int64(pagesLength);
  metadata.total_compressed_size = new Int64(pagesLength);
  metadata.type = thrift.Type[column.primitiveType];
  metadata.codec = thrift.CompressionCodec[column.compression];
  const columnIndex = new thrift.ColumnIndex();
  columnIndex.null_pages = [];
  columnIndex.max_values = [];
  columnIndex.min_values = [];
  columnIndex.boundary_order = 0;
  const offsetIndex = new thrift.OffsetIndex();
  offsetIndex.page_locations = [];
  const statistics: Record<string, unknown> & { min_value?: unknown; max_value?: unknown } = {};
  const distinct = new Set<unknown>();
  const nullCount = new Int64(0);
  statistics.null_count = nullCount;
  statistics.distinct_count = new Int64(0);
  for (let i = 0; i < pages.length; i++) {
    const page = pages[i]!;
    if (column.statistics !== false) {
      if (i === 0) {
        statistics.max_value = page.statistics.max_value;
        statistics.min_value = page.statistics.min_value;
      } else {
        if (page.statistics.min_value !== undefined) {
          const { min_value } = compareStatistics(page.statistics.min_value, statistics);
          if (min_value !== undefined) statistics.min_value = min_value;
        }
        if (page.statistics.max_value !== undefined) {
          const { max_value } = compareStatistics(page.statistics.max_value, statistics);
          if (max_value !== undefined) statistics.max_value = max_value;
        }
      }
      nullCount.setValue(nullCount.valueOf() + (page.statistics.null_count?.valueOf() || 0));
      for (const v of page.distinct_values) distinct.add(v);
      columnIndex.null_pages.push(page.num_values === nullCount.valueOf());
      columnIndex.max_values.push(encodeStatisticsValue(page.statistics.max_value, column));
      columnIndex.min_values.push(encodeStatisticsValue(page.statistics.min_value, column));
    }
    const location = new thrift.PageLocation();
    location.offset = new Int64(offset);
    offset += page.page.length;
    location.compressed_page_size = page.page.length;
    location.first_row_index = new Int64(page.first_row_index);
    offsetIndex.page_locations.push(location);
  }
  if (pageIndex) metadata.offsetIndex = offsetIndex;
  if (column.statistics !== false) {
    statistics.distinct_count = new Int64(distinct.size);
    metadata.statistics = encodeStatistics(statistics, column);
    if (pageIndex) metadata.columnIndex = columnIndex;
  }
  metadata.encodings.push(thrift.Encoding.RLE);
  metadata.encodings.push(thrift.Encoding[column.encoding]);
  // The library serializes the metadata with its column and offset indexes still attached, as here.
  return { metadata, footer: serializeThrift(metadata), pagesLength };
}

/** Writes a row group as the library's writeRowGroup does, page by page instead of concatenated. */
const writeRowGroup: WriteRowGroup = async function (this: EnvelopeWriter, records: RowBuffer) {
  // The library's own Int64 class (node-int64), as its writer made these counters with.
  const Int64 = this.rowCount.constructor as Int64Class;
  const group = new thrift.RowGroup();
  group.num_rows = new Int64(records.rowCount);
  group.columns = [];
  group.total_byte_size = new Int64(0);
  const sections: Buffer[] = [];
  const start = this.offset.valueOf();
  let length = 0;
  for (const field of this.schema.fieldList) {
    if (field.isNested) continue;
    const pages = records.pages[field.path.join(',')]!;
    const chunk = columnChunk(Int64, pages, field, start + length, this.pageIndex ?? true);
    const bodyLength = chunk.pagesLength + chunk.footer.length;
    const columnChunkMeta = new thrift.ColumnChunk();
    columnChunkMeta.file_offset = new Int64(start + length + chunk.pagesLength);
    columnChunkMeta.meta_data = chunk.metadata;
    group.columns.push(columnChunkMeta);
    group.total_byte_size = new Int64(group.total_byte_size.valueOf() + bodyLength);
    for (const p of pages) sections.push(p.page);
    sections.push(chunk.footer);
    length += bodyLength;
  }
  this.rowCount.setValue(this.rowCount.valueOf() + records.rowCount);
  this.rowGroups.push(group);
  // Queued on the stream in order (each moves the offset as it is queued); done when all are written.
  await Promise.all(sections.map((section) => this.writeSection(section)));
};

type Prototype = { writeRowGroup: WriteRowGroup };
const prototype = (parquet.ParquetEnvelopeWriter as unknown as { prototype: Prototype }).prototype;

/** The library's own writeRowGroup, as loaded (before installRowGroupWriter). */
export const libraryWriteRowGroup: WriteRowGroup = prototype.writeRowGroup;
/** Ours. */
export const pageByPageWriteRowGroup: WriteRowGroup = writeRowGroup;

/** Makes parquetjs's writers write row groups page by page (once per process). */
export function installRowGroupWriter(): void {
  prototype.writeRowGroup = writeRowGroup;
}
