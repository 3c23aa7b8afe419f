// Linux netfilter log captures (LINKTYPE_NFLOG, `tcpdump -i nflog:N`;
// https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html): a 4-byte header
// (address family, version, resource id), then TLVs whose length and type
// are in the byte order of the host that wrote them; the packet, from its
// IP header, is the NFULA_PAYLOAD TLV, and NFULA_HWADDR holds the sender's
// MAC for packets that arrived on an Ethernet interface.
import { readMac } from './addresses.js';
import { EtherType } from './ethertypes.js';
import type { PacketView } from './view.js';

const AF_INET = 2;
const AF_INET6 = 10;
const NFULA_HWADDR = 8;
const NFULA_PAYLOAD = 9;
const TLV_HEADER = 4;

export function parseNflog(v: PacketView): boolean {
  const b = v.data;
  const s = v.frameStart;
  const end = v.frameEnd;
  if (end < s + 4 || b[s + 1] !== 0) return false;
  const family = b[s];
  if (family !== AF_INET && family !== AF_INET6) return true; // nothing hark reads, not damage
  // The writer's byte order: the first TLV's length, read the other way, would not fit.
  const first = b[s + 4]! | (b[s + 5]! << 8);
  const little = end >= s + 8 && first >= TLV_HEADER && first <= end - s - 4;
  let o = s + 4;
  while (o + TLV_HEADER <= end) {
    const length = little ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
    const type = (little ? b[o + 2]! | (b[o + 3]! << 8) : (b[o + 2]! << 8) | b[o + 3]!) & 0x7fff;
    if (length < TLV_HEADER || o + length > end) return false;
    if (type === NFULA_HWADDR && length >= TLV_HEADER + 10 && ((b[o + 4]! << 8) | b[o + 5]!) === 6) {
      v.srcMac = readMac(b, o + 8); // struct nfulnl_msg_packet_hw: be16 length, pad, address
    } else if (type === NFULA_PAYLOAD) {
      v.etherType = family === AF_INET ? EtherType.IPV4 : EtherType.IPV6;
      v.l3Offset = o + TLV_HEADER;
      v.l3End = o + length;
      return true;
    }
    o += (length + 3) & ~3;
  }
  return true;
}
