// OPC UA binary (OPC 10000-6 §7.1 UA Connection Protocol, §5.2 binary
// encoding; services OPC 10000-4 §5.4). A client's Hello names the server's
// EndpointUrl; GetEndpoints and FindServers responses carry the server's
// ApplicationDescription: ApplicationUri, ProductUri, ApplicationName, the
// identity Zeek/ICSNPP's opcua-binary logs show. Only unencrypted chunks
// (discovery runs on SecurityMode None) can be read.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForHost, text } from './util.js';

/** The IANA port and ones vendors commonly use (OPC Foundation LDS 4840, Unified Automation 48010...). */
const OPCUA_PORTS = [4840, 4843, 48010, 48400];
const HEL = 0x48454c; // "HEL"
const MSG = 0x4d5347; // "MSG"
const FIND_SERVERS_RESPONSE = 425;
const GET_ENDPOINTS_RESPONSE = 431;
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
  nodeId(): number {
    const encoding = this.u8() & 0x3f;
    if (encoding === 0) return this.u8();
    if (encoding === 1) {
      this.skip(1);
      return this.u16();
    }
    if (encoding === 2) {
      this.skip(2);
      return this.i32();
    }
    throw new RangeError('OPC UA NodeId encoding not expected here');
  }
  localizedText(): string | undefined {
    const mask = this.u8();
    if (mask & 0x01) this.skipString();
    return mask & 0x02 ? this.string() : undefined;
  }
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
  if (service !== GET_ENDPOINTS_RESPONSE && service !== FIND_SERVERS_RESPONSE) return;
  // ResponseHeader: timestamp, request handle, service result, diagnostics, string table, additional header.
  r.skip(16);
  if (r.u8() !== 0) return; // diagnostic info present: not worth decoding
  const strings = r.i32();
  for (let i = 0; i < strings && i < MAX_ITEMS; i++) r.skipString();
  r.nodeId();
  if (r.u8() !== 0) return; // an additional header body
  const count = r.i32();
  if (count < 1) return;
  let endpointUrl: string | undefined;
  if (service === GET_ENDPOINTS_RESPONSE) endpointUrl = r.string();
  const emit = (name: ObservationName, value: string | undefined, c: number, field: string) => {
    if (value) emitForHost(pkt, sink, 'opcua', name, value, c, field);
  };
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
