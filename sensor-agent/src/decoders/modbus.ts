// Modbus/TCP (Modbus Messaging on TCP/IP Implementation Guide v1.0b; Modbus
// Application Protocol v1.1b3 §6.21). Port 502 tells the roles: the side
// that listens on it is the server (slave), the other the client (master),
// as Zeek's modbus.log does. Responses name the unit ids a server answers
// for, and Read Device Identification (FC 43 / MEI 14) returns the
// device's own vendor name, product code and revision objects.
import type { PacketView } from '../packet/view.js';
import { type Decoder, NativeRepeatKey, type ObservationName, type ObservationSink } from './types.js';
import { emitForHost, text } from './util.js';

const MODBUS_PORT = 502;
const MBAP = 7;
const FC_ENCAPSULATED = 0x2b;
const MEI_READ_DEVICE_ID = 0x0e;
/** Frames per segment worth reading: pipelined requests rarely exceed a few. */
const MAX_FRAMES = 16;

/** Read Device Identification objects (Modbus Application Protocol §6.21 Table). */
const OBJECTS: Record<number, [ObservationName, string, number]> = {
  0: ['manufacturer', 'vendor_name', 0.85],
  1: ['productCode', 'product_code', 0.85],
  2: ['firmwareVersion', 'major_minor_revision', 0.85],
  4: ['model', 'product_name', 0.8],
  5: ['model', 'model_name', 0.85],
};

export const modbusDecoder: Decoder = {
  name: 'modbus',
  family: 'tcp',
  keys: [MODBUS_PORT],
  // MBAP (Modbus/TCP §3.1.3): Length counts what follows it (unit id and PDU). Some stacks send the header and
  // the PDU in separate segments: a header not yet whole asks for itself.
  messageLength: (_pkt, b, start, end) => {
    const n = end - start;
    if (n >= 4 && (b[start + 2] !== 0 || b[start + 3] !== 0)) return 0; // protocol id 0: Modbus
    return n < 6 ? 6 : 6 + b.readUInt16BE(start + 4);
  },
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= MBAP + 1,
  // native/repeat_keys.c's modbus_tcp mirrors repeatKey() below (repeat-keys.test.ts compares them).
  nativeRepeatKey: NativeRepeatKey.modbusTcp,
  /**
   * Cyclic polling: a segment of exactly one well-formed frame that is not a
   * device identification says only the roles (from the ports) and, in a
   * response, its unit id: unit id and exception bit are the key.
   */
  repeatKey(pkt: PacketView): number | undefined {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    const length = b.readUInt16BE(o + 4);
    if (o + 6 + length !== pkt.payloadEnd || length < 2 || length > 254) return undefined;
    if (b.readUInt16BE(o + 2) !== 0 || b[o + MBAP] === FC_ENCAPSULATED) return undefined;
    return (b[o + 6]! << 1) | (b[o + MBAP]! >> 7);
  },
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const end = pkt.payloadEnd;
    const fromServer = pkt.srcPort === MODBUS_PORT;
    if (!fromServer && pkt.dstPort !== MODBUS_PORT) return;
    let o = pkt.payloadOffset;
    for (let frames = 0; frames < MAX_FRAMES && o + MBAP + 1 <= end; frames++) {
      if (b.readUInt16BE(o + 2) !== 0) throw new RangeError('Modbus/TCP protocol id is not 0');
      const length = b.readUInt16BE(o + 4); // unit id + PDU
      if (length < 2 || length > 254) throw new RangeError('Modbus/TCP length out of range');
      const unit = b[o + 6]!;
      const pdu = o + MBAP;
      const frameEnd = o + 6 + length;
      if (frameEnd > end) return; // continued in the next segment: the headers seen are enough
      if (frames === 0) {
        // Roles once per segment: the server is the port-502 side.
        emitForHost(
          pkt,
          sink,
          'modbus',
          'role',
          'modbus:server',
          0.9,
          'tcp.port',
          fromServer ? 'src' : 'dst',
        );
        emitForHost(
          pkt,
          sink,
          'modbus',
          'role',
          'modbus:client',
          0.9,
          'tcp.port',
          fromServer ? 'dst' : 'src',
        );
      }
      if (fromServer) {
        const fc = b[pdu]!;
        if ((fc & 0x80) === 0) emitForHost(pkt, sink, 'modbus', 'unitId', String(unit), 0.8, 'mbap.unit_id');
        if (fc === FC_ENCAPSULATED && b[pdu + 1] === MEI_READ_DEVICE_ID)
          readDeviceId(pkt, sink, pdu, frameEnd);
      }
      o = frameEnd;
    }
  },
};

function readDeviceId(pkt: PacketView, sink: ObservationSink, pdu: number, end: number): void {
  const b = pkt.data;
  // fc, MEI type, read device id code, conformity level, more follows, next object id, number of objects.
  if (pdu + 7 > end) throw new RangeError('Read Device Identification response truncated');
  const count = b[pdu + 6]!;
  let o = pdu + 7;
  for (let i = 0; i < count; i++) {
    if (o + 2 > end) throw new RangeError('Read Device Identification object truncated');
    const id = b[o]!;
    const len = b[o + 1]!;
    if (o + 2 + len > end) throw new RangeError('Read Device Identification object overruns the PDU');
    const what = OBJECTS[id];
    if (what)
      emitForHost(pkt, sink, 'modbus', what[0], text(b, o + 2, o + 2 + len), what[2], `mei.${what[1]}`);
    o += 2 + len;
  }
}
