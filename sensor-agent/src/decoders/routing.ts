// Routing and first-hop redundancy protocols: only routers (and layer-3
// switches, firewalls) speak them, so their sender is one. OSPFv2/v3 (RFC
// 2328 §A.3.1, RFC 5340 §A.3.1), EIGRP (RFC 7868 §6), VRRPv2/v3 (RFC 3768,
// RFC 5798 §5.1: the master advertises from the virtual router MAC
// 00:00:5E:00:01/02:<VRID>, which is the gateway's address on the segment),
// HSRP (RFC 2281: Cisco's, from the active router or the virtual MAC),
// RIPv1/v2 responses (RFC 2453 §3.6), GLBP (Cisco, UDP 3222).
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForSender } from './util.js';

const IP_EIGRP = 88;
const IP_OSPF = 89;
const IP_VRRP = 112;
const HSRP_PORT = 1985;
const RIP_PORT = 520;
const GLBP_PORT = 3222;
const RIP_RESPONSE = 2;

function router(pkt: PacketView, sink: ObservationSink, confidence: number, field: string): void {
  emitForSender(pkt, sink, field.slice(0, field.indexOf('.')), 'role', 'routing:router', confidence, field);
}

export const routingDecoder: Decoder = {
  name: 'routing',
  family: 'ip',
  keys: [IP_EIGRP, IP_OSPF, IP_VRRP],
  // Hellos and advertisements go out every few seconds, the same bytes while nothing changes.
  announces: true,
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= 8,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    switch (pkt.ipProto) {
      case IP_OSPF: {
        const version = b[o]!;
        const type = b[o + 1]!;
        if ((version !== 2 && version !== 3) || type < 1 || type > 5)
          throw new RangeError('not an OSPF header');
        router(pkt, sink, 0.75, 'ospf.header');
        return;
      }
      case IP_VRRP: {
        const version = b[o]! >> 4;
        if ((version !== 2 && version !== 3) || (b[o]! & 0x0f) !== 1)
          throw new RangeError('not a VRRP advertisement');
        router(pkt, sink, 0.75, 'vrrp.advertisement');
        return;
      }
      case IP_EIGRP:
        if (b[o] !== 2) throw new RangeError('not an EIGRP header');
        router(pkt, sink, 0.75, 'eigrp.header');
        return;
    }
  },
};

export const routingUdpDecoder: Decoder = {
  name: 'routing',
  family: 'udp',
  keys: [HSRP_PORT, RIP_PORT, GLBP_PORT],
  announces: true,
  match: (pkt) =>
    pkt.srcPort === pkt.dstPort &&
    (pkt.srcPort === HSRP_PORT || pkt.srcPort === RIP_PORT || pkt.srcPort === GLBP_PORT) &&
    pkt.payloadEnd - pkt.payloadOffset >= 4,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    if (pkt.srcPort === HSRP_PORT) {
      // v1: version 0 with op code hello/coup/resign; v2: TLVs (group state TLV type 1).
      if (b[o]! > 2) throw new RangeError('not an HSRP message');
      router(pkt, sink, 0.75, 'hsrp.message');
    } else if (pkt.srcPort === RIP_PORT) {
      // Responses, versions 1 and 2; requests may come from any host running a RIP client.
      if (b[o] !== RIP_RESPONSE || (b[o + 1] !== 1 && b[o + 1] !== 2)) return;
      router(pkt, sink, 0.6, 'rip.response');
    } else {
      if (b[o] !== 1) throw new RangeError('not a GLBP header');
      router(pkt, sink, 0.7, 'glbp.header');
    }
  },
};
