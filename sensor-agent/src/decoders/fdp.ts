// Foundry Discovery Protocol (802.3 LLC/SNAP, OUI 00:e0:52, PID 0x2000, to
// 01:e0:52:cc:cc:cc): what Foundry, then Brocade and Ruckus ICX switches and
// routers announce where CDP would be, and lldpd speaks to them. Unpublished;
// FDP is CDP's header and TLVs (device id, addresses, port, software version,
// platform) under another OUI, except that its capabilities are a word of
// text ("Router", "Switch"), as Wireshark's packet-fdp.c and lldpd's cdp.c
// read it.
import { EtherType } from '../packet/ethertypes.js';
import type { PacketView } from '../packet/view.js';
import { decodeCdpTlvs } from './cdp.js';
import type { Decoder, ObservationSink } from './types.js';
import { text } from './util.js';

const FOUNDRY_OUI = 0x00e052;
const FDP_PID = 0x2000;

export const fdpDecoder: Decoder = {
  name: 'fdp',
  family: 'link',
  announces: true,
  keys: [EtherType.LLC],
  match: (pkt) => pkt.snapOui === FOUNDRY_OUI && pkt.snapPid === FDP_PID,
  decode(pkt: PacketView, sink: ObservationSink): void {
    decodeCdpTlvs(pkt, sink, 'fdp', (b, start, end, emit) => {
      for (const word of text(b, start, end)
        .toLowerCase()
        .split(/[\s,]+/))
        if (word === 'router' || word === 'switch' || word === 'bridge' || word === 'host') emit(word);
    });
  },
};
