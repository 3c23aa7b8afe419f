// LINKTYPE_* numbers as written in pcap/pcapng headers
// (https://www.tcpdump.org/linktypes.html). Only the ones hark parses are named.
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  /** DLT_RAW as OpenBSD/others number it in some old files. */
  RAW_12: 12,
  RAW_14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export function linkTypeName(linkType: number): string {
  for (const [name, value] of Object.entries(LinkType)) if (value === linkType) return name;
  return `LINKTYPE_${linkType}`;
}
