// PROFINET IO context management (IEC 61158-6-10 §5.5, "PNIO-CM"): how an
// IO controller (a PLC) or a supervisor (an engineering tool) sets up and
// reads an IO device, as DCE/RPC over UDP (the connectionless protocol of
// C706 chapter 12). It names what DCP may never show on a capture point:
// - the RPC object UUID of every call, DEA00000-6C97-11D1-8271-{instance,
//   device id, vendor id}, gives the called station's PROFINET vendor and
//   device ids;
// - a Connect request's ARBlockReq gives the controller's own station name
//   and its vendor and device ids, and whether it is a controller or a
//   supervisor; the answer's ARServerBlock gives the device's station name;
// - a read of the I&M0 record (index 0xAFF0) gives the device's order
//   number (model), serial number and software revision.
// The interface UUID tells who is who: a call to the device interface goes
// from a controller or supervisor to an IO device, a call to the controller
// interface (ApplicationReady) the other way.
//
// Connects and implicit reads go to UDP 34964 (the RPC endpoint mapper's
// port); the calls that follow use the ports the stacks bind in the dynamic
// range (49152-65535). match() reads only the RPC version and the PNIO
// interface UUID, so the many other datagrams on those ports pay a few byte
// comparisons.
import { isDeviceMac } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import { PROFINET_VENDORS } from './profinet.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { crossedRouter, emitForHost, observation, text } from './util.js';

const PNIO_CM_PORT = 34964;
const DYNAMIC_PORTS = Array.from({ length: 65536 - 49152 }, (_, i) => 49152 + i);
/** The DCE/RPC connectionless header (C706 §12.5.3.1). */
const HEADER = 80;
const RPC_VERSION = 4;
const PTYPE_REQUEST = 0;
const PTYPE_RESPONSE = 2;
const OPNUM_CONNECT = 0;
const OPNUM_RELEASE = 1;
const OPNUM_READ = 2;
const OPNUM_CONTROL = 4;
const OPNUM_READ_IMPLICIT = 5;
/** Flags1 bit: the body is one fragment of several; only fragment 0 begins the blocks. */
const FLAG_FRAGMENT = 0x04;
/** The PNIO interfaces: DEA0000x-6C97-11D1-8271-00A02442DF7D. */
const IF_DEVICE = 1;
const IF_CONTROLLER = 2;
const IF_SUPERVISOR = 3;
/**
 * The interface UUIDs' node field, 00:A0:24:42:DF:7D (in either data
 * representation: it is a byte array), as a 32-bit and a 16-bit word: two
 * reads, where Buffer.compare's native call took ~5% of a PNIO-CM capture's time.
 */
const PNIO_IF_NODE_HIGH = 0x00a02442;
const PNIO_IF_NODE_LOW = 0xdf7d;
/** NDR array header before the blocks: args maximum or PNIO status, args length, maximum count, offset, actual count. */
const NDR_HEADER = 20;
const BLOCK_AR_REQ = 0x0101;
const BLOCK_AR_SERVER = 0x8106;
const BLOCK_READ_RES_HEADER = 0x8009;
const BLOCK_IM0 = 0x0020;
const INDEX_IM0 = 0xaff0;
const AR_TYPE_SUPERVISOR = 0x0006;
/** Blocks per body worth walking (a Connect holds a handful; a read answer two). */
const MAX_BLOCKS = 64;

/** The first field of a UUID at `o` as the packet's data representation orders it. */
function uuidFirst(b: Buffer, o: number, littleEndian: boolean): number {
  return littleEndian ? b.readUInt32LE(o) : b.readUInt32BE(o);
}

/** True when the 16-byte UUID at `o` is a PNIO one (DEA0000x-6C97-11D1-8271-…); its time_mid/hi fields in `littleEndian` order. */
function isPnioUuid(b: Buffer, o: number, littleEndian: boolean): boolean {
  if (uuidFirst(b, o, littleEndian) >>> 4 !== 0x0dea0000) return false;
  const mid = littleEndian ? b.readUInt16LE(o + 4) : b.readUInt16BE(o + 4);
  const hi = littleEndian ? b.readUInt16LE(o + 6) : b.readUInt16BE(o + 6);
  return mid === 0x6c97 && hi === 0x11d1 && b[o + 8] === 0x82 && b[o + 9] === 0x71;
}

