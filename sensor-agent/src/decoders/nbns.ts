// NetBIOS Name Service (RFC 1002 §4.2). Only a host's own claims count: name
// registrations/refreshes and positive responses carry the name with the
// address that owns it. Queries name what someone looks for (a printer that
// may not even be on the segment), so they are ignored.
import { formatIp4, isHostIp4 } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { DNS_MESSAGE_ID, observation } from './util.js';

const NBNS_PORT = 137;
const OPCODE_QUERY = 0;
const OPCODE_REGISTRATION = 5;
const OPCODE_REFRESH = 8;
const OPCODE_MULTIHOMED = 15;
const TYPE_NB = 0x20;
/** Name suffixes that a single machine registers for itself: workstation (00) and server (20) services. */
const HOST_SUFFIXES = new Set([0x00, 0x20]);

export const nbnsDecoder: Decoder = {
  name: 'nbns',
  family: 'udp',
  announces: true,
  transactionId: DNS_MESSAGE_ID,
  keys: [NBNS_PORT],
  match: (pkt) => pkt.srcPort === NBNS_PORT || pkt.dstPort === NBNS_PORT,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const end = pkt.payloadEnd;
    const base = pkt.payloadOffset;
    if (end < base + 12) throw new RangeError('NBNS header truncated');
    const flags = b.readUInt16BE(base + 2);
    const isResponse = (flags & 0x8000) !== 0;
    const opcode = (flags >> 11) & 0x0f;
    const rcode = flags & 0x0f;
    const qd = b.readUInt16BE(base + 4);
    const an = b.readUInt16BE(base + 6);
    const ar = b.readUInt16BE(base + 10);
    const registering =
      !isResponse &&
      (opcode === OPCODE_REGISTRATION || opcode === OPCODE_REFRESH || opcode === OPCODE_MULTIHOMED);
    const answering = isResponse && opcode === OPCODE_QUERY && rcode === 0;
    if (!registering && !answering) return;
    let o = base + 12;
    for (let i = 0; i < qd; i++) o = skipQuestion(b, o, end, base);
    // Registrations carry the record in the additional section, responses in the answer section.
    const count = registering ? ar : an;
    for (let i = 0; i < count && o < end; i++) {
      const name = readNetbiosName(b, o, end, base);
      o = name.next;
      if (o + 10 > end) throw new RangeError('NBNS resource record truncated');
      const type = b.readUInt16BE(o);
      const rdLength = b.readUInt16BE(o + 8);
      const rd = o + 10;
      if (rd + rdLength > end) throw new RangeError('NBNS RDATA overruns the message');
      o = rd + rdLength;
      if (type !== TYPE_NB || !name.text || !HOST_SUFFIXES.has(name.suffix)) continue;
      for (let r = rd; r + 6 <= rd + rdLength; r += 6) {
        const group = (b[r]! & 0x80) !== 0;
        const ip = b.readUInt32BE(r + 2);
        if (group || !isHostIp4(ip)) continue;
        const owner = ip === pkt.srcIp4 ? pkt.srcMac : -1;
        const ipText = formatIp4(ip);
        sink.observe(observation(pkt, owner, ipText, 'nbns', 'netbiosName', name.text, 0.7, 'nb.name'));
        sink.observe(observation(pkt, owner, ipText, 'nbns', 'hostname', name.text, 0.6, 'nb.name'));
      }
    }
  },
};

function skipQuestion(b: Buffer, o: number, end: number, base: number): number {
  const next = readNetbiosName(b, o, end, base).next;
  if (next + 4 > end) throw new RangeError('NBNS question truncated');
  return next + 4;
}

/** Reads a first-level-encoded NetBIOS name (RFC 1001 §14.1) at `o` (possibly a compression pointer). */
function readNetbiosName(
  b: Buffer,
  o: number,
  end: number,
  base: number,
): { text: string; suffix: number; next: number } {
  if (o >= end) throw new RangeError('NBNS name truncated');
  const len = b[o]!;
  if ((len & 0xc0) === 0xc0) {
    if (o + 2 > end) throw new RangeError('NBNS name pointer truncated');
    // Pointers are relative to the message start and must point backwards (no loops).
    const target = base + (b.readUInt16BE(o) & 0x3fff);
    if (target >= o) throw new RangeError('NBNS name pointer does not point backwards');
    const resolved = readNetbiosName(b, target, end, base);
    return { text: resolved.text, suffix: resolved.suffix, next: o + 2 };
  }
  if (len !== 32 || o + 1 + len >= end) throw new RangeError('NBNS name is not 32 encoded bytes');
  let decoded = '';
  for (let i = 0; i < 32; i += 2) {
    const hi = b[o + 1 + i]! - 0x41;
    const lo = b[o + 1 + i + 1]! - 0x41;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) throw new RangeError('NBNS name has an invalid half-octet');
    decoded += String.fromCharCode((hi << 4) | lo);
  }
  // Skip the scope id labels up to the root.
  let p = o + 1 + len;
  while (p < end && b[p] !== 0) p += 1 + b[p]!;
  const suffix = decoded.charCodeAt(15);
  return { text: decoded.slice(0, 15).trim(), suffix, next: p + 1 };
}
