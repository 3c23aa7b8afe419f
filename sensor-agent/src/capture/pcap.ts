// Classic libpcap format (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html):
// a 24-byte file header, then records of a 16-byte header + captured bytes.
// The magic number tells the byte order of the writer and whether the
// sub-second field counts microseconds (0xa1b2c3d4) or nanoseconds (0xa1b23c4d).
import { ChunkAccumulator } from './accumulator.js';
import { CaptureFormatError } from './errors.js';
import type { CapturedPacket, CaptureParser } from './types.js';

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

  push(chunk: Buffer, out: CapturedPacket[]): void {
    const acc = this.acc;
    acc.append(chunk);
    if (!this.headerRead) {
      const head = acc.peek(FILE_HEADER);
      if (!head) return;
      this.readFileHeader(head);
      acc.consume(FILE_HEADER);
    }
    const le = this.littleEndian;
    for (;;) {
      const head = acc.peek(RECORD_HEADER);
      if (!head) return;
      const sec = le ? head.readUInt32LE(0) : head.readUInt32BE(0);
      const frac = le ? head.readUInt32LE(4) : head.readUInt32BE(4);
      const inclLen = le ? head.readUInt32LE(8) : head.readUInt32BE(8);
      const origLen = le ? head.readUInt32LE(12) : head.readUInt32BE(12);
      if (inclLen > MAX_RECORD) {
        throw new CaptureFormatError(
          `pcap record claims ${inclLen} captured bytes; the file is corrupt`,
          acc.offset,
        );
      }
      const total = RECORD_HEADER + inclLen;
      const rec = acc.peek(total);
      if (!rec) return;
      const nanos = this.nanoResolution ? frac : frac * 1000;
      out.push({
        timestampMs: sec * 1000 + nanos / 1e6,
        seconds: sec,
        nanos,
        linkType: this.linkType,
        interfaceId: 0,
        originalLength: origLen,
        data: rec.subarray(RECORD_HEADER, total),
      });
      acc.consume(total);
    }
  }

  private readFileHeader(head: Buffer): void {
    const magicBE = head.readUInt32BE(0);
    const magicLE = head.readUInt32LE(0);
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
    const network = this.littleEndian ? head.readUInt32LE(20) : head.readUInt32BE(20);
    this.linkType = network & 0x0fffffff;
    this.headerRead = true;
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
