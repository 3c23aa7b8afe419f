// Captures are often kept and shared compressed (`capture.pcap.gz`,
// `.pcapng.zst`): Wireshark and tshark open them as they are, so hark does
// too. The compression is told by its magic number, as the capture format is,
// and the capture is decompressed as a stream, so memory stays bounded.
// Node's own zlib does both (zstd since Node 22.15/23.8).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { CaptureFormatError } from './errors.js';

export type Compression = 'gzip' | 'zstd';

/** RFC 1952 member header (ID1 ID2 CM=8, deflate): the only method gzip defines. */
const GZIP_MAGIC = [0x1f, 0x8b, 0x08];
/** RFC 8878 frame magic 0xFD2FB528, little-endian. */
const ZSTD_MAGIC = 0xfd2fb528;

/** The compression whose magic number `head` starts with, or undefined (at least 4 bytes are needed to tell). */
export function detectCompression(head: Buffer): Compression | undefined {
  if (head.length < 4) return undefined;
  if (head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1] && head[2] === GZIP_MAGIC[2]) return 'gzip';
  if (head.readUInt32LE(0) === ZSTD_MAGIC) return 'zstd';
  return undefined;
}

/**
 * The input's bytes, decompressed when they start with a gzip or zstd magic
 * number and passed through as they are otherwise. `onCompression` is told
 * which, once known. Damaged or cut-short compressed data ends the stream
 * with a CaptureFormatError naming how far into the compressed input it got.
 */
export async function* decompressed(
  input: AsyncIterable<Buffer>,
  onCompression?: (compression: Compression | undefined) => void,
): AsyncGenerator<Buffer> {
  const source = input[Symbol.asyncIterator]();
  try {
    yield* decompressing(source, onCompression);
  } finally {
    // Closes the input (a file) when the reader stops early, or the data is damaged.
    await source.return?.();
  }
}

async function* decompressing(
  source: AsyncIterator<Buffer>,
  onCompression?: (compression: Compression | undefined) => void,
): AsyncGenerator<Buffer> {
  const head: Buffer[] = [];
  let headLength = 0;
  while (headLength < 4) {
    const next = await source.next();
    if (next.done) break;
    head.push(next.value);
    headLength += next.value.length;
  }
  const compression = detectCompression(Buffer.concat(head, headLength));
  onCompression?.(compression);
  let consumed = 0;
  async function* rest(): AsyncGenerator<Buffer> {
    for (const chunk of head) {
      consumed += chunk.length;
      yield chunk;
    }
    for (;;) {
      const next = await source.next();
      if (next.done) return;
      consumed += next.value.length;
      yield next.value;
    }
  }
  if (!compression) {
    yield* rest();
    return;
  }
  const decompressor = compression === 'gzip' ? createGunzip() : createZstdDecompress();
  // The decompressor is read here while the pipeline writes into it; an error on either side ends both.
  const feeding = pipeline(Readable.from(rest(), { objectMode: false }), decompressor);
  feeding.catch(() => undefined); // reported through the read below
  try {
    for await (const chunk of decompressor) yield chunk as Buffer;
    await feeding;
  } catch (err) {
    // zlib's codes: Z_DATA_ERROR, Z_BUF_ERROR (cut short), ZSTD_error_*; anything else (a read error) is not the data's.
    const code = String((err as NodeJS.ErrnoException).code ?? '');
    if (!code.startsWith('Z_') && !code.startsWith('ZSTD_')) throw err;
    throw new CaptureFormatError(
      `the ${compression} compression of this capture is damaged or cut short (${(err as Error).message})`,
      consumed,
      'of the compressed file',
    );
  } finally {
    decompressor.destroy();
  }
}
