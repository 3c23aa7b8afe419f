// DNP3 (IEEE 1815-2012 §9.2 data link layer) over TCP or UDP 20000. Every
// link frame starts 0x05 0x64 and names its destination and source link
// addresses; the DIR bit of the control octet says whether the sender is
// the master (1) or an outstation (0). Those are the identity facts
// Zeek's dnp3.log and Defender for IoT keep for DNP3 endpoints.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForHost } from './util.js';

const DNP3_PORT = 20000;
const START = 0x0564;

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  if (pkt.payloadEnd < o + 10) throw new RangeError('DNP3 link header truncated');
  if (b.readUInt16BE(o) !== START) return; // the rest of a frame split across segments
  if (b[o + 2]! < 5) throw new RangeError('DNP3 link length below 5');
  const control = b[o + 3]!;
  const source = b.readUInt16LE(o + 6);
  const fromMaster = (control & 0x80) !== 0;
  emitForHost(
    pkt,
    sink,
    'dnp3',
    'role',
    fromMaster ? 'dnp3:master' : 'dnp3:outstation',
    0.85,
    'link.control.dir',
  );
  emitForHost(pkt, sink, 'dnp3', 'linkAddress', String(source), 0.85, 'link.source');
}

/**
 * Cyclic polling: a frame says only the sender's role (the DIR bit) and
 * its source link address, so those are the key. Anything decode() would
 * reject, or skip as a continuation, is decoded.
 */
function repeatKey(pkt: PacketView): number | undefined {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  if (b.readUInt16BE(o) !== START || b[o + 2]! < 5) return undefined;
  return b.readUInt16LE(o + 6) * 2 + (b[o + 3]! >> 7);
}

export const dnp3Decoder: Decoder = {
  name: 'dnp3',
  family: 'tcp',
  keys: [DNP3_PORT],
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= 10,
  repeatKey,
  decode,
};

export const dnp3UdpDecoder: Decoder = {
  name: 'dnp3',
  family: 'udp',
  keys: [DNP3_PORT],
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= 10,
  repeatKey,
  decode,
};
