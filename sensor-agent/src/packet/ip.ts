// IPv4 (RFC 791), IPv6 (RFC 8200) and the UDP/TCP headers above them. No
// reassembly: later fragments carry no transport header and are marked so.
import { u16be, u32be } from '../bytes.js';
import { IpProto } from './ethertypes.js';
import type { PacketView } from './view.js';

const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51;
const IPV6_DEST_OPTS = 60;
const IPV6_MOBILITY = 135;
const MAX_EXTENSION_HEADERS = 8;

export function parseIpv4(v: PacketView): boolean {
  const b = v.data;
  const o = v.l3Offset;
  if (v.l3End < o + 20) return false;
  const vihl = b[o]!;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20 || v.l3End < o + ihl) return false;
  // Reads by hand here and in parseTransport: u16be was left out of line at this depth of inlining
  // (callgrind: ~100 instructions per packet).
  const totalLength = (b[o + 2]! << 8) | b[o + 3]!;
  // Zero happens with TCP segmentation offload on the capturing host: trust the capture then.
  if (totalLength !== 0) {
    if (totalLength < ihl) return false;
    if (o + totalLength < v.l3End) v.l3End = o + totalLength; // strip Ethernet padding
  }
  v.ipVersion = 4;
  v.ttl = b[o + 8]!;
  v.ipProto = b[o + 9]!;
  v.srcIp4 = u32be(b, o + 12);
  v.dstIp4 = u32be(b, o + 16);
  v.laterFragment = (((b[o + 6]! << 8) | b[o + 7]!) & 0x1fff) !== 0;
  return v.laterFragment || parseTransport(v, o + ihl);
}

export function parseIpv6(v: PacketView): boolean {
  const b = v.data;
  const o = v.l3Offset;
  if (v.l3End < o + 40) return false;
  if (b[o]! >> 4 !== 6) return false;
  const payloadLength = u16be(b, o + 4);
  if (payloadLength !== 0 && o + 40 + payloadLength < v.l3End) v.l3End = o + 40 + payloadLength;
  v.ipVersion = 6;
  v.ttl = b[o + 7]!;
  v.srcIp6Offset = o + 8;
  v.dstIp6Offset = o + 24;
  let next = b[o + 6]!;
  let p = o + 40;
  for (let i = 0; i < MAX_EXTENSION_HEADERS; i++) {
    if (
      next === IPV6_HOP_BY_HOP ||
      next === IPV6_ROUTING ||
      next === IPV6_DEST_OPTS ||
      next === IPV6_MOBILITY
    ) {
      if (v.l3End < p + 8) return false;
      next = b[p]!;
      p += (b[p + 1]! + 1) * 8;
    } else if (next === IPV6_FRAGMENT) {
      if (v.l3End < p + 8) return false;
      const fragmentOffset = u16be(b, p + 2) >> 3;
      next = b[p]!;
      p += 8;
      if (fragmentOffset !== 0) {
        v.ipProto = next;
        v.laterFragment = true;
        return true;
      }
    } else if (next === IPV6_AH) {
      if (v.l3End < p + 8) return false;
      next = b[p]!;
      p += (b[p + 1]! + 2) * 4;
    } else {
      break;
    }
  }
  if (p > v.l3End) return false;
  v.ipProto = next;
  return parseTransport(v, p);
}

function parseTransport(v: PacketView, o: number): boolean {
  const b = v.data;
  if (v.ipProto === IpProto.UDP) {
    if (v.l3End < o + 8) return false;
    const length = (b[o + 4]! << 8) | b[o + 5]!;
    if (length < 8 && length !== 0) return false; // 0 only for IPv6 jumbograms
    v.srcPort = (b[o]! << 8) | b[o + 1]!;
    v.dstPort = (b[o + 2]! << 8) | b[o + 3]!;
    v.payloadOffset = o + 8;
    v.payloadEnd = length === 0 ? v.l3End : Math.min(v.l3End, o + length);
    return true;
  }
  if (v.ipProto === IpProto.TCP) {
    if (v.l3End < o + 20) return false;
    const headerLength = (b[o + 12]! >> 4) * 4;
    if (headerLength < 20 || v.l3End < o + headerLength) return false;
    v.srcPort = (b[o]! << 8) | b[o + 1]!;
    v.dstPort = (b[o + 2]! << 8) | b[o + 3]!;
    v.payloadOffset = o + headerLength;
    v.payloadEnd = v.l3End;
    v.tcpSeq = u32be(b, o + 4);
    v.tcpFlags = b[o + 13]!;
    return true;
  }
  v.payloadOffset = o;
  v.payloadEnd = v.l3End;
  return true;
}
