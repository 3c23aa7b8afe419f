// pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html):
// a sequence of blocks {type u32, total length u32, body, total length u32}.
// Each Section Header Block sets the byte order for the blocks after it and
// resets the interface list; each Interface Description Block declares a link
// type and a timestamp resolution (if_tsresol) for the packets that name it.
// Blocks hark does not need (statistics, name resolution, custom...) are skipped.
import { ChunkAccumulator } from './accumulator.js';
import { CaptureFormatError } from './errors.js';
import type { FrameBatch } from './frames.js';
import type { CaptureParser } from './types.js';

export const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const IDB = 1;
const PB_OBSOLETE = 2;
const SPB = 3;
const EPB = 6;
const MAX_BLOCK = 64 * 1024 * 1024;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const TWO_32 = 0x1_0000_0000;
/** Below this high word a 64-bit timestamp is < 2^53 and plain number arithmetic is exact. */
const EXACT_HIGH_LIMIT = 0x20_0000;

interface Interface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second (10^6 unless if_tsresol says otherwise). */
  unitsPerSecond: number;
  offsetSeconds: number;
}

export class PcapngParser implements CaptureParser {
  readonly format = 'pcapng' as const;
  private readonly acc = new ChunkAccumulator();
  private le = true;
  private sawSection = false;
  private interfaces: Interface[] = [];

  push(chunk: Buffer, out: FrameBatch): void {
    const acc = this.acc;
    acc.append(chunk);
    for (;;) {
      const head = acc.peek(12);
      if (!head) return;
      const h = acc.start;
      let type = head.readUInt32LE(h); // the SHB type is a palindrome: either order reads the same
      if (type === PCAPNG_SHB) {
        const bom = head.readUInt32LE(h + 8);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else
          throw new CaptureFormatError(
            `pcapng section header has a bad byte-order magic 0x${bom.toString(16)}`,
            acc.offset,
          );
      } else if (!this.sawSection) {
        throw new CaptureFormatError('pcapng data does not start with a section header block', acc.offset);
      }
      const le = this.le;
      if (!le) type = head.readUInt32BE(h);
      const total = le ? head.readUInt32LE(h + 4) : head.readUInt32BE(h + 4);
      if (total < 12 || total % 4 !== 0 || total > MAX_BLOCK) {
        throw new CaptureFormatError(
          `pcapng block of type 0x${type.toString(16)} has an invalid length ${total}`,
          acc.offset,
        );
      }
      const block = acc.peek(total);
      if (!block) return;
      const base = acc.start;
      const trailer = rd32(block, base + total - 4, le);
      if (trailer !== total) {
        throw new CaptureFormatError(
          `pcapng block length ${total} does not match its trailer ${trailer}`,
          acc.offset,
        );
      }
      this.readBlock(type, block, base, total, out);
      acc.consume(total);
    }
  }

  private readBlock(type: number, b: Buffer, base: number, total: number, out: FrameBatch): void {
    const le = this.le;
    switch (type) {
      case PCAPNG_SHB:
        this.sawSection = true;
        this.interfaces = [];
        return;
      case IDB: {
        if (total < 20) throw new CaptureFormatError('pcapng interface block is too short', this.acc.offset);
        const iface: Interface = {
          linkType: rd16(b, base + 8, le),
          snapLen: rd32(b, base + 12, le),
          unitsPerSecond: 1e6,
          offsetSeconds: 0,
        };
        this.readInterfaceOptions(b, base + 16, base + total - 4, iface);
        this.interfaces.push(iface);
        return;
      }
      case EPB:
      case PB_OBSOLETE: {
        if (total < 32) throw new CaptureFormatError('pcapng packet block is too short', this.acc.offset);
        const ifaceId = type === EPB ? rd32(b, base + 8, le) : rd16(b, base + 8, le);
        const capLen = rd32(b, base + 20, le);
        if (28 + capLen > total - 4) {
          throw new CaptureFormatError(
            `pcapng packet block claims ${capLen} bytes beyond its length`,
            this.acc.offset,
          );
        }
        const iface = this.iface(ifaceId);
        this.emit(
          out,
          iface,
          ifaceId,
          rd32(b, base + 12, le),
          rd32(b, base + 16, le),
          rd32(b, base + 24, le),
          b,
          base + 28,
          base + 28 + capLen,
        );
        return;
      }
      case SPB: {
        if (total < 16)
          throw new CaptureFormatError('pcapng simple packet block is too short', this.acc.offset);
        const iface = this.iface(0);
        const origLen = rd32(b, base + 8, le);
        let capLen = Math.min(origLen, total - 16);
        if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
        // A simple packet block has no timestamp: report the epoch rather than invent one.
        out.push(b, base + 12, base + 12 + capLen, origLen, 0, 0, iface.linkType, 0);
        return;
      }
      default:
        return; // statistics, name resolution, decryption secrets, custom: not needed for discovery
    }
  }

  private iface(id: number): Interface {
    const iface = this.interfaces[id];
    if (!iface)
      throw new CaptureFormatError(`pcapng packet names undeclared interface ${id}`, this.acc.offset);
    return iface;
  }

  private readInterfaceOptions(b: Buffer, from: number, to: number, iface: Interface): void {
    const le = this.le;
    let o = from;
    while (o + 4 <= to) {
      const code = rd16(b, o, le);
      const len = rd16(b, o + 2, le);
      const value = o + 4;
      if (code === 0 || value + len > to) return; // opt_endofopt, or a malformed option list: keep what we have
      if (code === OPT_IF_TSRESOL && len >= 1) {
        const r = b[value]!;
        iface.unitsPerSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
      } else if (code === OPT_IF_TSOFFSET && len >= 8) {
        const big = le ? b.readBigInt64LE(value) : b.readBigInt64BE(value);
        iface.offsetSeconds = Number(big);
      }
      o = value + ((len + 3) & ~3);
    }
  }

  private emit(
    out: FrameBatch,
    iface: Interface,
    interfaceId: number,
    high: number,
    low: number,
    originalLength: number,
    b: Buffer,
    start: number,
    end: number,
  ): void {
    const units = iface.unitsPerSecond;
    let seconds: number;
    let nanos: number;
    if (high < EXACT_HIGH_LIMIT) {
      const v = high * TWO_32 + low;
      seconds = Math.floor(v / units);
      nanos = Math.round(((v - seconds * units) * 1e9) / units);
    } else {
      const v = (BigInt(high) << 32n) | BigInt(low);
      const u = BigInt(units);
      seconds = Number(v / u);
      nanos = Number(((v % u) * 1_000_000_000n) / u);
    }
    seconds += iface.offsetSeconds;
    out.push(b, start, end, originalLength, seconds, nanos, iface.linkType, interfaceId);
  }

  holds(memory: ArrayBufferLike): boolean {
    return this.acc.holds(memory);
  }

  end(): void {
    if (!this.sawSection && this.acc.length === 0) {
      throw new CaptureFormatError('empty pcapng stream', this.acc.offset);
    }
    if (this.acc.length > 0) {
      throw new CaptureFormatError(
        `capture is truncated: ${this.acc.length} bytes of an incomplete pcapng block`,
        this.acc.offset,
      );
    }
  }
}

function rd32(b: Buffer, o: number, le: boolean): number {
  return le ? b.readUInt32LE(o) : b.readUInt32BE(o);
}

function rd16(b: Buffer, o: number, le: boolean): number {
  return le ? b.readUInt16LE(o) : b.readUInt16BE(o);
}
