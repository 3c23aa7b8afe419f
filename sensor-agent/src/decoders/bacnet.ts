// BACnet/IP (ANSI/ASHRAE 135-2020: Annex J BVLL, clause 6 NPDU, clause 20
// APDU encoding). A device announces itself with I-Am (device instance and
// vendor id, clause 16.10); ReadProperty-ACKs (clause 15.5) from the device
// object carry its object-name (77), model-name (70), firmware-revision
// (44), application-software-version (12), location (58), vendor-name (121).
// These are the fields Zeek/ICSNPP's bacnet_device.log / bacnet_property.log
// report. Facts are keyed by IP: one BACnet/IP address is one device, even
// when one MAC answers for many addresses (a gateway or a simulator).
import { formatIp4, isHostIp4 } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import { type Decoder, NativeRepeatKey, type ObservationName, type ObservationSink } from './types.js';
import { emitForHost, text } from './util.js';
import { BACNET_VENDOR_NAMES } from './vendor-ids/bacnet.js';

const BACNET_PORT = 47808;
const BVLC_TYPE = 0x81;
const BVLC_FORWARDED_NPDU = 0x04;
const BVLC_ORIGINAL_UNICAST = 0x0a;
const BVLC_ORIGINAL_BROADCAST = 0x0b;
const PDU_CONFIRMED_REQUEST = 0;
const PDU_UNCONFIRMED = 1;
const PDU_COMPLEX_ACK = 3;
const PDU_ABORT = 7;
const SERVICE_I_AM = 0;
const SERVICE_READ_PROPERTY = 12;
const OBJECT_DEVICE = 8;

/**
 * Where the APDU's invoke id lies, from the start of the BVLL (clause 20.1:
 * byte 2 of a confirmed request, byte 1 of every answer), or -1: none
 * (unconfirmed services, network messages) or a header too short to tell.
 */
function invokeIdOffset(pkt: PacketView): number {
  const b = pkt.data;
  const start = pkt.payloadOffset;
  const end = pkt.payloadEnd;
  if (end - start < 6 || b[start] !== BVLC_TYPE) return -1;
  const fn = b[start + 1];
  let o = start + 4;
  if (fn === BVLC_FORWARDED_NPDU) o += 6;
  else if (fn !== BVLC_ORIGINAL_UNICAST && fn !== BVLC_ORIGINAL_BROADCAST) return -1;
  if (o + 2 > end || b[o] !== 1) return -1;
  const control = b[o + 1]!;
  o += 2;
  if (control & 0x80) return -1; // network layer message
  if (control & 0x20) {
    if (o + 3 > end) return -1;
    o += 3 + b[o + 2]!; // DNET, DLEN, DADR
  }
  if (control & 0x08) {
    if (o + 3 > end) return -1;
    o += 3 + b[o + 2]!; // SNET, SLEN, SADR
  }
  if (control & 0x20) o += 1; // hop count
  if (o >= end) return -1;
  const type = b[o]! >> 4;
  if (type === PDU_CONFIRMED_REQUEST) return o + 2 - start;
  return type === PDU_UNCONFIRMED || type > PDU_ABORT ? -1 : o + 1 - start;
}

/** Properties of the device object worth an attribute or hint. */
const PROPERTIES: Record<number, [ObservationName, string, number]> = {
  77: ['hostname', 'object_name', 0.7],
  70: ['model', 'model_name', 0.85],
  44: ['firmwareVersion', 'firmware_revision', 0.85],
  12: ['softwareVersion', 'application_software_version', 0.8],
  58: ['location', 'location', 0.8],
  121: ['manufacturer', 'vendor_name', 0.85],
};

