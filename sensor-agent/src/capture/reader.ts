// Opens a capture from a file path, a Node Readable (e.g. `tcpdump -U -w -`
// stdout) or any async iterable of Buffers, identifies the format by its magic
// number (file extensions lie: see shared/pcaps/MANIFEST.md) and streams the
// packets. Files are read in chunks, so memory stays bounded for huge files.
import { createReadStream } from 'node:fs';
import { CaptureFormatError } from './errors.js';
import { FrameBatch } from './frames.js';
import { PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PcapParser } from './pcap.js';
import { PCAPNG_SHB, PcapngParser } from './pcapng.js';
import type { CapturedPacket, CaptureFormat, CaptureParser } from './types.js';

export type CaptureSource = string | AsyncIterable<Buffer | string | Uint8Array>;

export interface ReadCaptureOptions {
  /** Read size for files; 1 MiB keeps syscalls few without holding much memory. */
  chunkSize?: number;
  /** Told the format once the magic number has been read. */
  onFormat?: (format: CaptureFormat) => void;
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

export function createParser(format: CaptureFormat): CaptureParser {
  return format === 'pcap' ? new PcapParser() : new PcapngParser();
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
  for await (const batch of readCaptureBatches(source, options)) {
    for (let i = 0; i < batch.length; i++) yield batch.packet(i);
  }
}

/**
 * The same stream as readCapture, one FrameBatch per chunk read: the hot
 * consumers (replay, live capture, buildInventory) go through the batch
 * synchronously instead of paying an async-generator step per packet, which
 * costs more than parsing the packet, and read each frame in place (see
 * FrameBatch). The batch is reused: consume it before asking for the next.
 */
export async function* readCaptureBatches(
  source: CaptureSource,
  options: ReadCaptureOptions = {},
): AsyncGenerator<FrameBatch> {
  const ownStream =
    typeof source === 'string'
      ? createReadStream(source, { highWaterMark: options.chunkSize ?? 1 << 20 })
      : undefined;
  const input = ownStream ?? (source as AsyncIterable<Buffer | string | Uint8Array>);
  let parser: CaptureParser | undefined;
  const pending: Buffer[] = [];
  let pendingLength = 0;
  const out = new FrameBatch();
  try {
    for await (const raw of input) {
      options.signal?.throwIfAborted();
      const chunk = toBuffer(raw);
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
        parser = createParser(format);
        parser.push(head, out);
      } else {
        parser.push(chunk, out);
      }
      if (out.length > 0) yield out;
      out.clear();
    }
  } finally {
    ownStream?.destroy();
  }
  if (!parser) throw new CaptureFormatError(`capture is too short to identify (${pendingLength} bytes)`, 0);
  parser.end();
}

function toBuffer(chunk: Buffer | string | Uint8Array): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'latin1');
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
