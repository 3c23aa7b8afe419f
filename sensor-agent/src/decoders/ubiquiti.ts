// Ubiquiti's discovery protocol on UDP 10001 (UniFi, airMAX, EdgeMAX and
// UniFi Protect devices; Wireshark's "UBDP"): a device answers a discovery
// request, and UniFi devices also announce themselves, with a 4-byte header
// (version 1 or 2, command, payload length) and TLVs of a 1-byte type and a
// 2-byte length. They carry the device's host name, product code ("U7PG2"),
// model, firmware and, on access points, the SSID. A request carries no TLV
// and says nothing of its sender.
import { isDeviceMac } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { observation, text } from './util.js';

const UBNT_PORT = 10001;
const HEADER = 4;
const TLV_FIRMWARE_FULL = 3;
const TLV_HOSTNAME = 11;
const TLV_PRODUCT = 12;
const TLV_ESSID = 13;
const TLV_MODEL_TYPE = 20;
const TLV_MODEL = 21;
const TLV_FIRMWARE = 22;
const READ = new Set([
  TLV_FIRMWARE_FULL,
  TLV_HOSTNAME,
  TLV_PRODUCT,
  TLV_ESSID,
  TLV_MODEL_TYPE,
  TLV_MODEL,
  TLV_FIRMWARE,
]);

/**
 * What a product code or model names (Ubiquiti's own codes, as UniFi and
 * Wireshark list them): UniFi switches (US, USW), gateways and routers (UGW,
 * UDM, UXG, UDR, EdgeRouter), phones (UP), cameras (UVC); UniFi and airMAX
 * access points (U2, U5, U6, U7, UAP, BZ2, and any that reports an SSID).
 */
const KINDS: readonly [RegExp, string][] = [
  [/^(?:USW?\d|USW-|US-\d|USL|USMINI|USF|USPRPS)/i, 'ubiquiti:switch'],
  [/^(?:UGW|UDM|UXG|UDR|UCG|ER-|EdgeRouter|UDW)/i, 'ubiquiti:router'],
  [/^UP\d/i, 'ubiquiti:phone'],
  [/^(?:UVC|UniFi\s*(?:Video|Protect)|G[345]-)/i, 'ubiquiti:camera'],
  [/^(?:U[2567]|UAP|BZ2|U6-|UniFi\s*AP)/i, 'ubiquiti:access-point'],
];

export const ubiquitiDecoder: Decoder = {
  name: 'ubiquiti',
  family: 'udp',
  keys: [UBNT_PORT],
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset > HEADER,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const device = pkt.srcMac;
    if (!isDeviceMac(device)) return;
    const b = pkt.data;
    const end = pkt.payloadEnd;
    const o0 = pkt.payloadOffset;
    // Another use of the port (10001 is not reserved): not a header of this protocol, so nothing to read.
    const version = b[o0]!;
    if ((version !== 1 && version !== 2) || b.readUInt16BE(o0 + 2) !== end - o0 - HEADER) return;
    const fields = new Map<number, string>();
    for (let o = o0 + HEADER; o < end; ) {
      if (o + 3 > end) throw new RangeError('Ubiquiti discovery TLV header truncated');
      const type = b[o]!;
      const length = b.readUInt16BE(o + 1);
      if (o + 3 + length > end) throw new RangeError(`Ubiquiti discovery TLV ${type} overruns the datagram`);
      if (READ.has(type)) fields.set(type, text(b, o + 3, o + 3 + length).trim());
      o += 3 + length;
    }
    // A request, or an answer of addresses only: nothing names the device.
    const product = fields.get(TLV_PRODUCT);
    const model = fields.get(TLV_MODEL) || fields.get(TLV_MODEL_TYPE);
    if (!product && !model && !fields.has(TLV_HOSTNAME)) return;
    const emit = (name: ObservationName, value: string | undefined, confidence: number, field: string) => {
      if (value)
        sink.observe(observation(pkt, device, undefined, 'ubiquiti', name, value, confidence, field));
    };
    emit('manufacturer', 'Ubiquiti', 0.85, 'discovery');
    emit('hostname', fields.get(TLV_HOSTNAME), 0.8, 'hostname');
    emit('model', model ?? product, model ? 0.85 : 0.75, model ? 'model' : 'product');
    // The short version ("6.5.55"), else the full build string ("BZ2.ar7240.v3.7.58.6385.170508.0957").
    const short = fields.get(TLV_FIRMWARE);
    const full = fields.get(TLV_FIRMWARE_FULL);
    const release = short || /\.v(\d+(?:\.\d+){1,3})/.exec(full ?? '')?.[1];
    emit('firmwareVersion', release, 0.8, short ? 'firmware' : 'firmware_full');
    const named = [product, model].filter((x): x is string => !!x);
    const kind = KINDS.find(([re]) => named.some((n) => re.test(n)))?.[1];
    emit('role', kind ?? (fields.get(TLV_ESSID) ? 'ubiquiti:access-point' : undefined), 0.75, 'product');
  },
};
