// EtherNet/IP (ODVA CIP Vol. 2 §2) ListIdentity replies (command 0x63, UDP
// or TCP 44818) and CIP Identity object Get_Attribute_All replies (CIP Vol. 1
// §5A-2) carried in SendRRData/SendUnitData. A ListIdentity reply is the
// device describing itself: vendor, device type, product code, revision,
// serial number and product name, the fields Zeek/ICSNPP logs in
// enip_list_identity.log. Identity replies for other modules reached through
// the same address (a ControlLogix backplane) are reported as modules.
//
// A TCP session on 44818 also tells the roles: target (listener) and
// originator; implicit I/O on UDP 2222 tells that both ends are control
// equipment exchanging real-time data.
//
// Facts are keyed by IP (emitForHost): EtherNet/IP devices are often
// reached through routers, and the frame's MAC is then the router's.
import { IpProto } from '../packet/ethertypes.js';
import type { PacketView } from '../packet/view.js';
import { type Decoder, NativeRepeatKey, type ObservationName, type ObservationSink } from './types.js';
import { emitForHost, text } from './util.js';
import { CIP_VENDOR_NAMES } from './vendor-ids/cip.js';

const ENIP_PORT = 44818;
const HEADER = 24;
const CMD_LIST_IDENTITY = 0x63;
const CMD_SEND_RR_DATA = 0x6f;
const CMD_SEND_UNIT_DATA = 0x70;
const ITEM_CIP_IDENTITY = 0x0c;
const ITEM_CONNECTED_DATA = 0xb1;
const ITEM_UNCONNECTED_DATA = 0xb2;
const SERVICE_GET_ATTRIBUTE_ALL_REPLY = 0x81;
/** Encapsulation commands (CIP Vol. 2 Table 2-3.2): NOP, ListServices, ListIdentity, ListInterfaces, (Un)RegisterSession, SendRRData, SendUnitData, IndicateStatus, Cancel. */
const ENCAPSULATION_COMMANDS: ReadonlySet<number> = new Set([
  0x0000, 0x0004, 0x0063, 0x0064, 0x0065, 0x0066, 0x006f, 0x0070, 0x0072, 0x0073,
]);
/** Class 0/1 implicit I/O (CIP Vol. 2 §2-6.2): UDP 2222. */
const IO_PORT = 2222;
const ITEM_SEQUENCED_ADDRESS = 0x8002;

/** CIP device profiles (CIP Vol. 1 Table 6-7.1). */
export const CIP_DEVICE_TYPES: Record<number, string> = {
  0: 'Generic Device',
  2: 'AC Drive',
  3: 'Motor Overload',
  4: 'Limit Switch',
  5: 'Inductive Proximity Switch',
  6: 'Photoelectric Sensor',
  7: 'General Purpose Discrete I/O',
  9: 'Resolver',
  12: 'Communications Adapter',
  14: 'Programmable Logic Controller',
  16: 'Position Controller',
  19: 'DC Drive',
  21: 'Contactor',
  22: 'Motor Starter',
  23: 'Soft Start',
  24: 'Human-Machine Interface',
  26: 'Mass Flow Controller',
  27: 'Pneumatic Valve',
  28: 'Vacuum Pressure Gauge',
  34: 'Encoder',
  35: 'Safety Discrete I/O Device',
  37: 'CIP Motion Drive',
  43: 'Generic Device (keyable)',
  44: 'Managed Ethernet Switch',
};

export interface CipIdentity {
  vendorId: number;
  deviceType: number;
  productCode: number;
  revision: string;
  serial: string;
  productName: string;
}

