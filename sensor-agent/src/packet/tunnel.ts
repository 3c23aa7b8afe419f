// Mirrored and tunnelled traffic: a sensor fed by remote SPAN or by a cloud
// traffic mirror sees the monitored frames inside an encapsulation, and the
// devices worth reporting are the ones inside. Read here, by their
// specifications:
// - IP in IP: IPv4 or IPv6 in IPv4 or IPv6 (RFC 2003, RFC 4213 6in4, RFC 2473);
// - GRE (RFC 2784, with RFC 2890's key and sequence number) carrying
//   bridged Ethernet (0x6558), IPv4 or IPv6;
// - ERSPAN (draft-foschiano-erspan-03) over GRE: type I (0x88BE without a
//   GRE sequence number: the frame follows GRE at once), type II (0x88BE
//   with one: an 8-byte header, version 1) and type III (0x22EB: a 12-byte
//   header, version 2, then an 8-byte platform sub-header when its O bit is
//   set; the frame is Ethernet or, with frame type 2, IP);
// - VXLAN (RFC 7348) on UDP port 4789, as AWS and Azure traffic mirroring send;
// - Geneve (RFC 8926) on UDP port 6081;
// - TZSP on UDP port 37008 (MikroTik's packet sniffer streams: Ethernet only);
// - GTPv1-U G-PDUs on UDP port 2152 (3GPP TS 29.281): a mobile core's user traffic.
// The outer headers are left as parsed until the inner frame is known to be
// there: a header that is too short to hold what it announces is malformed.
import { EtherType, IpProto } from './ethertypes.js';
import { parseIpv4, parseIpv6 } from './ip.js';
import { parseEthernet } from './link.js';
import { type PacketView, ParseResult } from './view.js';

/** Deeper nesting than this is not mirroring; it is left as it is (and bounds the work a hostile frame can ask for). */
export const MAX_TUNNEL_DEPTH = 3;
const VXLAN_PORT = 4789;
const GENEVE_PORT = 6081;
const TZSP_PORT = 37008;
const TZSP_ETHERNET = 1;
const TZSP_TAG_PADDING = 0;
const TZSP_TAG_END = 1;
const GTP_U_PORT = 2152;
const GTP_G_PDU = 0xff;
const GRE_CHECKSUM = 0x80;
const GRE_ROUTING = 0x40;
const GRE_KEY = 0x20;
const GRE_SEQUENCE = 0x10;
const VXLAN_VNI_VALID = 0x08;
const ERSPAN_II_VERSION = 1;
const ERSPAN_III_VERSION = 2;
const ERSPAN_III_FRAME_ETHERNET = 0;
const ERSPAN_III_FRAME_IP = 2;

/**
 * Whether the packet is of a protocol or port a tunnel uses: small enough to
 * be inlined where every packet passes, so only these pay for a call to
 * decapsulate().
 */
export function mayCarryTunnel(v: PacketView): boolean {
  const proto = v.ipProto;
  if (proto === IpProto.UDP) {
    const port = v.dstPort;
    return port === VXLAN_PORT || port === GENEVE_PORT || port === TZSP_PORT || port === GTP_U_PORT;
  }
  return proto === IpProto.GRE || proto === IpProto.IPIP || proto === IpProto.IPV6;
}

/**
 * If the frame parsed into `v` carries another frame in a tunnel this
 * module reads, parses that frame into `v` in place of the outer layers
 * and returns OK, or MALFORMED when the tunnel or the frame inside is
 * damaged; undefined (with `v` untouched) when it carries none.
 */
