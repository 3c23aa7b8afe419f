/**
 * The parsed layers of one frame, as offsets into the frame's bytes. One
 * instance is reused for every packet of a pipeline, so the per-packet parse
 * allocates nothing; decoders read fields straight out of `data`. Anything a
 * decoder keeps must be copied out (strings, numbers), never the view.
 *
 * MACs are 48-bit integers (exact in a double): cheap to compare, hash and
 * test, and only formatted as text when a device record is written.
 */
export class PacketView {
  /** The buffer the frame lies in: the frame alone, or a capture reader's chunk holding it (see FrameBatch). */
  data: Buffer = Buffer.alloc(0);
  /** Where the frame starts and ends (exclusive) in `data`: every offset below is into `data`, never relative to the frame. */
  frameStart = 0;
  frameEnd = 0;
  linkType = 0;
  interfaceId = 0;
  timestampMs = 0;

  /** -1 when the link layer carries no such address (NULL/raw IP, SLL destination). */
  srcMac = -1;
  dstMac = -1;
  /** Outermost 802.1Q VLAN id, or -1. */
  vlan = -1;
  /** EtherType of the network layer, ETHERTYPE_LLC for 802.3 length-field frames, -1 when unknown. */
  etherType = -1;
  /** For 802.3 LLC frames with a SNAP header: its OUI and protocol id, else -1. */
  snapOui = -1;
  snapPid = -1;
  /** Start and end (exclusive) of the network-layer bytes (or of the LLC payload for SNAP frames). */
  l3Offset = 0;
  l3End = 0;

  /** 4 or 6 when an IP header parsed, else 0. */
  ipVersion = 0;
  /** IPv4 addresses as unsigned 32-bit integers. */
  srcIp4 = 0;
  dstIp4 = 0;
  /** Offsets of the 16-byte IPv6 addresses within `data`. */
  srcIp6Offset = -1;
  dstIp6Offset = -1;
  ipProto = -1;
  ttl = 0;
  /** True for IPv4/IPv6 fragments other than the first: no transport header to read. */
  laterFragment = false;
  /**
   * Set by the pipeline where a device announced this TCP endpoint as its HTTP server
   * (learned-endpoints.ts): SOURCE when the sender is that server, DESTINATION when the receiver is.
   */
  learnedServer: LearnedServer = LearnedServer.NONE;

  srcPort = -1;
  dstPort = -1;
  /** Transport payload bounds (UDP/TCP). */
  payloadOffset = 0;
  payloadEnd = 0;
  /** TCP only: the sequence number of the payload's first byte, and the flags byte (FIN 0x01, SYN 0x02, RST 0x04). */
  tcpSeq = 0;
  tcpFlags = 0;

  /** How many tunnel headers (ERSPAN, GRE, VXLAN, Geneve) were taken off to reach the layers above. */
  tunnelDepth = 0;

  /** Loads a frame that is the whole of `data`. */
  reset(data: Buffer, linkType: number, interfaceId: number, timestampMs: number): void {
    this.resetFrame(data, 0, data.length, linkType, interfaceId, timestampMs);
  }

  /** Loads the frame data[start, end), read in place. */
  resetFrame(
    data: Buffer,
    start: number,
    end: number,
    linkType: number,
    interfaceId: number,
    timestampMs: number,
  ): void {
    this.data = data;
    this.frameStart = start;
    this.frameEnd = end;
    this.linkType = linkType;
    this.interfaceId = interfaceId;
    this.timestampMs = timestampMs;
    this.tunnelDepth = 0;
    this.clearLayers(end);
  }

  /** Forgets every parsed layer (to parse a tunnelled frame in their place); the frame ends at `end`. */
  clearLayers(end: number): void {
    this.srcMac = -1;
    this.dstMac = -1;
    this.vlan = -1;
    this.etherType = -1;
    this.snapOui = -1;
    this.snapPid = -1;
    this.l3Offset = this.frameStart;
    this.l3End = end;
    this.ipVersion = 0;
    this.srcIp4 = 0;
    this.dstIp4 = 0;
    this.srcIp6Offset = -1;
    this.dstIp6Offset = -1;
    this.ipProto = -1;
    this.ttl = 0;
    this.laterFragment = false;
    this.learnedServer = LearnedServer.NONE;
    this.srcPort = -1;
    this.dstPort = -1;
    this.payloadOffset = 0;
    this.payloadEnd = 0;
    this.tcpSeq = 0;
    this.tcpFlags = 0;
  }

  /**
   * Makes this view `from`'s layers over another buffer: `data` holds `from`'s
   * bytes from `from.frameStart` on (so every offset moves back by it). Used
   * to keep a segment's headers with a reassembled message after the frame's
   * own buffer has gone.
   */
  copyRebased(from: PacketView, data: Buffer): void {
    const shift = from.frameStart;
    this.data = data;
    this.frameStart = 0;
    this.frameEnd = from.frameEnd - shift;
    this.linkType = from.linkType;
    this.interfaceId = from.interfaceId;
    this.timestampMs = from.timestampMs;
    this.srcMac = from.srcMac;
    this.dstMac = from.dstMac;
    this.vlan = from.vlan;
    this.etherType = from.etherType;
    this.snapOui = from.snapOui;
    this.snapPid = from.snapPid;
    this.l3Offset = from.l3Offset - shift;
    this.l3End = from.l3End - shift;
    this.ipVersion = from.ipVersion;
    this.srcIp4 = from.srcIp4;
    this.dstIp4 = from.dstIp4;
    this.srcIp6Offset = from.srcIp6Offset < 0 ? -1 : from.srcIp6Offset - shift;
    this.dstIp6Offset = from.dstIp6Offset < 0 ? -1 : from.dstIp6Offset - shift;
    this.ipProto = from.ipProto;
    this.ttl = from.ttl;
    this.laterFragment = from.laterFragment;
    this.learnedServer = from.learnedServer;
    this.srcPort = from.srcPort;
    this.dstPort = from.dstPort;
    this.payloadOffset = from.payloadOffset - shift;
    this.payloadEnd = from.payloadEnd - shift;
    this.tcpSeq = from.tcpSeq;
    this.tcpFlags = from.tcpFlags;
    this.tunnelDepth = from.tunnelDepth;
  }

  get payloadLength(): number {
    return this.payloadEnd - this.payloadOffset;
  }
}

/** Which end of a TCP segment a device announced as its HTTP server (PacketView.learnedServer). */
export const LearnedServer = { NONE: 0, SOURCE: 1, DESTINATION: 2 } as const;
export type LearnedServer = (typeof LearnedServer)[keyof typeof LearnedServer];

/** Outcome of parsing a frame's headers. */
export const ParseResult = {
  OK: 0,
  /** A header is shorter than it must be or its fields contradict each other. */
  MALFORMED: 1,
  /** A link type hark does not parse yet: not an error in the frame. */
  UNSUPPORTED_LINK: 2,
} as const;
export type ParseResult = (typeof ParseResult)[keyof typeof ParseResult];