/** Reads the identity attributes 1-7 at `o` (little-endian); undefined when they do not fit in `end`. */
export function readCipIdentity(b: Buffer, o: number, end: number): CipIdentity | undefined {
  if (o + 15 > end) return undefined;
  const nameLength = b[o + 14]!;
  if (o + 15 + nameLength > end) return undefined;
  return {
    vendorId: b.readUInt16LE(o),
    deviceType: b.readUInt16LE(o + 2),
    productCode: b.readUInt16LE(o + 4),
    revision: `${b[o + 6]}.${b[o + 7]}`,
    // o+8: status word
    serial: `0x${b
      .readUInt32LE(o + 10)
      .toString(16)
      .padStart(8, '0')}`,
    productName: text(b, o + 15, o + 15 + nameLength),
  };
}

/**
 * The encapsulation header's sender context: the requester's own bytes,
 * echoed in the reply, nothing decode() reads. A scanner polling a module's
 * identity gets the same reply each time but for these.
 */
const SENDER_CONTEXT = { length: 8, offset: () => 12 };

export const enipDecoder: Decoder = {
  name: 'enip',
  family: 'udp',
  announces: true,
  transactionId: SENDER_CONTEXT,
  keys: [ENIP_PORT],
  match: (pkt) => pkt.srcPort === ENIP_PORT,
  decode: decodeEnip,
};

/** The same decoder over TCP (ListIdentity may be sent over either). */
export const enipTcpDecoder: Decoder = {
  name: 'enip',
  family: 'tcp',
  // Identity polling (Get_Attribute_All of the identity object, ListIdentity) and explicit messaging repeat themselves.
  announces: true,
  transactionId: SENDER_CONTEXT,
  keys: [ENIP_PORT],
  match: (pkt) => pkt.srcPort !== pkt.dstPort && pkt.payloadEnd - pkt.payloadOffset >= HEADER,
  // native/repeat_keys.c's enip_tcp mirrors repeatKey() below (repeat-keys.test.ts compares them).
  nativeRepeatKey: NativeRepeatKey.enipTcp,
  /**
   * An originator's requests (explicit messaging polls, most of a session's packets) say only the roles,
   * which the ports and a valid header fix: the command is the key. So do the target's answers that carry
   * no identity (a firmware update's or a tag read's replies, each of different bytes): the command, apart
   * from the requests'. An answer that may carry identity (ListIdentity, a Get_Attribute_All reply) is
   * compared byte for byte (its sender context aside).
   */
  repeatKey(pkt) {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    if (!isEncapsulation(b, o)) return undefined;
    const command = b.readUInt16LE(o);
    if (pkt.dstPort === ENIP_PORT) return command;
    return pkt.srcPort === ENIP_PORT && answerSaysOnlyRoles(b, o, pkt.payloadEnd, command)
      ? ANSWER_KEY + command
      : undefined;
  },
  // CIP Vol. 2 §2-3.1: the encapsulation header, then Length bytes of data.
  messageLength: (pkt, b, start, end) =>
    pkt.srcPort !== ENIP_PORT ? 0 : end - start < 4 ? HEADER : HEADER + b.readUInt16LE(start + 2),
  decode: decodeEnip,
};

/** Whether the 24-byte header at `o` is EtherNet/IP's: a known command, options 0. */
function isEncapsulation(b: Buffer, o: number): boolean {
  return ENCAPSULATION_COMMANDS.has(b.readUInt16LE(o)) && b.readUInt32LE(o + 20) === 0;
}

/**
 * True when the UDP payload is a CIP I/O datagram (CIP Vol. 2 §2-6.2.2): a
 * common packet format of a sequenced address item (connection id and
 * sequence number) then a connected data item, within the datagram.
 */
function isIoDatagram(b: Buffer, o: number, end: number): boolean {
  if (o + 2 + 12 + 4 > end) return false;
  const count = b.readUInt16LE(o);
  if (count < 2 || count > 4) return false;
  if (b.readUInt16LE(o + 2) !== ITEM_SEQUENCED_ADDRESS || b.readUInt16LE(o + 4) !== 8) return false;
  return b.readUInt16LE(o + 14) === ITEM_CONNECTED_DATA && o + 18 + b.readUInt16LE(o + 16) <= end;
}

