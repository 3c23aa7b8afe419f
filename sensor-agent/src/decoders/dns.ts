// DNS (RFC 1035 §4.1) queries from a client to its resolver on port 53:
// which names a device resolves (a camera its cloud, a phone its vendor's
// services) is behavioural evidence, kept as a hint. LLMNR (RFC 4795) has
// the same wire format on port 5355; a host answers for its own name, so a
// positive response binds that name to the answering address, like NBNS.
import { formatIp4, isHostIp4 } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { DNS_MESSAGE_ID, dnsName, emitForLocalSender, observation } from './util.js';

const DNS_PORT = 53;
const LLMNR_PORT = 5355;
const TYPE_A = 1;

export const dnsDecoder: Decoder = {
  name: 'dns',
  family: 'udp',
  keys: [DNS_PORT],
  // A host resolves the same names again and again, each time under a new message id.
  announces: true,
  portBlind: true,
  transactionId: DNS_MESSAGE_ID,
  // Queries only (QR = 0), to port 53.
  match: (pkt) =>
    pkt.dstPort === DNS_PORT &&
    pkt.payloadEnd - pkt.payloadOffset >= 12 &&
    (pkt.data[pkt.payloadOffset + 2]! & 0x80) === 0,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const base = pkt.payloadOffset;
    const qd = b.readUInt16BE(base + 4);
    if (qd === 0) return;
    if (qd > 4) throw new RangeError('DNS query with too many questions');
    const { name } = dnsName(b, base + 12, pkt.payloadEnd, base);
    if (name !== '') emitForLocalSender(pkt, sink, 'dns', 'dnsQuery', name.toLowerCase(), 0.9, 'query.name');
  },
};

export const llmnrDecoder: Decoder = {
  name: 'llmnr',
  family: 'udp',
  announces: true,
  portBlind: true,
  transactionId: DNS_MESSAGE_ID,
  keys: [LLMNR_PORT],
  // Responses (QR = 1) from the responder's port 5355.
  match: (pkt) =>
    pkt.srcPort === LLMNR_PORT &&
    pkt.payloadEnd - pkt.payloadOffset >= 12 &&
    (pkt.data[pkt.payloadOffset + 2]! & 0x80) !== 0,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const base = pkt.payloadOffset;
    const end = pkt.payloadEnd;
    if ((b[base + 3]! & 0x0f) !== 0) return; // error rcode
    const qd = b.readUInt16BE(base + 4);
    const an = b.readUInt16BE(base + 6);
    let o = base + 12;
    for (let i = 0; i < qd; i++) {
      o = dnsName(b, o, end, base).next + 4;
      if (o > end) throw new RangeError('LLMNR question truncated');
    }
    for (let i = 0; i < an && i < 16; i++) {
      const { name, next } = dnsName(b, o, end, base);
      if (next + 10 > end) throw new RangeError('LLMNR answer truncated');
      const type = b.readUInt16BE(next);
      const rdLength = b.readUInt16BE(next + 8);
      const rd = next + 10;
      if (rd + rdLength > end) throw new RangeError('LLMNR RDATA overruns the message');
      o = rd + rdLength;
      if (type !== TYPE_A || rdLength !== 4 || name === '') continue;
      const ip = b.readUInt32BE(rd);
      if (!isHostIp4(ip)) continue;
      const owner = ip === pkt.srcIp4 ? pkt.srcMac : -1;
      sink.observe(observation(pkt, owner, formatIp4(ip), 'llmnr', 'hostname', name, 0.6, 'answer.name'));
    }
  },
};
