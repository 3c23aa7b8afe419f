// MikroTik Neighbor Discovery Protocol (MNDP) on UDP 5678: every RouterOS
// router, switch and access point broadcasts it on each interface (MikroTik's
// "IP/Neighbor discovery" manual), as CDP and LLDP do on the link layer. A
// 4-byte header (two reserved bytes and a sequence number) precedes TLVs of a
// 16-bit type and a 16-bit length (big-endian): the device's identity (its
// configured name), RouterOS version, platform, board (hardware model) and
// the sending interface's name and addresses. A sender that says nothing
// (RouterOS tools' discovery requests are 4 bytes) gives nothing.
import { isDeviceMac } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { observation, text } from './util.js';

const MNDP_PORT = 5678;
const HEADER = 4;
const TLV_IDENTITY = 5;
const TLV_VERSION = 7;
const TLV_PLATFORM = 8;
const TLV_BOARD = 12;
const TLV_INTERFACE = 16;
/** Cloud Router Switches and Cloud Smart Switches (CRS, CSS) are switches; every other board routes. */
const SWITCH_BOARD = /^(?:CRS|CSS)\d/i;

export const mndpDecoder: Decoder = {
  name: 'mndp',
  family: 'udp',
  keys: [MNDP_PORT],
  match: (pkt) => pkt.srcPort === MNDP_PORT && pkt.payloadEnd - pkt.payloadOffset > HEADER,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const device = pkt.srcMac;
    if (!isDeviceMac(device)) return;
    const b = pkt.data;
    const end = pkt.payloadEnd;
    // TLV types and lengths are small: a first TLV that is not is another use of the port.
    const first = pkt.payloadOffset + HEADER;
    if (end - first < 4 || b[first] !== 0 || b[first + 2] !== 0) return;
    const fields = new Map<number, string>();
    for (let o = first; o < end; ) {
      if (o + 4 > end) throw new RangeError('MNDP TLV header truncated');
      const type = b.readUInt16BE(o);
      const length = b.readUInt16BE(o + 2);
      if (o + 4 + length > end) throw new RangeError(`MNDP TLV ${type} overruns the datagram`);
      if (
        type === TLV_IDENTITY ||
        type === TLV_VERSION ||
        type === TLV_PLATFORM ||
        type === TLV_BOARD ||
        type === TLV_INTERFACE
      )
        fields.set(type, text(b, o + 4, o + 4 + length).trim());
      o += 4 + length;
    }
    const emit = (name: ObservationName, value: string | undefined, confidence: number, field: string) => {
      if (value) sink.observe(observation(pkt, device, undefined, 'mndp', name, value, confidence, field));
    };
    // "MikroTik" for RouterOS; the platform names the maker, as CDP's does.
    const platform = fields.get(TLV_PLATFORM);
    if (!platform) return;
    emit('hostname', fields.get(TLV_IDENTITY), 0.8, 'identity');
    emit('manufacturer', /mikrotik/i.test(platform) ? 'MikroTik' : platform, 0.85, 'platform');
    const board = fields.get(TLV_BOARD);
    emit('model', board, 0.85, 'board');
    // "6.49.7 (stable)": the release, then its channel.
    const version = fields.get(TLV_VERSION)?.split(' ')[0];
    emit('firmwareVersion', version, 0.85, 'version');
    if (/mikrotik/i.test(platform)) emit('os', version ? `RouterOS ${version}` : 'RouterOS', 0.8, 'version');
    emit('role', board && SWITCH_BOARD.test(board) ? 'mndp:switch' : 'mndp:router', 0.8, 'board');
    emit('portId', fields.get(TLV_INTERFACE), 0.7, 'interface_name');
  },
};