/** Vendor and device ids as text, made once each: every call of a session names them again. */
const hex4Texts = new Map<number, string>();

function hex4(n: number): string {
  let text = hex4Texts.get(n);
  if (text === undefined) {
    text = `0x${n.toString(16).padStart(4, '0')}`;
    hex4Texts.set(n, text);
  }
  return text;
}

type Side = 'src' | 'dst';

type Emit = (side: Side, name: ObservationName, value: string, confidence: number, field: string) => void;

/**
 * Facts about one end of the call. PROFINET runs on the plant segment:
 * a station there is keyed by its MAC, as DCP's are; one behind a router
 * (its datagrams' TTL decremented) by its IP.
 */
function emitter(pkt: PacketView, sink: ObservationSink): Emit {
  const routed = crossedRouter(pkt);
  return (side: Side, name: ObservationName, value: string, confidence: number, field: string) => {
    if (value === '') return;
    if (side === 'src' && routed) {
      emitForHost(pkt, sink, 'profinet', name, value, confidence, field, 'src');
      return;
    }
    const mac = side === 'src' ? pkt.srcMac : pkt.dstMac;
    if (!isDeviceMac(mac)) return; // a group address is no station
    sink.observe(observation(pkt, mac, undefined, 'profinet', name, value, confidence, field));
  };
}

/** A UUID field's evidence names, made once (a name built per packet is a new string to hash each time). */
interface IdFields {
  vendorId: string;
  deviceId: string;
}
const idFields = (field: string): IdFields => ({
  vendorId: `${field}.vendor_id`,
  deviceId: `${field}.device_id`,
});
const OBJECT_UUID = idFields('rpc.object_uuid');
const INITIATOR_OBJECT_UUID = idFields('ar_block_req.cm_initiator_object_uuid');

/** Vendor and device ids from a PNIO object UUID's node field (its last six bytes: instance, device id, vendor id). */
function emitIds(emit: Emit, side: Side, b: Buffer, node: number, field: IdFields): void {
  const device = b.readUInt16BE(node + 2);
  const vendor = b.readUInt16BE(node + 4);
  if (vendor === 0 && device === 0) return;
  emit(side, 'vendorId', hex4(vendor), 0.85, field.vendorId);
  emit(side, 'productCode', hex4(device), 0.85, field.deviceId);
  const name = PROFINET_VENDORS[vendor];
  if (name) emit(side, 'manufacturer', name, 0.8, field.vendorId);
}

const u16 = (b: Buffer, at: number, littleEndian: boolean): number =>
  littleEndian ? b.readUInt16LE(at) : b.readUInt16BE(at);

/** A fragment other than the first: its bytes continue a block begun in fragment 0. */
const laterFragment = (b: Buffer, o: number, littleEndian: boolean): boolean =>
  (b[o + 2]! & FLAG_FRAGMENT) !== 0 && u16(b, o + 76, littleEndian) !== 0;

/**
 * Where the call's blocks (from o + HEADER + NDR_HEADER) end: as many bytes
 * as the NDR array's actual count says, within the body and the datagram;
 * -1 when the datagram ends before them.
 */
function bodyEndOf(b: Buffer, o: number, end: number, littleEndian: boolean): number {
  const first = o + HEADER + NDR_HEADER;
  if (first > end) return -1;
  const actual = littleEndian ? b.readUInt32LE(first - 4) : b.readUInt32BE(first - 4);
  return Math.min(end, o + HEADER + u16(b, o + 74, littleEndian), first + actual);
}

/** Whether the read answer's record at `p` is I&M0 (the IODReadResHeader names index 0xAFF0). */
function readsIm0(b: Buffer, p: number, end: number): boolean {
  return (
    p + 36 <= end && b.readUInt16BE(p) === BLOCK_READ_RES_HEADER && b.readUInt16BE(p + 6 + 28) === INDEX_IM0
  );
}

