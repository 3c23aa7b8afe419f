// Extreme Discovery Protocol (802.3 LLC/SNAP, OUI 00:e0:2b, PID 0x00bb, to
// 00:e0:2b:00:00:00): what Extreme Networks switches (ExtremeWare and
// ExtremeXOS) announce on every port, and lldpd speaks to them.
// Unpublished; the layout is the one Extreme's knowledge base gives, as
// Wireshark's packet-extreme.c quotes it: a 16-byte header (version,
// reserved, length, checksum, sequence, machine id type and MAC), then TLVs
// of a 0x99 marker, a type, and a length that counts the 4-byte TLV header.
// The display TLV is the switch's sysName; the info TLV carries the
// software version as four bytes (major, minor, sustaining, internal).
import { isDeviceMac } from '../packet/addresses.js';
import { EtherType } from '../packet/ethertypes.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { observation, text } from './util.js';

const EXTREME_OUI = 0x00e02b;
const EDP_PID = 0x00bb;
const HEADER = 16;
const MARKER = 0x99;
const TLV_NULL = 0;
const TLV_DISPLAY = 1;
const TLV_INFO = 2;
/** Slot, port, virtual chassis id and six reserved bytes precede the version. */
const INFO_VERSION = 12;

export const edpDecoder: Decoder = {
  name: 'edp',
  family: 'link',
  announces: true,
  keys: [EtherType.LLC],
  match: (pkt) => pkt.snapOui === EXTREME_OUI && pkt.snapPid === EDP_PID,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const device = pkt.srcMac;
    if (!isDeviceMac(device)) return;
    const b = pkt.data;
    const end = pkt.l3End;
    const emit = (name: ObservationName, value: string, confidence: number, field: string) => {
      if (value !== '')
        sink.observe(observation(pkt, device, undefined, 'edp', name, value, confidence, field));
    };
    let o = pkt.l3Offset;
    if (end < o + HEADER) throw new RangeError('EDP header truncated');
    if (b[o] !== 1) throw new RangeError(`EDP version ${b[o]}`);
    o += HEADER;
    while (o + 4 <= end) {
      if (b[o] !== MARKER) throw new RangeError(`EDP TLV marker 0x${b[o]!.toString(16)}`);
      const type = b[o + 1]!;
      const len = b.readUInt16BE(o + 2);
      if (len < 4 || o + len > end) throw new RangeError(`EDP TLV ${type} has a bad length ${len}`);
      const v = o + 4;
      if (type === TLV_NULL) return;
      if (type === TLV_DISPLAY) emit('hostname', text(b, v, o + len), 0.8, 'display');
      else if (type === TLV_INFO && len >= 4 + INFO_VERSION + 4) {
        const at = v + INFO_VERSION;
        emit('firmwareVersion', `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`, 0.8, 'info.version');
      }
      o += len;
    }
  },
};
