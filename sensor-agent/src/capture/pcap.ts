// Classic libpcap format (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html):
// a 24-byte file header, then records of a 16-byte header + captured bytes.
// The magic number tells the byte order of the writer and whether the
// sub-second field counts microseconds (0xa1b2c3d4) or nanoseconds (0xa1b23c4d).
import { u32be, u32le } from '../bytes.js';
import { type PipelineAddon, pipelineAddon } from '../native-addon.js';
import { ChunkAccumulator } from './accumulator.js';
import { CaptureFormatError } from './errors.js';
import type { FrameBatch } from './frames.js';
import type { CaptureParser } from './types.js';

export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;
/** Larger than any real snap length (tcpdump's maximum is 262144); a bigger record is corruption. */
const MAX_RECORD = 16 * 1024 * 1024;

export class PcapParser implements CaptureParser {
  readonly format = 'pcap' as const;
  private readonly acc = new ChunkAccumulator();
  private headerRead = false;
  private littleEndian = true;
  private nanoResolution = false;
  private linkType = 0;
  /** The pipeline addon's record scanner (native/pcap_records.c), and where it reports how far it got. */
  private readonly scanner: PipelineAddon | undefined;
  private readonly scanned = new Float64Array(3);

  /** `nativeScan`: walk records with the addon where it is built (see ReadCaptureOptions.nativeScan). */
  constructor(nativeScan = true) {
    this.scanner = nativeScan ? pipelineAddon().addon : undefined;
  }

  push(chunk: Buffer, out: FrameBatch): void {
    const acc = this.acc;
    acc.append(chunk);
    if (!this.headerRead) {
      const head = acc.peek(FILE_HEADER);
      if (!head) return;
      this.readFileHeader(head, acc.start);
      acc.consume(FILE_HEADER);
    }
    // Parse every complete record of the first chunk in place, and drop them
    // from the accumulator once at the end; a record that straddles two
    // chunks is joined alone once it is complete (see ChunkAccumulator), then
    // parsing goes on in place in the next chunk.
    const le = this.littleEndian;
    const linkType = this.linkType;
    const nano = this.nanoResolution;
    for (;;) {
      const head = acc.peek(RECORD_HEADER);
      if (!head) return;
      const firstLen = le ? head.readUInt32LE(acc.start + 8) : head.readUInt32BE(acc.start + 8);
      const buf = firstLen <= MAX_RECORD ? acc.peek(RECORD_HEADER + firstLen) : head;
      if (!buf) return;
      const base = acc.start;
      const held = buf.length;
      let off = base;
      try {
        if (this.scanner) {
          off = this.scan(this.scanner, buf, off, held, out);
          continue;
        }
        while (held - off >= RECORD_HEADER) {
          const sec = le ? u32le(buf, off) : u32be(buf, off);
          const frac = le ? u32le(buf, off + 4) : u32be(buf, off + 4);
          const inclLen = le ? u32le(buf, off + 8) : u32be(buf, off + 8);
          const origLen = le ? u32le(buf, off + 12) : u32be(buf, off + 12);
          if (inclLen > MAX_RECORD) {
            throw new CaptureFormatError(
              `pcap record claims ${inclLen} captured bytes; the file is corrupt`,
              acc.offset + (off - base),
            );
          }
          const total = RECORD_HEADER + inclLen;
          if (held - off < total) break;
          const nanos = nano ? frac : frac * 1000;
          out.push(buf, off + RECORD_HEADER, off + total, origLen, sec, nanos, linkType, 0);
          off += total;
        }
      } finally {
        if (off > base) acc.consume(off - base);
      }
    }
  }

  /**
   * The records lying whole in buf[off, end) into `out`, by the addon: the
   * same frames as the loop in push(), for a native call per chunk instead of
   * ~15 ns of JavaScript per record. Returns the offset after the last one.
   */
  private scan(scanner: PipelineAddon, buf: Buffer, off: number, end: number, out: FrameBatch): number {
    const state = this.scanned;
    for (;;) {
      out.reserve();
      const count = out.length;
      scanner.scanPcap(
        buf,
        off,
        end,
        this.littleEndian ? 1 : 0,
        this.nanoResolution ? 1 : 0,
        this.linkType,
        out.starts,
        out.ends,
        out.originalLengths,
        out.timestampsMs,
        out.seconds,
        out.nanos,
        out.linkTypes,
        out.interfaceIds,
        count,
        state,
      );
      out.appended(buf, state[1]!);
      off = state[0]!;
      const corrupt = state[2]!;
      if (corrupt >= 0) {
        const inclLen = this.littleEndian ? u32le(buf, corrupt + 8) : u32be(buf, corrupt + 8);
        throw new CaptureFormatError(
          `pcap record claims ${inclLen} captured bytes; the file is corrupt`,
          this.acc.offset + (corrupt - this.acc.start),
        );
      }
      // Stopped short of the columns' end: the bytes ran out, not the room.
      if (out.length < out.starts.length) return off;
    }
  }

  private readFileHeader(head: Buffer, at: number): void {
    const magicBE = head.readUInt32BE(at);
    const magicLE = head.readUInt32LE(at);
    if (magicBE === PCAP_MAGIC_MICRO || magicBE === PCAP_MAGIC_NANO) {
      this.littleEndian = false;
      this.nanoResolution = magicBE === PCAP_MAGIC_NANO;
    } else if (magicLE === PCAP_MAGIC_MICRO || magicLE === PCAP_MAGIC_NANO) {
      this.littleEndian = true;
      this.nanoResolution = magicLE === PCAP_MAGIC_NANO;
    } else {
      throw new CaptureFormatError(`not a pcap file (magic 0x${magicBE.toString(16)})`, this.acc.offset);
    }
    // The upper bits of the link-type field carry FCS information (draft §4); the type is the low 28 bits.
    const network = this.littleEndian ? head.readUInt32LE(at + 20) : head.readUInt32BE(at + 20);
    this.linkType = network & 0x0fffffff;
    this.headerRead = true;
  }

  holds(memory: ArrayBufferLike): boolean {
    return this.acc.holds(memory);
  }

  end(): void {
    if (!this.headerRead) {
      throw new CaptureFormatError(
        `capture ends inside the pcap file header (${this.acc.length} bytes)`,
        this.acc.offset,
      );
    }
    if (this.acc.length > 0) {
      throw new CaptureFormatError(
        `capture is truncated: ${this.acc.length} bytes of an incomplete pcap record`,
        this.acc.offset,
      );
    }
  }
}