export const bacnetDecoder: Decoder = {
  name: 'bacnet',
  family: 'udp',
  keys: [BACNET_PORT],
  // I-Am and the device object's properties are announced and polled again and again, the same
  // but for the invoke id that pairs a request with its answer.
  announces: true,
  transactionId: { length: 1, offset: invokeIdOffset },
  match: (pkt) => pkt.srcPort === BACNET_PORT && pkt.payloadEnd - pkt.payloadOffset >= 4,
  // native/repeat_keys.c's bacnet mirrors repeatKey() below (repeat-keys.test.ts compares them).
  nativeRepeatKey: NativeRepeatKey.bacnet,
  /**
   * Cyclic polling: what a device answers about objects other than its
   * device object (present values) says only that it is a BACnet device (1);
   * a confirmed request, only that its sender asks one (2); other services
   * say nothing here (0). I-Am, device-object
   * properties, routed and forwarded messages, and anything malformed are
   * decoded.
   */
  repeatKey(pkt: PacketView): number | undefined {
    const b = pkt.data;
    const start = pkt.payloadOffset;
    const fn = b[start + 1];
    if (b[start] !== BVLC_TYPE || (fn !== BVLC_ORIGINAL_UNICAST && fn !== BVLC_ORIGINAL_BROADCAST))
      return undefined;
    const end = Math.min(pkt.payloadEnd, start + b.readUInt16BE(start + 2));
    let o = start + 4;
    if (o + 2 > end || b[o] !== 1) return undefined;
    const control = b[o + 1]!;
    o += 2;
    if (control & 0x80) return 0; // network layer message
    if (control & 0x08) return undefined; // from another BACnet network
    if (control & 0x20) {
      if (o + 3 > end) return undefined;
      o += 3 + b[o + 2]! + 1; // DNET, DLEN, DADR, hop count
    }
    if (o + 2 > end) return undefined;
    const type = b[o]! >> 4;
    if (type === PDU_UNCONFIRMED) return b[o + 1] === SERVICE_I_AM ? undefined : 0;
    if (type === PDU_CONFIRMED_REQUEST) return 2;
    if (type !== PDU_COMPLEX_ACK) return 0;
    if (o + 3 > end) return undefined; // no service choice: malformed
    if ((b[o]! & 0x08) !== 0 || b[o + 2] !== SERVICE_READ_PROPERTY) return 1;
    try {
      return readPropertyAckHead(b, o + 3, end)[0] >>> 22 === OBJECT_DEVICE ? undefined : 1;
    } catch {
      return undefined; // decode() rejects it, and counts it
    }
  },
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const start = pkt.payloadOffset;
    if (b[start] !== BVLC_TYPE) throw new RangeError('not a BACnet/IP BVLC header');
    const fn = b[start + 1]!;
    const bvlcLength = b.readUInt16BE(start + 2);
    const end = Math.min(pkt.payloadEnd, start + bvlcLength);
    let o = start + 4;
    let origin: string | undefined;
    if (fn === BVLC_FORWARDED_NPDU) {
      // The original source B/IP address (6 bytes) names the device, not the BBMD that forwarded it.
      if (o + 6 > end) throw new RangeError('Forwarded-NPDU address truncated');
      const ip = b.readUInt32BE(o);
      origin = isHostIp4(ip) ? formatIp4(ip) : undefined;
      o += 6;
    } else if (fn !== BVLC_ORIGINAL_UNICAST && fn !== BVLC_ORIGINAL_BROADCAST) {
      return;
    }
    // NPDU (clause 6.2): version, control, optional DNET/DADR, SNET/SADR, hop count.
    if (o + 2 > end || b[o] !== 1) throw new RangeError('BACnet NPDU version is not 1');
    const control = b[o + 1]!;
    o += 2;
    if (control & 0x80) return; // network layer message
    if (control & 0x20) {
      if (o + 3 > end) throw new RangeError('NPDU DNET truncated');
      o += 3 + b[o + 2]!;
    }
    const routedFromNetwork = (control & 0x08) !== 0;
    let snet = -1;
    if (routedFromNetwork) {
      if (o + 3 > end) throw new RangeError('NPDU SNET truncated');
      snet = b.readUInt16BE(o);
      o += 3 + b[o + 2]!;
    }
    if (control & 0x20) o += 1; // hop count
    if (o + 2 > end) throw new RangeError('BACnet APDU truncated');
    const emit = (name: ObservationName, value: string, c: number, field: string) => {
      if (origin === undefined) emitForHost(pkt, sink, 'bacnet', name, value, c, field);
      else if (value !== '')
        sink.observe({
          mac: -1,
          ip: origin,
          name,
          value,
          confidence: c,
          protocol: 'bacnet',
          field,
          timestampMs: pkt.timestampMs,
          routed: true,
        });
    };
    const type = b[o]! >> 4;
    if (routedFromNetwork) {
      // A device on another BACnet network (SNET/SADR), behind this IP host: the host is a
      // BACnet router, and the remote device is reported as a module it fronts.
      emit('role', 'bacnet:router', 0.8, 'npdu.snet');
      if (type === PDU_UNCONFIRMED && b[o + 1] === SERVICE_I_AM) {
        let instance = '';
        let vendor = '';
        iAm(b, o + 2, end, (name, value) => {
          if (name === 'deviceInstance') instance = value;
          else if (name === 'vendorId') vendor = value;
        });
        if (instance !== '')
          emit('module', `BACnet device ${instance} vendor ${vendor} on network ${snet}`, 0.8, 'i_am.routed');
      }
      return;
    }
    if (type === PDU_UNCONFIRMED && b[o + 1] === SERVICE_I_AM) {
      iAm(b, o + 2, end, emit);
    } else if (type === PDU_CONFIRMED_REQUEST) {
      // Reads, writes or subscribes to another device's objects: a BMS front end or workstation, or a
      // controller reading its peers (whose own I-Am and answers then say it is one).
      emit('role', 'bacnet:client', 0.7, 'confirmed_request');
    } else if (type === PDU_COMPLEX_ACK) {
      emit('role', 'bacnet:device', 0.8, 'complex_ack');
      const segmented = (b[o]! & 0x08) !== 0;
      if (segmented) return; // only the first segment would parse: not worth reassembly for identity
      if (b[o + 2] === SERVICE_READ_PROPERTY) readPropertyAck(b, o + 3, end, emit);
    }
  },
};

type Emit = (name: ObservationName, value: string, confidence: number, field: string) => void;

