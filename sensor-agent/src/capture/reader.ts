// Opens a capture from a file path, a Node Readable (e.g. `tcpdump -U -w -`
// stdout) or any async iterable of Buffers, identifies the format by its magic
// number (file extensions lie: see shared/pcaps/MANIFEST.md) and streams the
// packets. Files are read in chunks, so memory stays bounded for huge files.
// A gzip- or zstd-compressed capture is decompressed on the way (decompress.ts).
import { open } from 'node:fs/promises';
import { type Compression, decompressed } from './decompress.js';
import { CaptureFormatError } from './errors.js';
import { FrameBatch } from './frames.js';
import { PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PcapParser } from './pcap.js';
import { PCAPNG_SHB, PcapngParser } from './pcapng.js';
import type { CapturedPacket, CaptureFormat, CaptureParser } from './types.js';

export type CaptureSource = string | AsyncIterable<Buffer | string | Uint8Array>;

export interface ReadCaptureOptions {
  /** Read size for files; 1 MiB keeps syscalls few without holding much memory. */
  chunkSize?: number;
  /**
   * readCaptureBatches from a file: read into a few buffers used in turn
   * rather than a fresh one per read, so a batch's frames are valid only
   * until the next batch is asked for (copy what you keep). A fresh 1 MiB
   * buffer per read cost ~10% of the pipeline's time from a file (allocation
   * and the collections it brings on). readCapture never reuses.
   */
  reuseBuffers?: boolean;
  /**
   * Walk pcap records with the pipeline addon's scanner where it is built
   * (default true). The frames are the same either way; tests compare.
   */
  nativeScan?: boolean;
  /** Told the format once the magic number has been read. */
  onFormat?: (format: CaptureFormat) => void;
  /** Told the compression (undefined: none) once the first bytes have been read. */
  onCompression?: (compression: Compression | undefined) => void;
  signal?: AbortSignal;
}

/** Identifies a capture by its first four bytes, or returns undefined. */
export function detectFormat(head: Buffer): CaptureFormat | undefined {
  if (head.length < 4) return undefined;
  if (head.readUInt32LE(0) === PCAPNG_SHB) return 'pcapng';
  const be = head.readUInt32BE(0);
  const le = head.readUInt32LE(0);
  if (
    be === PCAP_MAGIC_MICRO ||
    be === PCAP_MAGIC_NANO ||
    le === PCAP_MAGIC_MICRO ||
    le === PCAP_MAGIC_NANO
  ) {
    return 'pcap';
  }
  return undefined;
}

export function createParser(
  format: CaptureFormat,
  options: Pick<ReadCaptureOptions, 'nativeScan'> = {},
): CaptureParser {
  return format === 'pcap' ? new PcapParser(options.nativeScan !== false) : new PcapngParser();
}

/**
 * Streams the packets of a capture. Throws CaptureFormatError (naming the byte
 * offset) when the data is not a capture, is corrupt, or ends mid-record; the
 * packets before the damage have been yielded by then.
 */
export async function* readCapture(
  source: CaptureSource,
  options: ReadCaptureOptions = {},
): AsyncGenerator<CapturedPacket> {
  // Its packets may be kept: the bytes they lie in must not be read into again.
  for await (const batch of readCaptureBatches(source, { ...options, reuseBuffers: false })) {
    for (let i = 0; i < batch.length; i++) yield batch.packet(i);
  }
}

/**
 * The same stream as readCapture, one FrameBatch per chunk read: the hot
 * consumers (replay, live capture, buildInventory) go through the batch
 * synchronously instead of paying an async-generator step per packet, which
 * costs more than parsing the packet, and read each frame in place (see
 * FrameBatch). The batch is reused: consume it before asking for the next
 * (and with `reuseBuffers`, so are the bytes its frames lie in).
 */
export async function* readCaptureBatches(
  source: CaptureSource,
  options: ReadCaptureOptions = {},
): AsyncGenerator<FrameBatch> {
  let parser: CaptureParser | undefined;
  let compression: Compression | undefined;
  const raw =
    typeof source === 'string'
      ? readFileChunks(
          source,
          options.chunkSize ?? DEFAULT_CHUNK,
          options.reuseBuffers === true,
          // The decompressor may still be reading a compressed chunk when the next is read: never reuse one.
          (memory) => compression !== undefined || (parser ? parser.holds(memory) : true),
        )
      : buffersOf(source);
  const input = decompressed(raw, (c) => {
    compression = c;
    options.onCompression?.(c);
  });
  try {
    yield* parsed(input, options, (p) => {
      parser = p;
    });
  } catch (err) {
    // The parser counts the bytes it was given: of a compressed file, the decompressed ones.
    if (compression && err instanceof CaptureFormatError && err.within === undefined)
      throw new CaptureFormatError(err.detail, err.offset, `of the ${compression}-decompressed capture`);
    throw err;
  }
}

/** Parses the capture's bytes into batches; `onParser` is given the parser once the format is known. */
async function* parsed(
  input: AsyncIterable<Buffer>,
  options: ReadCaptureOptions,
  onParser: (parser: CaptureParser) => void,
): AsyncGenerator<FrameBatch> {
  let parser: CaptureParser | undefined;
  const pending: Buffer[] = [];
  let pendingLength = 0;
  const out = new FrameBatch();
  for await (const chunk of input) {
    options.signal?.throwIfAborted();
    if (!parser) {
      pending.push(chunk);
      pendingLength += chunk.length;
      if (pendingLength < 4) continue;
      const head = Buffer.concat(pending, pendingLength);
      const format = detectFormat(head);
      if (!format) {
        throw new CaptureFormatError(
          `not a pcap or pcapng capture (magic 0x${head.readUInt32BE(0).toString(16)})`,
          0,
        );
      }
      options.onFormat?.(format);
      parser = createParser(format, options);
      onParser(parser);
      parser.push(head, out);
    } else {
      parser.push(chunk, out);
    }
    if (out.length > 0) yield out;
    out.clear();
  }
  if (!parser) throw new CaptureFormatError(`capture is too short to identify (${pendingLength} bytes)`, 0);
  parser.end();
}

const DEFAULT_CHUNK = 1 << 20;
/** Buffers in turn when reusing: the one being parsed, the one being read ahead, and one a straddling record may still hold. */
const READ_BUFFERS = 3;

/**
 * A file's bytes, one read ahead of the consumer. With `reuse`, reads go
 * into READ_BUFFERS buffers in turn, except one whose bytes the parser
 * still holds (`held`: part of a record longer than a chunk), which is set
 * aside for a fresh one.
 */
async function* readFileChunks(
  path: string,
  size: number,
  reuse: boolean,
  held: (memory: ArrayBufferLike) => boolean,
): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  const pool: Buffer[] = [];
  let turn = 0;
  const nextBuffer = (): Buffer => {
    if (!reuse) return Buffer.allocUnsafe(size);
    turn = (turn + 1) % READ_BUFFERS;
    let b = pool[turn];
    if (!b || held(b.buffer)) {
      b = Buffer.allocUnsafeSlow(size);
      pool[turn] = b;
    }
    return b;
  };
  let pending = file.read(nextBuffer(), 0, size, null);
  try {
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) return;
      // Read ahead while this chunk is parsed.
      pending = file.read(nextBuffer(), 0, size, null);
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await pending.catch(() => undefined);
    await file.close();
  }
}

async function* buffersOf(source: AsyncIterable<Buffer | string | Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of source) yield toBuffer(chunk);
}

function toBuffer(chunk: Buffer | string | Uint8Array): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'latin1');
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