/**
 * Implicit (class 0/1) I/O: the cyclic data a scanner and its adapters
 * produce for each other, most of an EtherNet/IP network's packets. It says
 * only that both ends exchange real-time I/O (they are control equipment);
 * the connection ids and data are not identity. One key for every datagram.
 */
export const enipIoDecoder: Decoder = {
  name: 'enip',
  family: 'udp',
  keys: [IO_PORT],
  match: (pkt) => pkt.dstPort === IO_PORT && isIoDatagram(pkt.data, pkt.payloadOffset, pkt.payloadEnd),
  repeatKey: () => 0,
  decode(pkt: PacketView, sink: ObservationSink): void {
    emitForHost(pkt, sink, 'enip', 'role', 'enip:io', 0.75, 'cpf.sequenced_address');
  },
};

function decodeEnip(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  const end = pkt.payloadEnd;
  if (end < o + HEADER) throw new RangeError('ENIP encapsulation header truncated');
  const command = b.readUInt16LE(o);
  const length = b.readUInt16LE(o + 2);
  const status = b.readUInt32LE(o + 8);
  if (pkt.ipProto === IpProto.TCP) {
    // A session on 44818 (CIP Vol. 2 §2-4): the listener is the target (a controller, an adapter, a
    // drive), the other end the originator (an HMI, an engineering tool, a scanning controller).
    // Only a header that is EtherNet/IP's says so.
    if (!isEncapsulation(b, o)) return;
    const fromTarget = pkt.srcPort === ENIP_PORT;
    const [sender, receiver] = fromTarget ? ['enip:device', 'enip:client'] : ['enip:client', 'enip:device'];
    emitForHost(pkt, sink, 'enip', 'role', sender, 0.8, 'encapsulation.command');
    emitForHost(pkt, sink, 'enip', 'role', receiver, 0.7, 'encapsulation.command', 'dst');
    if (!fromTarget) return; // requests carry no identity
  }
  if (length === 0 || status !== 0) return; // requests carry no data; errors no identity
  const dataEnd = Math.min(end, o + HEADER + length);
  let p = o + HEADER;
  if (command === CMD_LIST_IDENTITY) {
    if (p + 2 > dataEnd) throw new RangeError('ListIdentity item count truncated');
    const count = b.readUInt16LE(p);
    p += 2;
    for (let i = 0; i < count; i++) {
      if (p + 4 > dataEnd) throw new RangeError('ListIdentity item header truncated');
      const type = b.readUInt16LE(p);
      const itemLength = b.readUInt16LE(p + 2);
      const v = p + 4;
      if (v + itemLength > dataEnd) throw new RangeError('ListIdentity item overruns the message');
      // version(2) + socket address(16), then the identity attributes.
      if (type === ITEM_CIP_IDENTITY) {
        const id = readCipIdentity(b, v + 18, v + itemLength);
        if (!id) throw new RangeError('ListIdentity identity item truncated');
        report(pkt, sink, id, 'list_identity', 0.9);
        emitForHost(pkt, sink, 'enip', 'role', 'enip:device', 0.9, 'list_identity');
      }
      p = v + itemLength;
    }
    return;
  }
  if (command !== CMD_SEND_RR_DATA && command !== CMD_SEND_UNIT_DATA) return;
  const replies = attributeAllReplies(b, p, dataEnd);
  for (let k = 0; k < replies.length; k += 2) {
    const id = readCipIdentity(b, replies[k]!, replies[k + 1]!);
    // Get_Attribute_All of other objects also answers 0x81: accept only what parses as an identity.
    if (!id || id.productName === '' || !/^[\x20-\x7e]+$/.test(id.productName)) continue;
    emitForHost(pkt, sink, 'enip', 'module', `${id.productName} (serial ${id.serial})`, 0.8, 'cip.identity');
    emitForHost(pkt, sink, 'enip', 'model', id.productName, 0.4, 'cip.identity.product_name');
  }
}

