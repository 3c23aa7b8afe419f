// DNP3 (IEEE 1815-2012) over TCP or UDP 20000.
//
// Data link layer (§9.2): every frame starts 0x05 0x64 and names its
// destination and source link addresses; the DIR bit of the control octet
// says whether the sender is the master (1) or an outstation (0). Those are
// the identity facts Zeek's dnp3.log and Defender for IoT keep for every
// DNP3 endpoint, and every frame gives them.
//
// Application layer: an outstation's response (or unsolicited response)
// carrying device attribute objects (group 0, §A.2, Table A-1) names it: a
// master asks for them (variation 254, every attribute) as asset inventories
// do, and outstations that implement them answer with their maker (252),
// product and model (250), software version (242), serial number (248),
// user-assigned name (247) and location (245). The link frame's user data
// is read across its CRC-separated blocks (§9.2.4.1.2); a response whose
// fragment spans several transport segments (past 249 octets of
// application data) is not reassembled, and only a response whose objects
// begin with group 0 is read (other objects' sizes would need the whole
// object library to step over).
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForHost, text } from './util.js';

const DNP3_PORT = 20000;
const START = 0x0564;
/** Start, length, control, destination, source, CRC. */
const HEADER = 10;
/** User data comes in blocks of 16 octets, each followed by its CRC. */
const BLOCK = 16;
const CRC = 2;

const TRANSPORT_FIR = 0x40;
const TRANSPORT_FIN = 0x80;
const RESPONSE = 0x81;
const UNSOLICITED_RESPONSE = 0x82;
/** Transport header, application control, function code, internal indications. */
const RESPONSE_HEADER = 5;
const DEVICE_ATTRIBUTES = 0;
/** Qualifier codes of a start-stop range, 1- and 2-octet (§A.2: device attributes use these). */
const RANGE_8 = 0x00;
const RANGE_16 = 0x01;

/** Device attribute variations (Table A-1) -> what they name. */
const ATTRIBUTES: Record<number, [ObservationName, string, number]> = {
  252: ['manufacturer', 'g0v252.manufacturer_name', 0.85],
  250: ['model', 'g0v250.product_name_and_model', 0.85],
  242: ['firmwareVersion', 'g0v242.software_version', 0.8],
  248: ['serialNumber', 'g0v248.serial_number', 0.85],
  247: ['stationName', 'g0v247.user_assigned_device_name', 0.8],
  245: ['location', 'g0v245.user_assigned_location', 0.8],
};
/** Data type codes (Table A-2) whose values are text. */
const VISIBLE_STRING = 1;
const OCTET_STRING = 5;

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  if (pkt.payloadEnd < o + HEADER) throw new RangeError('DNP3 link header truncated');
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
  if (fromMaster) return;
  // Every whole frame of the segment (a TCP segment may carry several).
  for (let at = o; at + HEADER <= pkt.payloadEnd && b.readUInt16BE(at) === START; ) {
    if (b[at + 2]! < 5) throw new RangeError('DNP3 link length below 5');
    const size = frameSize(b[at + 2]!);
    if (at + size > pkt.payloadEnd) return; // continued in the next segment: not reassembled
    if (beginsWithAttributes(b, at)) attributes(pkt, sink, userData(b, at));
    at += size;
  }
}

/**
 * Whether the frame at `frame` carries a whole response fragment whose first
 * object is a device attribute: read from its first block (its first 16 user
 * data octets have no CRC among them), before anything is copied.
 */
function beginsWithAttributes(b: Buffer, frame: number): boolean {
  const u = frame + HEADER;
  return (
    b[frame + 2]! - 5 > RESPONSE_HEADER &&
    (b[u]! & (TRANSPORT_FIR | TRANSPORT_FIN)) === (TRANSPORT_FIR | TRANSPORT_FIN) &&
    (b[u + 2] === RESPONSE || b[u + 2] === UNSOLICITED_RESPONSE) &&
    b[u + RESPONSE_HEADER] === DEVICE_ATTRIBUTES
  );
}

/** A link frame's length in octets, CRCs included, from its LENGTH octet (which counts control to user data). */
function frameSize(length: number): number {
  const user = length - 5;
  return HEADER + user + CRC * Math.ceil(user / BLOCK);
}

/** The user data of the (whole) frame at `frame`, without its blocks' CRCs. */
function userData(b: Buffer, frame: number): Buffer {
  const user = b[frame + 2]! - 5;
  const out = Buffer.allocUnsafe(user);
  let from = frame + HEADER;
  for (let copied = 0; copied < user; ) {
    const n = Math.min(BLOCK, user - copied);
    b.copy(out, copied, from, from + n);
    copied += n;
    from += n + CRC;
  }
  return out;
}

/** The device attributes at the start of a response fragment's objects (`u`: its transport segment). */
function attributes(pkt: PacketView, sink: ObservationSink, u: Buffer): void {
  let p = RESPONSE_HEADER;
  while (p + 3 <= u.length && u[p] === DEVICE_ATTRIBUTES) {
    const variation = u[p + 1]!;
    const qualifier = u[p + 2]!;
    let count: number;
    if (qualifier === RANGE_8) {
      if (p + 5 > u.length) throw new RangeError('DNP3 group 0 range truncated');
      count = u[p + 4]! - u[p + 3]! + 1;
      p += 5;
    } else if (qualifier === RANGE_16) {
      if (p + 7 > u.length) throw new RangeError('DNP3 group 0 range truncated');
      count = u.readUInt16LE(p + 5) - u.readUInt16LE(p + 3) + 1;
      p += 7;
    } else return; // not a response's form of device attributes
    if (count < 1) throw new RangeError('DNP3 group 0 range ends before it starts');
    for (let i = 0; i < count; i++) {
      if (p + 2 > u.length) throw new RangeError('DNP3 device attribute truncated');
      const type = u[p]!;
      const length = u[p + 1]!;
      if (p + 2 + length > u.length) throw new RangeError('DNP3 device attribute overruns the fragment');
      const what = ATTRIBUTES[variation];
      if (what && (type === VISIBLE_STRING || type === OCTET_STRING)) {
        const value = text(u, p + 2, p + 2 + length);
        if (value) emitForHost(pkt, sink, 'dnp3', what[0], value, what[2], what[1]);
      }
      p += 2 + length;
    }
  }
}

/**
 * Cyclic polling: most frames say only the sender's role (the DIR bit) and
 * its source link address, so those are the key. An outstation's response
 * that begins with device attributes is decoded every time. Anything
 * decode() would reject, or skip as a continuation, is decoded.
 */
function repeatKey(pkt: PacketView): number | undefined {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  if (b.readUInt16BE(o) !== START || b[o + 2]! < 5) return undefined;
  const fromMaster = b[o + 3]! >> 7;
  if (fromMaster === 0 && pkt.payloadEnd >= o + HEADER + BLOCK && beginsWithAttributes(b, o))
    return undefined;
  return b.readUInt16LE(o + 6) * 2 + fromMaster;
}

export const dnp3Decoder: Decoder = {
  name: 'dnp3',
  family: 'tcp',
  keys: [DNP3_PORT],
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= HEADER,
  repeatKey,
  decode,
};

export const dnp3UdpDecoder: Decoder = {
  name: 'dnp3',
  family: 'udp',
  keys: [DNP3_PORT],
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= HEADER,
  repeatKey,
  decode,
};
