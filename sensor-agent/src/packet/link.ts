// Link layers: find the MACs (when the link has them), the EtherType and where
// the network layer starts (PPP, HDLC and MPLS in wan.ts, 802.11 in wifi.ts). Every read is preceded by a length check; a frame
// that is too short returns false and is counted as malformed by the caller.
import { LinkType } from '../capture/linktypes.js';
import { readMac } from './addresses.js';
import { EtherType } from './ethertypes.js';
import { parseNflog } from './nflog.js';
import type { PacketView } from './view.js';
import { parseCiscoHdlc, parseMpls, parsePpp, parsePppHdlc, parsePppoe } from './wan.js';
import { parse80211, parseRadiotap } from './wifi.js';

const ARPHRD_ETHER = 1;
const SLL_PROTO_LLC = 0x0004;
const SNAP_BRIDGE_TUNNEL = 0xf8;

/** Parses the link layer of the frame in `v` per `v.linkType`. Returns false when malformed. */
export function parseLink(v: PacketView): boolean | 'unsupported' {
  const start = v.frameStart;
  const end = v.frameEnd;
  switch (v.linkType) {
    case LinkType.ETHERNET:
      return parseEthernet(v, start, end);
    case LinkType.LINUX_SLL:
      return parseSll(v);
    case LinkType.LINUX_SLL2:
      return parseSll2(v);
    case LinkType.NULL:
    case LinkType.LOOP:
      return parseNull(v);
    case LinkType.RAW:
    case LinkType.RAW_12:
    case LinkType.RAW_14:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return parseRawIp(v, start);
    case LinkType.PPP:
      return parsePpp(v, start, end);
    case LinkType.PPP_HDLC:
      return parsePppHdlc(v, end);
    case LinkType.PPP_ETHER:
      return parsePppoe(v, start, end);
    case LinkType.C_HDLC:
      return parseCiscoHdlc(v, end);
    case LinkType.IEEE802_11:
      return parse80211(v, start, end);
    case LinkType.IEEE802_11_RADIOTAP:
      return parseRadiotap(v);
    case LinkType.NFLOG:
      return parseNflog(v);
    default:
      return 'unsupported';
  }
}

/** Ethernet II / 802.3 in data[offset, end) (a whole frame, or one carried in a tunnel). */
export function parseEthernet(v: PacketView, offset: number, end: number): boolean {
  const b = v.data;
  if (end < offset + 14) return false;
  v.dstMac = readMac(b, offset);
  v.srcMac = readMac(b, offset + 6);
  let o = offset + 12;
  let type = (b[o]! << 8) | b[o + 1]!;
  // 802.1Q, 802.1ad (QinQ) and the old 0x9100: any stack of tags; keep the outer VLAN id.
  while (type === EtherType.VLAN || type === EtherType.QINQ || type === EtherType.QINQ_OLD) {
    if (end < o + 6) return false;
    if (v.vlan < 0) v.vlan = b.readUInt16BE(o + 2) & 0x0fff;
    o += 4;
    type = b.readUInt16BE(o);
  }
  o += 2;
  if (type === EtherType.PPPOE_SESSION || type === EtherType.PPPOE_DISCOVERY) return parsePppoe(v, o, end);
  if (type === EtherType.MPLS || type === EtherType.MPLS_MULTICAST) return parseMpls(v, o, end);
  if (type <= 1500) {
    // 802.3: the field is the payload length (padding follows it).
    v.l3End = Math.min(end, o + type);
    return parseLlc(v, o);
  }
  v.etherType = type;
  v.l3Offset = o;
  v.l3End = end;
  return true;
}

/**
 * 802.2 LLC, with SNAP when DSAP=SSAP=0xAA. RFC 1042 SNAP (OUI 0) and 802.1H
 * bridge tunnel SNAP (OUI 0x0000F8) carry an EtherType.
 */
export function parseLlc(v: PacketView, o: number): boolean {
  const b = v.data;
  if (v.l3End < o + 3) return false;
  if (b[o] === 0xaa && b[o + 1] === 0xaa && b[o + 2] === 0x03) {
    if (v.l3End < o + 8) return false;
    const oui = b.readUIntBE(o + 3, 3);
    const pid = b.readUInt16BE(o + 6);
    v.l3Offset = o + 8;
    if (oui === 0 || oui === SNAP_BRIDGE_TUNNEL) {
      v.etherType = pid;
    } else {
      v.etherType = EtherType.LLC;
      v.snapOui = oui;
      v.snapPid = pid;
    }
    return true;
  }
  v.etherType = EtherType.LLC;
  v.l3Offset = o;
  return true;
}

// Linux cooked capture v1 (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html):
// 16 bytes; the address is the sender's, whatever the packet type.
function parseSll(v: PacketView): boolean {
  const b = v.data;
  const s = v.frameStart;
  if (v.frameEnd < s + 16) return false;
  const arphrd = b.readUInt16BE(s + 2);
  const addrLen = b.readUInt16BE(s + 4);
  if (arphrd === ARPHRD_ETHER && addrLen === 6) v.srcMac = readMac(b, s + 6);
  return sllProtocol(v, b.readUInt16BE(s + 14), s + 16);
}

// Linux cooked capture v2 (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html): 20 bytes.
function parseSll2(v: PacketView): boolean {
  const b = v.data;
  const s = v.frameStart;
  if (v.frameEnd < s + 20) return false;
  const arphrd = b.readUInt16BE(s + 8);
  const addrLen = b[s + 11]!;
  if (arphrd === ARPHRD_ETHER && addrLen === 6) v.srcMac = readMac(b, s + 12);
  return sllProtocol(v, b.readUInt16BE(s), s + 20);
}

function sllProtocol(v: PacketView, proto: number, offset: number): boolean {
  v.l3End = v.frameEnd;
  if (proto === SLL_PROTO_LLC) return parseLlc(v, offset);
  v.etherType = proto;
  v.l3Offset = offset;
  return true;
}

// BSD loopback: a 4-byte address family, in the writer's byte order for NULL
// and in network order for LOOP. IPv6 is 24, 28 or 30 depending on the BSD.
function parseNull(v: PacketView): boolean {
  const b = v.data;
  const s = v.frameStart;
  if (v.frameEnd < s + 4) return false;
  const family = v.linkType === LinkType.LOOP ? b.readUInt32BE(s) : familyEitherOrder(b, s);
  if (family === 2) v.etherType = EtherType.IPV4;
  else if (family === 24 || family === 28 || family === 30 || family === 10) v.etherType = EtherType.IPV6;
  else return parseRawIp(v, s + 4);
  v.l3Offset = s + 4;
  v.l3End = v.frameEnd;
  return true;
}

function familyEitherOrder(b: Buffer, o: number): number {
  const le = b.readUInt32LE(o);
  return le < 0x10000 ? le : b.readUInt32BE(o);
}

/** Raw IP: the version nibble says which. */
function parseRawIp(v: PacketView, offset: number): boolean {
  const b = v.data;
  if (v.frameEnd <= offset) return false;
  const version = b[offset]! >> 4;
  if (version === 4) v.etherType = EtherType.IPV4;
  else if (version === 6) v.etherType = EtherType.IPV6;
  else return false;
  v.l3Offset = offset;
  v.l3End = v.frameEnd;
  return true;
}
