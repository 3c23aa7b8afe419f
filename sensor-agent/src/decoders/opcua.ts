// OPC UA binary (OPC 10000-6 §7.1 UA Connection Protocol, §5.2 binary
// encoding; services OPC 10000-4 §5.4). A client's Hello names the server's
// EndpointUrl; GetEndpoints and FindServers responses carry the server's
// ApplicationDescription: ApplicationUri, ProductUri, ApplicationName, the
// identity Zeek/ICSNPP's opcua-binary logs show. A Read response that returns
// the server's ServerStatus or BuildInfo (OPC 10000-5 §12.10, §12.4: what
// SCADA clients read as a heartbeat) names its maker, product and software
// version; those values carry their own data type id, so they are known
// without the request. Only unencrypted chunks (discovery, and sessions on
// SecurityMode None) can be read.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForHost, text } from './util.js';

/** The IANA port and ones vendors commonly use (OPC Foundation LDS 4840, Unified Automation 48010...). */
const OPCUA_PORTS = [4840, 4843, 48010, 48400];
const HEL = 0x48454c; // "HEL"
const MSG = 0x4d5347; // "MSG"
const FIND_SERVERS_RESPONSE = 425;
const GET_ENDPOINTS_RESPONSE = 431;
const READ_RESPONSE = 634;
/** Binary encodings (OPC 10000-6 Annex A's NodeIds) of the two structures that hold BuildInfo. */
const BUILD_INFO_ENCODING = 340;
const SERVER_STATUS_ENCODING = 864;
const VARIANT_EXTENSION_OBJECT = 22;
const MAX_ITEMS = 16;

