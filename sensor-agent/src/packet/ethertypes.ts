export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  /** Pre-standard QinQ tag some switches still emit. */
  QINQ_OLD: 0x9100,
  IPV6: 0x86dd,
  LLDP: 0x88cc,
  PPPOE_DISCOVERY: 0x8863,
  PPPOE_SESSION: 0x8864,
  MPLS: 0x8847,
  MPLS_MULTICAST: 0x8848,
  PROFINET: 0x8892,
  /** GRE payload types of mirrored traffic: bridged Ethernet, ERSPAN type I/II, ERSPAN type III. */
  TRANSPARENT_ETHERNET: 0x6558,
  ERSPAN: 0x88be,
  ERSPAN_III: 0x22eb,
  /**
   * Pseudo EtherType (outside the 16-bit range) for 802.3 frames whose type
   * field is a length: the payload is an 802.2 LLC header (CDP, STP...).
   */
  LLC: 0x1_0000,
} as const;

export const IpProto = { ICMP: 1, IPIP: 4, TCP: 6, UDP: 17, IPV6: 41, GRE: 47, ICMPV6: 58 } as const;
