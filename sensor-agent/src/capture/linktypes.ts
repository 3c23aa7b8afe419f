// LINKTYPE_* numbers as written in pcap/pcapng headers
// (https://www.tcpdump.org/linktypes.html). Only the ones hark parses are named.
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  /** PPP (RFC 1661), with or without HDLC-like framing. */
  PPP: 9,
  /** DLT_RAW as OpenBSD/others number it in some old files. */
  RAW_12: 12,
  RAW_14: 14,
  /** PPP in HDLC-like framing (RFC 1662), or Cisco PPP with HDLC framing. */
  PPP_HDLC: 50,
  /** A PPPoE header and its payload, without the Ethernet header. */
  PPP_ETHER: 51,
  RAW: 101,
  C_HDLC: 104,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  IPV4: 228,
  IPV6: 229,
  /** Linux netfilter log messages (tcpdump -i nflog). */
  NFLOG: 239,
  LINUX_SLL2: 276,
} as const;

export function linkTypeName(linkType: number): string {
  for (const [name, value] of Object.entries(LinkType)) if (value === linkType) return name;
  return `LINKTYPE_${linkType}`;
}
