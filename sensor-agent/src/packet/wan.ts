// Point-to-point and label-switched links, as captures from routers, DSL
// and carrier links carry them (LINKTYPE numbers from
// https://www.tcpdump.org/linktypes.html):
// - PPP (RFC 1661), with or without RFC 1662 HDLC-like framing (0xFF 0x03),
//   its protocol field one byte when compressed (RFC 1661 §6.5);
// - PPPoE sessions (RFC 2516), in Ethernet (EtherType 0x8864) or alone
//   (LINKTYPE_PPP_ETHER);
// - Cisco HDLC (address, control, an EtherType);
// - MPLS label stacks (RFC 3032) over IPv4 or IPv6.
// No MACs: hosts behind these links are known by their IP addresses.
import { EtherType } from './ethertypes.js';
import type { PacketView } from './view.js';

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;
const PPPOE_SESSION_CODE = 0x00;
const PPPOE_HEADER = 6;
const CISCO_HDLC_UNICAST = 0x0f;
const CISCO_HDLC_MULTICAST = 0x8f;
/** Deeper label stacks are not traffic; they bound the work a hostile frame can ask for. */
const MAX_LABELS = 16;

/**
 * The network layer of a PPP frame at `o`: an address and control field
 * (0xFF 0x03) when present, then the protocol. Frames of PPP's own control
 * protocols (LCP, IPCP, ...) have none, which is not an error.
 */
export function parsePpp(v: PacketView, o: number, end: number): boolean {
  const b = v.data;
  if (end >= o + 2 && b[o] === 0xff && b[o + 1] === 0x03) o += 2;
  if (end < o + 1) return false;
  let protocol: number;
  if (b[o]! & 0x01) {
    protocol = b[o]!; // compressed: one byte, odd
    o += 1;
  } else {
    if (end < o + 2) return false;
    protocol = (b[o]! << 8) | b[o + 1]!;
    o += 2;
  }
  return setNetwork(
    v,
    protocol === PPP_IPV4 ? EtherType.IPV4 : protocol === PPP_IPV6 ? EtherType.IPV6 : -1,
    o,
    end,
  );
}

/** LINKTYPE_PPP_HDLC: PPP in HDLC-like framing, or Cisco's HDLC framing (address 0x0F/0x8F). */
export function parsePppHdlc(v: PacketView, end: number): boolean {
  const first = v.data[v.frameStart];
  return first === CISCO_HDLC_UNICAST || first === CISCO_HDLC_MULTICAST
    ? parseCiscoHdlc(v, end)
    : parsePpp(v, v.frameStart, end);
}

/** Cisco HDLC: address, control, then an EtherType. */
export function parseCiscoHdlc(v: PacketView, end: number): boolean {
  const b = v.data;
  const s = v.frameStart;
  if (end < s + 4) return false;
  return setNetwork(v, (b[s + 2]! << 8) | b[s + 3]!, s + 4, end);
}

/** A PPPoE header at `o` (version 1, type 1); a session's payload is a PPP protocol field and its packet. */
export function parsePppoe(v: PacketView, o: number, end: number): boolean {
  const b = v.data;
  if (end < o + PPPOE_HEADER) return false;
  if (b[o] !== 0x11) return false;
  if (b[o + 1] !== PPPOE_SESSION_CODE) return setNetwork(v, -1, o, end); // discovery (PADI, PADO, ...)
  const length = (b[o + 4]! << 8) | b[o + 5]!;
  const payloadEnd = Math.min(end, o + PPPOE_HEADER + length);
  return parsePpp(v, o + PPPOE_HEADER, payloadEnd);
}

/** An MPLS label stack at `o`; below its bottom entry, IPv4 or IPv6 by the version nibble. */
export function parseMpls(v: PacketView, o: number, end: number): boolean {
  const b = v.data;
  for (let i = 0; i < MAX_LABELS; i++) {
    if (end < o + 4) return false;
    const bottom = (b[o + 2]! & 0x01) !== 0;
    o += 4;
    if (!bottom) continue;
    if (end <= o) return false;
    const version = b[o]! >> 4;
    // Anything else (a pseudowire's control word and frame) is not read: no network layer, not an error.
    return setNetwork(v, version === 4 ? EtherType.IPV4 : version === 6 ? EtherType.IPV6 : -1, o, end);
  }
  return false;
}

function setNetwork(v: PacketView, etherType: number, o: number, end: number): boolean {
  v.etherType = etherType;
  v.l3Offset = o;
  v.l3End = end;
  return true;
}