/** The repeat keys of a target's answers are the commands' plus this, apart from its requests' (0..0xffff). */
const ANSWER_KEY = 0x10000;

/**
 * Whether decodeEnip would learn only the two ends' roles from this answer of
 * a target over TCP: it failed or carries no data, its command carries no
 * identity, or it is a SendRRData/SendUnitData whose items hold no successful
 * Get_Attribute_All reply. Throws where decodeEnip would (an item overrunning
 * the message), so the pipeline leaves such a packet to decode(), which counts it.
 */
function answerSaysOnlyRoles(b: Buffer, o: number, end: number, command: number): boolean {
  if (end < o + HEADER) return false;
  const length = b.readUInt16LE(o + 2);
  if (length === 0 || b.readUInt32LE(o + 8) !== 0) return true;
  if (command === CMD_LIST_IDENTITY) return false;
  if (command !== CMD_SEND_RR_DATA && command !== CMD_SEND_UNIT_DATA) return true;
  return attributeAllReplies(b, o + HEADER, Math.min(end, o + HEADER + length)).length === 0;
}

/** What attributeAllReplies returns: one array, reused (decodeEnip and the repeat key read it at once). */
const replyBounds: number[] = [];

/**
 * The successful Get_Attribute_All replies (CIP Vol. 1 §2-4.2: service 0x81,
 * general status 0) in the common packet format items of a SendRRData or
 * SendUnitData whose data starts at `p`: pairs of [attribute data start, item
 * end). Throws RangeError where an item is truncated or overruns the message.
 */
function attributeAllReplies(b: Buffer, p: number, dataEnd: number): readonly number[] {
  const out = replyBounds;
  out.length = 0;
  // interface handle(4), timeout(2), then the common packet format items.
  p += 6;
  if (p + 2 > dataEnd) throw new RangeError('CPF item count truncated');
  const count = b.readUInt16LE(p);
  p += 2;
  for (let i = 0; i < count && i < 8; i++) {
    if (p + 4 > dataEnd) throw new RangeError('CPF item header truncated');
    const type = b.readUInt16LE(p);
    const itemLength = b.readUInt16LE(p + 2);
    let v = p + 4;
    const itemEnd = v + itemLength;
    if (itemEnd > dataEnd) throw new RangeError('CPF item overruns the message');
    p = itemEnd;
    if (type !== ITEM_UNCONNECTED_DATA && type !== ITEM_CONNECTED_DATA) continue;
    if (type === ITEM_CONNECTED_DATA) v += 2; // sequence count
    // Message router reply: service, reserved, general status, additional status size (words).
    if (v + 4 > itemEnd || b[v] !== SERVICE_GET_ATTRIBUTE_ALL_REPLY || b[v + 2] !== 0) continue;
    out.push(v + 4 + b[v + 3]! * 2, itemEnd);
  }
  return out;
}

function report(pkt: PacketView, sink: ObservationSink, id: CipIdentity, field: string, conf: number): void {
  const emit = (name: ObservationName, value: string, c: number, f: string) =>
    emitForHost(pkt, sink, 'enip', name, value, c, `${field}.${f}`);
  emit('model', id.productName, conf, 'product_name');
  emit('serialNumber', id.serial, conf, 'serial_number');
  emit('firmwareVersion', id.revision, conf, 'revision');
  emit('vendorId', String(id.vendorId), conf, 'vendor_id');
  const vendor = CIP_VENDOR_NAMES.get(id.vendorId);
  if (vendor) emit('manufacturer', vendor, 0.85, 'vendor_id');
  emit(
    'deviceType',
    CIP_DEVICE_TYPES[id.deviceType] ?? `CIP device type ${id.deviceType}`,
    conf,
    'device_type',
  );
  emit('productCode', String(id.productCode), conf, 'product_code');
}