/**
 * The repeat key of a call that says only what its RPC header does: the
 * interface (who is the device), request or answer, and the object UUID's
 * vendor and device ids. A controller's or supervisor's record reads and
 * writes, and their answers, repeat that while it polls diagnostics. A
 * Connect, Release or Control (blocks naming stations) and an answer
 * carrying I&M0 are decoded every time (undefined).
 */
function rpcHeaderKey(pkt: PacketView): number | undefined {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  const littleEndian = b[o + 4]! >> 4 === 1;
  const ptype = b[o + 1]!;
  if (ptype !== PTYPE_REQUEST && ptype !== PTYPE_RESPONSE) return 0;
  const iface = uuidFirst(b, o + 24, littleEndian) & 0xf;
  if (iface !== IF_DEVICE && iface !== IF_CONTROLLER && iface !== IF_SUPERVISOR) return 0;
  // 1 + (ptype, iface) below 16, then the ids (or none) above: below 2^37, exact in a double.
  const ids = isPnioUuid(b, o + 8, littleEndian) ? 1 + b.readUInt32BE(o + 20) : 0;
  const key = 1 + ptype * 4 + iface + 16 * ids;
  if (iface === IF_SUPERVISOR || laterFragment(b, o, littleEndian)) return key;
  const bodyEnd = bodyEndOf(b, o, pkt.payloadEnd, littleEndian);
  if (bodyEnd < 0) return key;
  const opnum = u16(b, o + 68, littleEndian);
  if (opnum === OPNUM_READ || opnum === OPNUM_READ_IMPLICIT)
    return ptype === PTYPE_RESPONSE && readsIm0(b, o + HEADER + NDR_HEADER, bodyEnd) ? undefined : key;
  return opnum === OPNUM_CONNECT || opnum === OPNUM_RELEASE || opnum === OPNUM_CONTROL ? undefined : key;
}

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  const end = pkt.payloadEnd;
  const littleEndian = b[o + 4]! >> 4 === 1;
  const ptype = b[o + 1]!;
  if (ptype !== PTYPE_REQUEST && ptype !== PTYPE_RESPONSE) return; // acks, pings, faults: no identity
  const iface = uuidFirst(b, o + 24, littleEndian) & 0xf;
  if (iface !== IF_DEVICE && iface !== IF_CONTROLLER && iface !== IF_SUPERVISOR) return;
  const emit = emitter(pkt, sink);
  // Who is the device: the callee of a call on the device interface, the caller on the controller's.
  const request = ptype === PTYPE_REQUEST;
  const deviceSide: Side = (iface === IF_CONTROLLER) === request ? 'src' : 'dst';
  const calleeSide: Side = request ? 'dst' : 'src';
  if (isPnioUuid(b, o + 8, littleEndian)) emitIds(emit, calleeSide, b, o + 18, OBJECT_UUID);
  if (iface === IF_SUPERVISOR) return;
  const otherSide: Side = deviceSide === 'src' ? 'dst' : 'src';
  emit(deviceSide, 'role', 'profinet:io-device', 0.8, 'rpc.interface_uuid');

  if (laterFragment(b, o, littleEndian)) return;
  const opnum = u16(b, o + 68, littleEndian);
  const first = o + HEADER + NDR_HEADER;
  const bodyEnd = bodyEndOf(b, o, end, littleEndian);
  if (bodyEnd < 0) return;
  if (opnum === OPNUM_READ || opnum === OPNUM_READ_IMPLICIT) {
    if (!request) readResponse(emit, deviceSide, b, first, bodyEnd);
    return;
  }
  // Connect, Release and Control carry only blocks; a Write's record data is not made of blocks.
  if (opnum !== OPNUM_CONNECT && opnum !== OPNUM_RELEASE && opnum !== OPNUM_CONTROL) return;
  let p = first;
  for (let n = 0; n < MAX_BLOCKS && p + 6 <= bodyEnd; n++) {
    const type = b.readUInt16BE(p);
    const length = b.readUInt16BE(p + 2);
    if (length < 2) throw new RangeError(`PNIO block 0x${type.toString(16)} shorter than its version field`);
    const blockEnd = p + 4 + length;
    // A block cut by the datagram's end (a fragmented body) is read as far as it goes.
    const stop = Math.min(blockEnd, bodyEnd);
    const v = p + 6;
    // ARBlockReq (§5.2.3.1): ARType, ARUUID, SessionKey, CMInitiatorMacAdd, CMInitiatorObjectUUID,
    // ARProperties, timeout factor, UDP RT port, station name length, CMInitiatorStationName.
    if (type === BLOCK_AR_REQ && request && opnum === OPNUM_CONNECT && v + 52 <= stop) {
      const supervisor = b.readUInt16BE(v) === AR_TYPE_SUPERVISOR;
      const role = supervisor ? 'profinet:supervisor' : 'profinet:io-controller';
      emit(otherSide, 'role', role, 0.85, 'ar_block_req.ar_type');
      // Blocks are big-endian whatever the RPC header's data representation.
      if (isPnioUuid(b, v + 26, false)) emitIds(emit, otherSide, b, v + 36, INITIATOR_OBJECT_UUID);
      const name = text(b, v + 52, Math.min(stop, v + 52 + b.readUInt16BE(v + 50)));
      emit(otherSide, 'stationName', name, 0.85, 'ar_block_req.cm_initiator_station_name');
      emit(otherSide, 'hostname', name, 0.7, 'ar_block_req.cm_initiator_station_name');
    } else if (type === BLOCK_AR_SERVER && !request && v + 2 <= stop) {
      const name = text(b, v + 2, Math.min(stop, v + 2 + b.readUInt16BE(v)));
      emit(deviceSide, 'stationName', name, 0.85, 'ar_server_block.cm_responder_station_name');
      emit(deviceSide, 'hostname', name, 0.7, 'ar_server_block.cm_responder_station_name');
    }
    p = blockEnd;
  }
}

