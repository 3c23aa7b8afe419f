// Beckhoff ADS over AMS/TCP (TCP 48898): TwinCAT PLCs and IPCs answer it,
// HMIs, SCADA drivers and TwinCAT engineering ask. A 6-byte AMS/TCP header
// (two reserved bytes, a 32-bit little-endian length) precedes each AMS
// packet: a 32-byte header of target and source AMS NetId and port, command
// id, state flags (bit 0: response), data length, error code and invoke id,
// then the ADS data (Beckhoff Information System, "ADS specification"). The
// answer to READ DEVICE INFO (command 1) names the ADS device ("TwinCAT
// System", "Plc30 App") and its TwinCAT version (major, minor, build). The
// sender's AMS NetId ("5.12.34.56.1.1") is its address on the ADS network.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForHost, fixedText } from './util.js';

const ADS_PORT = 48898;
const AMS_TCP_HEADER = 6;
const AMS_HEADER = 32;
const STATE_RESPONSE = 0x0001;
const READ_DEVICE_INFO = 1;
/** Result (4), major and minor version (1 each), build (2), device name (16). */
const DEVICE_INFO = 24;
/** ADS commands 0-9 are defined; anything else is not ADS. */
const MAX_COMMAND = 9;
const MAX_PACKETS = 8;

/** A little-endian AMS NetId, six bytes, as dotted decimal. */
const netId = (b: Buffer, o: number): string => Array.from(b.subarray(o, o + 6)).join('.');

function report(pkt: PacketView, sink: ObservationSink, b: Buffer, o: number, end: number): void {
  if (end - o < AMS_HEADER) throw new RangeError('AMS header truncated');
  const command = b.readUInt16LE(o + 16);
  if (command > MAX_COMMAND) throw new RangeError(`ADS command ${command} unknown`);
  const response = (b.readUInt16LE(o + 18) & STATE_RESPONSE) !== 0;
  const emit = (name: ObservationName, value: string, confidence: number, field: string) =>
    emitForHost(pkt, sink, 'ads', name, value, confidence, field);
  emit('linkAddress', netId(b, o + 8), 0.8, 'ams.sendernetid');
  if (!response) {
    emit('role', 'ads:client', 0.8, 'ams.stateflags');
    return;
  }
  emit('role', 'ads:server', 0.85, 'ams.stateflags');
  const data = o + AMS_HEADER;
  if (command !== READ_DEVICE_INFO || data + DEVICE_INFO > end || b.readUInt32LE(data) !== 0) return;
  const version = `${b[data + 4]}.${b[data + 5]}.${b.readUInt16LE(data + 6)}`;
  const name = fixedText(b, data + 8, data + DEVICE_INFO);
  emit('softwareVersion', name ? `${name} ${version}` : version, 0.85, 'ads.devicename');
  // TwinCAT's version: the runtime is the controller's firmware.
  emit('firmwareVersion', version, 0.7, 'ads.version');
  emit('manufacturer', 'Beckhoff', 0.6, 'ads.devicename');
}

export const adsDecoder: Decoder = {
  name: 'ads',
  family: 'tcp',
  keys: [ADS_PORT],
  // The AMS/TCP length, after its 6-byte header.
  messageLength: (_pkt, b, start, end) =>
    end - start < AMS_TCP_HEADER
      ? AMS_TCP_HEADER
      : b.readUInt16LE(start) !== 0
        ? 0
        : AMS_TCP_HEADER + b.readUInt32LE(start + 2),
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= AMS_TCP_HEADER + AMS_HEADER,
  // Cyclic reads and notifications repeat the sender's side and NetId: the key. READ DEVICE INFO answers are decoded.
  repeatKey(pkt) {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    if (b.readUInt16LE(o) !== 0 || AMS_TCP_HEADER + b.readUInt32LE(o + 2) !== pkt.payloadEnd - o)
      return undefined;
    const ams = o + AMS_TCP_HEADER;
    const command = b.readUInt16LE(ams + 16);
    const response = b.readUInt16LE(ams + 18) & STATE_RESPONSE;
    if (command > MAX_COMMAND || (response && command === READ_DEVICE_INFO)) return undefined;
    // The sender's NetId's last four bytes, with the response bit: cheap and specific enough.
    return (b.readUInt32LE(ams + 10) >>> 1) * 2 + response;
  },
  decode(pkt, sink) {
    const b = pkt.data;
    const end = pkt.payloadEnd;
    let o = pkt.payloadOffset;
    for (let n = 0; n < MAX_PACKETS && o + AMS_TCP_HEADER <= end; n++) {
      // Reserved bytes that are not zero: another use of the port, or the middle of a packet.
      if (b.readUInt16LE(o) !== 0) return;
      const length = b.readUInt32LE(o + 2);
      const packetEnd = Math.min(end, o + AMS_TCP_HEADER + length);
      report(pkt, sink, b, o + AMS_TCP_HEADER, packetEnd);
      o += AMS_TCP_HEADER + length;
    }
  },
};
