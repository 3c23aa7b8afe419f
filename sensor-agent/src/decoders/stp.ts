// Spanning tree BPDUs (IEEE 802.1D-2004 §9, 802.1Q-2018 §14 for RSTP/MSTP;
// Cisco PVST+ carries the same BPDU in SNAP 00000C/010B). Only bridges send
// them, from the port's own MAC to a link-local group address that no
// bridge forwards: the sender is a switch (or a host bridging, which is one).
// Configuration and RST/MST BPDUs also name the bridge's own address (its
// bridge identifier's MAC), another MAC of the same switch.
import { formatMac, isDeviceMac, readMac } from '../packet/addresses.js';
import { EtherType } from '../packet/ethertypes.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForSender } from './util.js';

const LLC_BPDU = 0x42;
const CISCO_OUI = 0x00000c;
const PVST_PID = 0x010b;
const BPDU_CONFIG = 0x00;
const BPDU_RST = 0x02;
const BPDU_TCN = 0x80;

/** Where the BPDU starts: after the 802.2 LLC header (42 42 03), or after Cisco's PVST+ SNAP header. */
function bpduOffset(pkt: PacketView): number {
  const b = pkt.data;
  const o = pkt.l3Offset;
  if (pkt.snapOui === CISCO_OUI && pkt.snapPid === PVST_PID) return o;
  if (
    pkt.snapOui < 0 &&
    pkt.l3End >= o + 3 &&
    b[o] === LLC_BPDU &&
    b[o + 1] === LLC_BPDU &&
    b[o + 2] === 0x03
  )
    return o + 3;
  return -1;
}

export const stpDecoder: Decoder = {
  name: 'stp',
  family: 'link',
  keys: [EtherType.LLC],
  // Every port sends one every 2 s, the same bytes while the topology holds.
  announces: true,
  match: (pkt) => bpduOffset(pkt) >= 0,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const o = bpduOffset(pkt);
    if (pkt.l3End < o + 4) throw new RangeError('BPDU truncated');
    if (b[o] !== 0 || b[o + 1] !== 0) throw new RangeError('BPDU protocol identifier is not 0');
    const type = b[o + 3];
    if (type !== BPDU_CONFIG && type !== BPDU_RST && type !== BPDU_TCN)
      throw new RangeError(`BPDU type 0x${type?.toString(16)} is not configuration, RST or TCN`);
    emitForSender(pkt, sink, 'stp', 'capabilities', 'bridge', 0.8, 'bpdu');
    if (type === BPDU_TCN) return;
    // Flags (1), root identifier (8), root path cost (4), then the bridge identifier: priority (2), MAC (6).
    if (pkt.l3End < o + 35) throw new RangeError('BPDU truncated before the bridge identifier');
    const bridge = readMac(b, o + 19);
    if (isDeviceMac(bridge) && bridge !== pkt.srcMac)
      emitForSender(pkt, sink, 'stp', 'mac', formatMac(bridge), 0.8, 'bpdu.bridge_identifier');
  },
};
