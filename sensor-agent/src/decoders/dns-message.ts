// A DNS message (RFC 1035 §4.1, with RFC 6762's mDNS use of it) read for
// what the mDNS/DNS-SD decoder takes from it: whether it is a response, and
// the A, AAAA, PTR, SRV and TXT records of its answer, authority and
// additional sections. Records of other types are stepped over by their
// RDLENGTH, their names not read.
//
// Our own rather than dns-packet, which the decoder used before: dns-packet
// decodes every record of every type into objects, and every label of every
// name with a native toString call of its own. On the shared captures' mDNS
// that was ~45% of decoding a message (~6.6 µs a packet, against ~0.25 µs
// for the average packet of the benchmark's mix). Here a name costs one
// native call: its labels are gathered into one buffer and decoded at once.
import { formatIp4, formatIp6 } from '../packet/addresses.js';

export type DnsRecord =
  | { type: 'A' | 'AAAA' | 'PTR'; name: string; data: string }
  | { type: 'SRV'; name: string; data: { priority: number; weight: number; port: number; target: string } }
  | { type: 'TXT'; name: string; data: Buffer[] };

export interface DnsMessage {
  isResponse: boolean;
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

const HEADER = 12;
const QR = 0x8000;
const TYPE_A = 1;
const TYPE_PTR = 12;
const TYPE_TXT = 16;
const TYPE_AAAA = 28;
const TYPE_SRV = 33;
/** RFC 1035 §2.3.4 bounds a name at 255 octets; its labels and their length bytes, at most this. */
const MAX_NAME = 254;

/** Where a name's labels are gathered before one decode; a name fits in MAX_NAME bytes. */
const scratch = Buffer.alloc(MAX_NAME + 64);

/**
 * The message in b[start, end). Throws RangeError where it is damaged: the
 * header or a record running past the end, a name with a bad label type, a
 * compression pointer that does not point back (RFC 1035 §4.1.4; a loop
 * otherwise), or a name longer than RFC 1035 allows.
 */
export function readDnsMessage(b: Buffer, start: number, end: number): DnsMessage {
  if (end - start < HEADER) throw new RangeError('DNS header truncated');
  const flags = b.readUInt16BE(start + 2);
  const counts = [4, 6, 8, 10].map((at) => b.readUInt16BE(start + at));
  const message: DnsMessage = {
    isResponse: (flags & QR) !== 0,
    answers: [],
    authorities: [],
    additionals: [],
  };
  let o = start + HEADER;
  for (let i = 0; i < counts[0]!; i++) {
    o = skipName(b, o, end);
    if (o + 4 > end) throw new RangeError('DNS question truncated');
    o += 4;
  }
  const sections = [message.answers, message.authorities, message.additionals];
  for (let s = 0; s < 3; s++)
    for (let i = 0; i < counts[s + 1]!; i++) o = readRecord(b, start, o, end, sections[s]!);
  return message;
}

/** Reads the resource record at `o` into `out` when it is of a type read here; returns where the next begins. */
function readRecord(b: Buffer, start: number, o: number, end: number, out: DnsRecord[]): number {
  const nameAt = o;
  o = skipName(b, o, end);
  if (o + 10 > end) throw new RangeError('DNS record header truncated');
  const type = b.readUInt16BE(o);
  const rdata = o + 10;
  const rdEnd = rdata + b.readUInt16BE(o + 8);
  if (rdEnd > end) throw new RangeError('DNS record data overruns the message');
  switch (type) {
    case TYPE_A:
      if (rdEnd - rdata < 4) throw new RangeError('DNS A record shorter than an address');
      out.push({ type: 'A', name: readName(b, start, nameAt, end), data: formatIp4(b.readUInt32BE(rdata)) });
      break;
    case TYPE_AAAA:
      if (rdEnd - rdata < 16) throw new RangeError('DNS AAAA record shorter than an address');
      // RFC 5952's text, as the IPv6 header's addresses are written.
      out.push({ type: 'AAAA', name: readName(b, start, nameAt, end), data: formatIp6(b, rdata) });
      break;
    case TYPE_PTR:
      out.push({
        type: 'PTR',
        name: readName(b, start, nameAt, end),
        data: readName(b, start, rdata, rdEnd),
      });
      break;
    case TYPE_SRV: {
      if (rdEnd - rdata < 7) throw new RangeError('DNS SRV record truncated');
      out.push({
        type: 'SRV',
        name: readName(b, start, nameAt, end),
        data: {
          priority: b.readUInt16BE(rdata),
          weight: b.readUInt16BE(rdata + 2),
          port: b.readUInt16BE(rdata + 4),
          target: readName(b, start, rdata + 6, rdEnd),
        },
      });
      break;
    }
    case TYPE_TXT: {
      // RFC 1035 §3.3.14: one or more <character-string>s, each a length byte and that many bytes.
      const strings: Buffer[] = [];
      for (let p = rdata; p < rdEnd; ) {
        const n = b[p]!;
        if (p + 1 + n > rdEnd) throw new RangeError('DNS TXT string overruns its record');
        strings.push(b.subarray(p + 1, p + 1 + n));
        p += 1 + n;
      }
      out.push({ type: 'TXT', name: readName(b, start, nameAt, end), data: strings });
      break;
    }
  }
  return rdEnd;
}

/** Where the name at `o` ends in the record (a pointer ends it); checks its labels as readName does. */
function skipName(b: Buffer, o: number, end: number): number {
  let length = 0;
  for (;;) {
    if (o >= end) throw new RangeError('DNS name runs past the message');
    const len = b[o]!;
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) {
      if (o + 2 > end) throw new RangeError('DNS name pointer truncated');
      return o + 2;
    }
    if ((len & 0xc0) !== 0) throw new RangeError('DNS name has a label of an unknown type');
    length += len + 1;
    if (length > MAX_NAME) throw new RangeError('DNS name too long');
    o += 1 + len;
  }
}

/**
 * The name at `o` (labels within [start, end), pointers anywhere before
 * them in the message from `start`), its labels joined by dots and decoded
 * as UTF-8; "." for the root.
 */
function readName(b: Buffer, start: number, o: number, end: number): string {
  let n = 0;
  /** Label bytes and their length bytes, across pointers, as RFC 1035 bounds a name. */
  let total = 0;
  let lowest = o;
  for (;;) {
    if (o >= end) throw new RangeError('DNS name runs past the message');
    const len = b[o]!;
    if (len === 0) break;
    if ((len & 0xc0) === 0xc0) {
      if (o + 2 > end) throw new RangeError('DNS name pointer truncated');
      const target = start + (((len & 0x3f) << 8) | b[o + 1]!);
      // Only backwards, each jump before the last: a pointer cannot make a loop.
      if (target >= lowest) throw new RangeError('DNS name pointer does not point back');
      lowest = target;
      o = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new RangeError('DNS name has a label of an unknown type');
    if (o + 1 + len > end) throw new RangeError('DNS label runs past the message');
    total += len + 1;
    if (total > MAX_NAME) throw new RangeError('DNS name too long');
    if (n > 0) scratch[n++] = 0x2e;
    // A loop, not Buffer.copy: labels are short, and a native call per label is what this avoids.
    for (let i = o + 1; i <= o + len; i++) scratch[n++] = b[i]!;
    o += 1 + len;
  }
  return n === 0 ? '.' : scratch.toString('utf8', 0, n);
}