/** Reads an application/context tag header at `o`: [tagNumber, class(1=context), length, contentOffset]. */
function tagAt(b: Buffer, o: number, end: number): [number, number, number, number] {
  if (o >= end) throw new RangeError('BACnet tag truncated');
  const first = b[o]!;
  let tag = first >> 4;
  const cls = (first >> 3) & 1;
  let len = first & 0x07;
  let p = o + 1;
  if (tag === 15) {
    if (p >= end) throw new RangeError('BACnet extended tag truncated');
    tag = b[p++]!;
  }
  if (len === 5) {
    if (p >= end) throw new RangeError('BACnet extended length truncated');
    len = b[p++]!;
    if (len === 254) {
      if (p + 2 > end) throw new RangeError('BACnet extended length truncated');
      len = b.readUInt16BE(p);
      p += 2;
    } else if (len === 255) {
      throw new RangeError('BACnet 32-bit length not expected here');
    }
  }
  if (cls === 1 && (len === 6 || len === 7)) return [tag, cls, -len, p]; // opening/closing tag
  if (p + len > end) throw new RangeError('BACnet tag content overruns the APDU');
  return [tag, cls, len, p];
}

function unsigned(b: Buffer, o: number, len: number): number {
  if (len < 1 || len > 4) throw new RangeError('BACnet unsigned of unexpected size');
  return b.readUIntBE(o, len);
}

function iAm(b: Buffer, o: number, end: number, emit: Emit): void {
  // iAmDeviceIdentifier (application tag 12), maxAPDULengthAccepted (2), segmentationSupported (9), vendorID (2).
  const [tag, cls, len, p] = tagAt(b, o, end);
  if (tag !== 12 || cls !== 0 || len !== 4)
    throw new RangeError('I-Am does not start with an object identifier');
  const id = b.readUInt32BE(p);
  if (id >>> 22 !== OBJECT_DEVICE) return;
  emit('role', 'bacnet:device', 0.9, 'i_am');
  emit('deviceInstance', String(id & 0x3fffff), 0.9, 'i_am.device_instance');
  let q = p + 4;
  for (let i = 0; i < 2; i++) q = tagAt(b, q, end)[3] + tagAt(b, q, end)[2];
  const [vt, vc, vl, vp] = tagAt(b, q, end);
  if (vt !== 2 || vc !== 0) throw new RangeError('I-Am vendor id is not an unsigned');
  const vendor = unsigned(b, vp, vl);
  emit('vendorId', String(vendor), 0.9, 'i_am.vendor_id');
  const name = BACNET_VENDOR_NAMES.get(vendor);
  if (name) emit('manufacturer', name, 0.8, 'i_am.vendor_id');
}

/**
 * The head of a ReadProperty-ACK (clause 15.5.1.3): object identifier,
 * property identifier, optional array index, and the opening tag of the
 * value, at [object, property, offset of the value]. Throws where it is
 * malformed.
 */
function readPropertyAckHead(b: Buffer, o: number, end: number): [number, number, number] {
  const [t0, c0, l0, p0] = tagAt(b, o, end);
  if (t0 !== 0 || c0 !== 1 || l0 !== 4) throw new RangeError('ReadProperty-ACK object identifier missing');
  const object = b.readUInt32BE(p0);
  const [t1, c1, l1, p1] = tagAt(b, p0 + 4, end);
  if (t1 !== 1 || c1 !== 1) throw new RangeError('ReadProperty-ACK property identifier missing');
  const property = unsigned(b, p1, l1);
  let q = p1 + l1;
  let [t, c, l, p] = tagAt(b, q, end);
  if (t === 2 && c === 1) {
    q = p + l; // array index
    [t, c, l, p] = tagAt(b, q, end);
  }
  if (t !== 3 || l !== -6) throw new RangeError('ReadProperty-ACK value is not an opening tag 3');
  return [object, property, p];
}

function readPropertyAck(b: Buffer, o: number, end: number, emit: Emit): void {
  const [object, property, p] = readPropertyAckHead(b, o, end);
  if (object >>> 22 !== OBJECT_DEVICE) return;
  const what = PROPERTIES[property];
  if (what) {
    const value = valueText(b, p, end);
    if (value !== undefined) emit(what[0], value, what[2], `read_property.${what[1]}`);
  }
  if (property === 120) {
    const [vt, , vl, vp] = tagAt(b, p, end);
    if (vt === 2) emit('vendorId', String(unsigned(b, vp, vl)), 0.9, 'read_property.vendor_identifier');
  }
}

/** An application-tagged CharacterString (tag 7) as text; undefined for other types. */
function valueText(b: Buffer, o: number, end: number): string | undefined {
  const [tag, cls, len, p] = tagAt(b, o, end);
  if (tag !== 7 || cls !== 0 || len < 1) return undefined;
  const charset = b[p]!;
  if (charset === 0 || charset === 5) return text(b, p + 1, p + len); // UTF-8 / ISO 8859-1
  if (charset === 4 && (len - 1) % 2 === 0) {
    // UCS-2 big endian.
    let s = '';
    for (let i = p + 1; i + 1 < p + len; i += 2) s += String.fromCharCode(b.readUInt16BE(i));
    return s.trim();
  }
  return undefined;
}