export function decapsulate(v: PacketView): ParseResult | undefined {
  if (!mayCarryTunnel(v)) return undefined;
  if (v.tunnelDepth >= MAX_TUNNEL_DEPTH || v.ipVersion === 0 || v.laterFragment) return undefined;
  const b = v.data;
  const o = v.payloadOffset;
  const end = v.payloadEnd;
  let inner: number;
  /** The frame inside starts with an Ethernet header (else with an IP header). */
  let ethernet: boolean;
  if (v.ipProto === IpProto.GRE) {
    if (end < o + 4) return undefined;
    const flags = b[o]!;
    // Version 1 is PPTP's enhanced GRE; a routing field (RFC 1701) is not how mirrors send.
    if ((b[o + 1]! & 0x07) !== 0 || flags & GRE_ROUTING) return undefined;
    const sequenced = (flags & GRE_SEQUENCE) !== 0;
    inner = o + 4 + (flags & GRE_CHECKSUM ? 4 : 0) + (flags & GRE_KEY ? 4 : 0) + (sequenced ? 4 : 0);
    switch ((b[o + 2]! << 8) | b[o + 3]!) {
      case EtherType.TRANSPARENT_ETHERNET:
        ethernet = true;
        break;
      case EtherType.ERSPAN:
        ethernet = true;
        if (sequenced) {
          if (end < inner + 8 || b[inner]! >> 4 !== ERSPAN_II_VERSION) return ParseResult.MALFORMED;
          inner += 8;
        }
        break;
      case EtherType.ERSPAN_III: {
        if (end < inner + 12 || b[inner]! >> 4 !== ERSPAN_III_VERSION) return ParseResult.MALFORMED;
        const frameType = (b[inner + 10]! >> 2) & 0x1f;
        const subHeader = (b[inner + 11]! & 0x01) !== 0;
        if (frameType === ERSPAN_III_FRAME_ETHERNET) ethernet = true;
        else if (frameType === ERSPAN_III_FRAME_IP) ethernet = false;
        else return undefined;
        inner += 12 + (subHeader ? 8 : 0);
        break;
      }
      case EtherType.IPV4:
      case EtherType.IPV6:
        ethernet = false;
        break;
      default:
        return undefined;
    }
  } else if (v.ipProto === IpProto.IPIP || v.ipProto === IpProto.IPV6) {
    inner = o;
    ethernet = false;
  } else if (v.ipProto === IpProto.UDP && v.dstPort === VXLAN_PORT) {
    if (end < o + 8 || (b[o]! & VXLAN_VNI_VALID) === 0) return undefined;
    inner = o + 8;
    ethernet = true;
  } else if (v.ipProto === IpProto.UDP && v.dstPort === TZSP_PORT) {
    // version 1, type, encapsulated protocol, then tagged fields up to the END tag.
    if (end < o + 5 || b[o] !== 1 || ((b[o + 2]! << 8) | b[o + 3]!) !== TZSP_ETHERNET) return undefined;
    let p = o + 4;
    for (;;) {
      if (p >= end) return ParseResult.MALFORMED;
      const tag = b[p]!;
      if (tag === TZSP_TAG_END) break;
      if (tag === TZSP_TAG_PADDING) {
        p += 1;
        continue;
      }
      if (p + 1 >= end) return ParseResult.MALFORMED;
      p += 2 + b[p + 1]!; // tag, length, value
    }
    inner = p + 1;
    ethernet = true;
  } else if (v.ipProto === IpProto.UDP && v.dstPort === GTP_U_PORT) {
    // GTPv1-U G-PDU: flags (version 1, protocol type GTP), type 0xFF, length, TEID; then the
    // optional sequence number, N-PDU number and extension header chain when E, S or PN is set.
    if (end < o + 8 || b[o]! >> 4 !== 0x3 || b[o + 1] !== GTP_G_PDU) return undefined;
    let p = o + 8;
    if (b[o]! & 0x07) {
      if (end < p + 4) return ParseResult.MALFORMED;
      let next = b[p + 3]!;
      p += 4;
      for (let i = 0; next !== 0 && i < 16; i++) {
        const words = p < end ? b[p]! : 0;
        if (words === 0 || p + words * 4 > end) return ParseResult.MALFORMED;
        p += words * 4;
        next = b[p - 1]!;
      }
      if (next !== 0) return ParseResult.MALFORMED;
    }
    inner = p;
    ethernet = false;
  } else if (v.ipProto === IpProto.UDP && v.dstPort === GENEVE_PORT) {
    if (end < o + 8 || b[o]! >> 6 !== 0) return undefined;
    const protocol = (b[o + 2]! << 8) | b[o + 3]!;
    if (protocol === EtherType.TRANSPARENT_ETHERNET) ethernet = true;
    else if (protocol === EtherType.IPV4 || protocol === EtherType.IPV6) ethernet = false;
    else return undefined;
    inner = o + 8 + (b[o]! & 0x3f) * 4;
  } else {
    return undefined;
  }
  if (inner >= end) return ParseResult.MALFORMED;
  const depth = v.tunnelDepth + 1;
  v.clearLayers(end);
  v.tunnelDepth = depth;
  if (ethernet) {
    if (!parseEthernet(v, inner, end)) return ParseResult.MALFORMED;
  } else {
    const version = b[inner]! >> 4;
    if (version !== 4 && version !== 6) return ParseResult.MALFORMED;
    v.etherType = version === 4 ? EtherType.IPV4 : EtherType.IPV6;
    v.l3Offset = inner;
  }
  if (v.etherType === EtherType.IPV4) return parseIpv4(v) ? ParseResult.OK : ParseResult.MALFORMED;
  if (v.etherType === EtherType.IPV6) return parseIpv6(v) ? ParseResult.OK : ParseResult.MALFORMED;
  return ParseResult.OK;
}