class Reader {
  constructor(
    readonly b: Buffer,
    public o: number,
    readonly end: number,
  ) {}
  need(n: number): void {
    if (this.o + n > this.end) throw new RangeError('OPC UA message truncated');
  }
  u8(): number {
    this.need(1);
    return this.b[this.o++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16LE(this.o);
    this.o += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.b.readInt32LE(this.o);
    this.o += 4;
    return v;
  }
  skip(n: number): void {
    this.need(n);
    this.o += n;
  }
  /** String/ByteString: int32 length, -1 for null. */
  string(): string | undefined {
    const len = this.i32();
    if (len < 0) return undefined;
    this.need(len);
    const s = text(this.b, this.o, this.o + len);
    this.o += len;
    return s;
  }
  skipString(): void {
    const len = this.i32();
    if (len > 0) this.skip(len);
  }
  localizedText(): string | undefined {
    const mask = this.u8();
    if (mask & 0x01) this.skipString();
    return mask & 0x02 ? this.string() : undefined;
  }
  /** Any NodeId or ExpandedNodeId (§5.2.2.9-10): numeric ones give their id, the others -1. */
  nodeId(): number {
    const flags = this.u8();
    const encoding = flags & 0x0f;
    let id = -1;
    if (encoding === 0) id = this.u8();
    else if (encoding === 1) {
      this.skip(1);
      id = this.u16();
    } else if (encoding === 2) {
      this.skip(2);
      id = this.i32();
    } else if (encoding === 3 || encoding === 5) {
      this.skip(2);
      this.skipString();
    } else if (encoding === 4) this.skip(18);
    else throw new RangeError(`OPC UA NodeId encoding ${encoding}`);
    if (flags & 0x80) this.skipString(); // namespace URI
    if (flags & 0x40) this.skip(4); // server index
    return id;
  }
  /**
   * An ExtensionObject's header (§5.2.2.15): its encoding's id, whether its
   * body is binary (not XML, or absent), and where the object ends. The reader
   * is left at the body's start.
   */
  extensionObject(): { type: number; binary: boolean; end: number } {
    const type = this.nodeId();
    const encoding = this.u8();
    if (encoding === 0) return { type, binary: false, end: this.o };
    const length = this.i32();
    if (length < 0) throw new RangeError('OPC UA ExtensionObject length');
    this.need(length);
    return { type, binary: encoding === 1, end: this.o + length };
  }
}

/** Bytes of a Variant's scalar of each built-in type (§5.1.2) whose size is fixed; 0 where it is not. */
const FIXED_SIZE = [0, 1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 0, 8, 16, 0, 0, 0, 0, 4];

/**
 * Skips one value of built-in type `type`; false for the types not stepped
 * over here (DataValue, Variant and DiagnosticInfo inside a Variant): valid,
 * but the values after them cannot be found.
 */
function skipValue(r: Reader, type: number): boolean {
  const fixed = FIXED_SIZE[type];
  if (fixed) {
    r.skip(fixed);
    return true;
  }
  switch (type) {
    case 0:
      return true;
    case 12: // String
    case 15: // ByteString
    case 16: // XmlElement
      r.skipString();
      return true;
    case 17: // NodeId
    case 18: // ExpandedNodeId
      r.nodeId();
      return true;
    case 20: // QualifiedName
      r.skip(2);
      r.skipString();
      return true;
    case 21: // LocalizedText
      r.localizedText();
      return true;
    case VARIANT_EXTENSION_OBJECT:
      r.o = r.extensionObject().end;
      return true;
    default:
      return false;
  }
}

/**
 * The BuildInfo (§12.4) at the reader: ProductUri, ManufacturerName,
 * ProductName, SoftwareVersion (BuildNumber and BuildDate follow, unread).
 */
function buildInfo(r: Reader): {
  productUri?: string;
  manufacturer?: string;
  product?: string;
  version?: string;
} {
  return { productUri: r.string(), manufacturer: r.string(), product: r.string(), version: r.string() };
}

/**
 * The BuildInfo in a Read response's results, from a ServerStatus or a
 * BuildInfo value; undefined when none is there (or the results hold a
 * value this reader cannot step over before it).
 */
function buildInfoOfResults(r: Reader): ReturnType<typeof buildInfo> | undefined {
  const count = r.i32();
  for (let i = 0; i < count && i < MAX_ITEMS; i++) {
    const mask = r.u8(); // DataValue (§5.2.2.17)
    if (mask & 0x01) {
      const variant = r.u8();
      const type = variant & 0x3f;
      if (variant & 0xc0) return undefined; // an array: not a ServerStatus or BuildInfo
      if (type === VARIANT_EXTENSION_OBJECT) {
        const { type: encoding, binary, end } = r.extensionObject();
        if (binary && (encoding === BUILD_INFO_ENCODING || encoding === SERVER_STATUS_ENCODING)) {
          const body = new Reader(r.b, r.o, end);
          if (encoding === SERVER_STATUS_ENCODING) body.skip(20); // StartTime, CurrentTime, State
          return buildInfo(body);
        }
        r.o = end;
      } else if (!skipValue(r, type)) return undefined;
    }
    if (mask & 0x02) r.skip(4); // StatusCode
    if (mask & 0x04) r.skip(8); // SourceTimestamp
    if (mask & 0x10) r.skip(2); // SourcePicoseconds
    if (mask & 0x08) r.skip(8); // ServerTimestamp
    if (mask & 0x20) r.skip(2); // ServerPicoseconds
  }
  return undefined;
}

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  const end = pkt.payloadEnd;
  if (end < o + 8) throw new RangeError('OPC UA header truncated');
  const type = b.readUIntBE(o, 3);
  const size = b.readUInt32LE(o + 4);
  if (size < 8) throw new RangeError('OPC UA message size too small');
  if (type !== HEL && (type !== MSG || b[o + 3] !== 0x46)) return; // only Hello and single-chunk ("F") messages
  const r = new Reader(b, o + 8, Math.min(end, o + size));
  if (type === HEL) {
    r.skip(20); // version, buffer sizes, max message size, max chunk count
    const url = r.string();
    emitForHost(pkt, sink, 'opcua', 'role', 'opcua:client', 0.8, 'hello');
    emitForHost(pkt, sink, 'opcua', 'role', 'opcua:server', 0.8, 'hello', 'dst');
    if (url) emitForHost(pkt, sink, 'opcua', 'endpointUrl', url, 0.8, 'hello.endpoint_url', 'dst');
    return;
  }
  r.skip(16); // secure channel id, token id, sequence number, request id
  const service = r.nodeId();
  if (service !== GET_ENDPOINTS_RESPONSE && service !== FIND_SERVERS_RESPONSE && service !== READ_RESPONSE)
    return;
  // ResponseHeader: timestamp, request handle, service result, diagnostics, string table, additional header.
  r.skip(16);
  if (r.u8() !== 0) return; // diagnostic info present: not worth decoding
  const strings = r.i32();
  for (let i = 0; i < strings && i < MAX_ITEMS; i++) r.skipString();
  r.nodeId();
  if (r.u8() !== 0) return; // an additional header body
  const emit = (name: ObservationName, value: string | undefined, c: number, field: string) => {
    if (value) emitForHost(pkt, sink, 'opcua', name, value, c, field);
  };
  if (service === READ_RESPONSE) {
    const build = buildInfoOfResults(r);
    if (!build) return;
    emit('role', 'opcua:server', 0.9, 'response');
    emit('manufacturer', build.manufacturer, 0.85, 'build_info.manufacturer_name');
    emit('model', build.product, 0.8, 'build_info.product_name');
    emit('firmwareVersion', build.version, 0.8, 'build_info.software_version');
    emit('productUri', build.productUri, 0.9, 'build_info.product_uri');
    return;
  }
  const count = r.i32();
  if (count < 1) return;
  let endpointUrl: string | undefined;
  if (service === GET_ENDPOINTS_RESPONSE) endpointUrl = r.string();
  emit('role', 'opcua:server', 0.9, 'response');
  emit('endpointUrl', endpointUrl, 0.9, 'get_endpoints.endpoint_url');
  emit('applicationUri', r.string(), 0.9, 'application_description.application_uri');
  emit('productUri', r.string(), 0.9, 'application_description.product_uri');
  emit('model', r.localizedText(), 0.5, 'application_description.application_name');
}

const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;

export const opcuaDecoder: Decoder = {
  name: 'opcua',
  family: 'tcp',
  keys: OPCUA_PORTS,
  // OPC 10000-6 §7.1.2.2: MessageSize (the whole chunk) follows the 3-byte type and the chunk type.
  // A GetEndpoints answer carries the server's certificates and runs to several KB.
  messageLength: (_pkt, b, start, end) => {
    for (let i = start; i < Math.min(end, start + 3); i++) if (!isUpper(b[i]!)) return 0; // "HEL", "MSG", ...
    return end - start < 8 ? 8 : b.readUInt32LE(start + 4);
  },
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= 8,
  decode,
};
