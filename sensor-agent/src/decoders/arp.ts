// ARP (RFC 826) over Ethernet/IPv4: the sender hardware/protocol address pair
// is the most reliable MAC<->IPv4 binding on a segment, because hosts only
// answer (and mostly only ask) for their own address.
import { isDeviceMac, isHostIp4 } from '../packet/addresses.js';
import { EtherType } from '../packet/ethertypes.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { ip4Text, observation } from './util.js';

const HTYPE_ETHERNET = 1;

export const arpDecoder: Decoder = {
  name: 'arp',
  family: 'link',
  keys: [EtherType.ARP],
  // Hosts ask for the same neighbours and answer the same questions all day.
  announces: true,
  match: () => true,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const o = pkt.l3Offset;
    if (pkt.l3End < o + 28) throw new RangeError('ARP packet shorter than 28 bytes');
    if (b.readUInt16BE(o) !== HTYPE_ETHERNET || b.readUInt16BE(o + 2) !== EtherType.IPV4) return;
    if (b[o + 4] !== 6 || b[o + 5] !== 4) return;
    const senderMac = b.readUIntBE(o + 8, 6);
    const senderIp = b.readUInt32BE(o + 14);
    // An ARP probe (RFC 5227) has sender IP 0.0.0.0: the host has no address yet.
    if (!isDeviceMac(senderMac) || !isHostIp4(senderIp)) return;
    // 0.9, not 1: proxy ARP and spoofing make a router answer for others.
    sink.observe(
      observation(
        pkt,
        senderMac,
        ip4Text(senderIp),
        'arp',
        'ipv4',
        ip4Text(senderIp),
        0.9,
        'arp.src.proto_ipv4',
      ),
    );
  },
};