/**
 * A read's answer: IODReadResHeader, then the record. The I&M0 record (index
 * 0xAFF0; IEC 61158-6-10 §5.2.4.57) is the device's identity: vendor id,
 * order id, serial number and software revision (its hardware revision, a
 * bare counter, is not kept).
 */
function readResponse(emit: Emit, side: Side, b: Buffer, p: number, end: number): void {
  if (!readsIm0(b, p, end)) return;
  const im = p + 4 + b.readUInt16BE(p + 2);
  const d = im + 6;
  if (d + 44 > end || b.readUInt16BE(im) !== BLOCK_IM0) return;
  const vendor = b.readUInt16BE(d);
  emit(side, 'vendorId', hex4(vendor), 0.9, 'im0.vendor_id');
  const name = PROFINET_VENDORS[vendor];
  if (name) emit(side, 'manufacturer', name, 0.85, 'im0.vendor_id');
  emit(side, 'model', text(b, d + 2, d + 22), 0.85, 'im0.order_id');
  emit(side, 'serialNumber', text(b, d + 22, d + 38), 0.85, 'im0.im_serial_number');
  const prefix = String.fromCharCode(b[d + 40]!);
  if ('VRPUT'.includes(prefix))
    emit(
      side,
      'firmwareVersion',
      `${prefix}${b[d + 41]}.${b[d + 42]}.${b[d + 43]}`,
      0.85,
      'im0.im_software_revision',
    );
}

export const profinetCmDecoder: Decoder = {
  name: 'profinet',
  family: 'udp',
  keys: [PNIO_CM_PORT, ...DYNAMIC_PORTS],
  // Every other use of the dynamic ports (a DNS answer, RTP, QUIC) is no DCE/RPC version 4.
  leadingBytes: [RPC_VERSION],
  match: (pkt) => {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    if (pkt.payloadEnd - o < HEADER || b[o] !== RPC_VERSION) return false;
    const littleEndian = b[o + 4]! >> 4 === 1;
    // The interface UUID's node field is byte-ordered the same in either representation.
    return (
      isPnioUuid(b, o + 24, littleEndian) &&
      b.readUInt32BE(o + 34) === PNIO_IF_NODE_HIGH &&
      b.readUInt16BE(o + 38) === PNIO_IF_NODE_LOW
    );
  },
  repeatKey: rpcHeaderKey,
  decode,
};
