// The contract between protocol decoders and the inventory.
//
// A decoder turns one packet of its protocol into observations: "the device
// with this MAC and/or IP has attribute X = V, with confidence C, because
// field F of protocol P said so". It never touches the inventory directly, so
// decoders stay pure functions of the packet (easy to test and to fuzz), and
// the inventory alone decides how observations merge.
import type { AttributeName } from '@hark/contracts/inventory';
import type { PacketView } from '../packet/view.js';

/**
 * Facts that are not DeviceRecord attributes but feed classification and
 * later correlation (kept per device, not emitted in records).
 */
export type HintName =
  | 'dhcpVendorClass'
  | 'dhcpFingerprint'
  | 'dhcpClientId'
  | 'dhcpServer'
  | 'mdnsService'
  | 'serviceInstance'
  | 'capabilities'
  | 'userAgent'
  | 'ssdpServer'
  | 'ssdpType'
  | 'upnpLocation'
  | 'upnpUuid'
  | 'portId'
  | 'systemDescription'
  | 'netbiosName'
  /** Industrial/application role of the host, "<protocol>:<role>" (e.g. "modbus:server", "dnp3:master"). */
  | 'role'
  /** Protocol-level identity numbers: vendor/device ids, product codes, device instances, link addresses. */
  | 'vendorId'
  | 'deviceType'
  | 'productCode'
  | 'deviceInstance'
  | 'unitId'
  | 'linkAddress'
  | 'stationName'
  | 'location'
  /** Other modules of the same station (CIP backplane, S7 rack) as "name|serial". */
  | 'module'
  | 'softwareVersion'
  | 'applicationUri'
  | 'productUri'
  | 'endpointUrl'
  | 'httpServer'
  /** An RTSP server's Server header ("Hikvision-Webs", "VLC/3.0.12"). */
  | 'rtspServer'
  | 'tlsSni'
  | 'ja4'
  /** The subject of the certificate a host presents in a TLS 1.2 handshake ("CN=nas01, O=Synology Inc."). */
  | 'certificateSubject'
  | 'dnsQuery'
  | 'snmpSysObjectId'
  /** An SNMPv3 agent's authoritative engine id (RFC 3411 §5), in hex. */
  | 'snmpEngineId'
  | 'sipUserAgent'
  /** An FTP or SMTP server's greeting text ("ProFTPD 1.3.8 Server (Debian)"). */
  | 'banner'
  /** An SSH identification string's software and comments ("OpenSSH_9.2p1 Debian-2+deb12u6"). */
  | 'sshSoftware'
  | 'wsdTypes'
  | 'wsdXAddrs'
  | 'wsdScopes';

/**
 * Identity observations besides attributes and hints: `ipv4`/`ipv6` bind an
 * address, `mac` names another MAC of the same device, `chassisId` an LLDP
 * chassis id (subtype:value) shared by all ports of one system.
 */
export type ObservationName = AttributeName | HintName | 'ipv4' | 'ipv6' | 'mac' | 'chassisId';

export interface Observation {
  /** The device as a 48-bit MAC integer, or -1 when only its IP is known. */
  mac: number;
  /** The device's IP (text) when the MAC is not known or to bind the two; undefined otherwise. */
  ip: string | undefined;
  name: ObservationName;
  value: string;
  /** 0..1: how sure this field is of this fact (see each decoder for why its numbers are what they are). */
  confidence: number;
  protocol: string;
  /** The field within the protocol, e.g. "option12.hostname". */
  field: string;
  /** Packet timestamp, ms since the epoch. */
  timestampMs: number;
  /**
   * For facts about the host at `ip` (mac -1) read from an application
   * protocol: the frame's sender MAC. It may be that host, a router in front
   * of it, or one box answering for many IPs (a BACnet gateway or
   * simulator), so the store keys the fact by IP and joins it to this MAC
   * only when the MAC speaks for that one IP alone.
   */
  via?: number;
  /** True when the IP TTL shows the packet crossed a router: the sender MAC is not the host's. */
  routed?: boolean;
}

export interface ObservationSink {
  observe(observation: Observation): void;
  /**
   * A device announced that it serves plain HTTP at ip4:port (a UPnP
   * LOCATION, a WS-Discovery XAddrs): the pipeline hands that endpoint's
   * segments to the HTTP decoders whatever the port (learned-endpoints.ts).
   */
  httpServerAt?(ip4: number, port: number): void;
}

/** The repeat keys the pipeline addon computes (native/repeat_keys.c), for Decoder.nativeRepeatKey. */
export const NativeRepeatKey = { modbusTcp: 1, enipTcp: 2, bacnet: 3 } as const;

/** Which layer a decoder's dispatch keys refer to. */
/** link: EtherTypes; ip: IP protocol numbers (OSPF, VRRP); udp/tcp: ports. */
export type DecoderFamily = 'link' | 'ip' | 'udp' | 'tcp';

export interface Decoder {
  /** Protocol name as it appears in DeviceRecord.protocols and in stats, e.g. "dhcp". */
  readonly name: string;
  readonly family: DecoderFamily;
  /**
   * Dispatch keys: EtherTypes (EtherType.LLC for 802.3 frames) for link
   * decoders, IP protocol numbers for ip decoders, ports (either direction)
   * for UDP/TCP. The registry indexes
   * decoders by these so the hot path asks only decoders that can apply.
   */
  readonly keys: readonly number[];
  /**
   * Its senders send the same packet again and again (periodic announcements,
   * answers to periodic queries): the pipeline remembers the packets it
   * decoded per sender and does not decode a byte-identical repeat
   * (repeat-cache.ts). Left unset where payloads differ every time
   * (counters, nonces), because remembering costs a copy per packet.
   */
  readonly announces?: boolean;
  /**
   * decode() reads neither UDP/TCP port: the ports only chose the decoder. A
   * client asks again from a new ephemeral port each time (a DNS query, an
   * SSDP M-SEARCH, a WS-Discovery probe) and is answered on it, so the repeat
   * cache compares neither port for this decoder and such a copy is a repeat.
   */
  readonly portBlind?: boolean;
  /**
   * Where an announcing decoder's packets carry a transaction identifier (a
   * DNS or NBNS message id, a BACnet invoke id): bytes that differ between
   * two copies of the same answer and that decode() reports nothing from. The
   * repeat cache compares every other byte. `offset` counts from the start of
   * the compared bytes (the UDP/TCP payload, or what follows the link header
   * for link decoders) and is -1 for a packet without one; it must depend
   * only on the bytes before the identifier, and must not throw.
   */
  readonly transactionId?: { readonly length: number; offset(pkt: PacketView): number };
  /**
   * For protocols whose packets differ every time but say the same thing
   * (cyclic polling: Modbus reads, BACnet present-value reads): a small
   * number that, with the packet's addresses, ports and TTL, determines every
   * observation decode() would make from it. A packet whose key, sender and
   * receiver match the last one decoded is not decoded again; its devices'
   * timestamps are refreshed (repeat-cache.ts). Undefined: decode it (identity
   * payloads, anything unusual, anything decode() might reject).
   */
  repeatKey?(pkt: PacketView): number | undefined;
  /**
   * For TCP protocols whose identity lies in one message that may span
   * segments (a TLS ClientHello, an HTTP response carrying a device
   * description): the length of the message that begins at data[start],
   * given its bytes data[start, end) so far, in the segment whose headers
   * `pkt` holds; 0 when it is no message this decoder reads (the other
   * direction, another command), or nothing past data[end] is worth reading.
   * Asked of every segment on the decoder's ports before match(), since a
   * first segment may be too short for match() to judge; a length beyond
   * end - start has the pipeline gather the connection's next segments
   * (message-reassembly.ts) and hand the message, whole, to match() and
   * decode(). A protocol that cannot tell yet (an HTTP head not ended)
   * answers MAX_MESSAGE and is asked again as bytes arrive. Asked only with
   * end > start; it must read nothing outside [start, end) (a frame read in
   * place lies among others), be cheap, and not throw.
   */
  messageLength?(pkt: PacketView, data: Buffer, start: number, end: number): number;
  /**
   * Which of the pipeline addon's repeat keys (native/repeat_keys.c) computes
   * repeatKey() as this decoder does, for the frame memo to recognise a
   * message of cyclic polling without JavaScript (see NativeRepeatKey; a test
   * compares the two on every real message). Cyclic polling is most of an OT
   * or building network's traffic, and its messages differ every time.
   */
  readonly nativeRepeatKey?: number;
  /**
   * For a UDP/TCP decoder: the bytes its messages begin with (a TLS record's
   * content type, a DCE/RPC version, the letters HTTP methods start with).
   * The pipeline asks neither match() nor messageLength() about a payload
   * that is empty or begins with another byte, and the frame memo's native
   * half (frame-memo.ts) can then tell, from that byte, that no decoder reads
   * a segment of encrypted or bulk data on the decoder's port. Leave it unset
   * unless match() and messageLength() reject every other first byte.
   */
  readonly leadingBytes?: readonly number[];
  /**
   * Cheap check on the parsed headers (e.g. LLC SNAP id, multicast group); no
   * payload parsing. It must depend on the packet alone (the frame memo
   * replays a frame's verdict: frame-memo.ts). A UDP/TCP decoder is not asked
   * about a TCP segment without payload.
   */
  match(pkt: PacketView): boolean;
  /**
   * Decodes and reports observations. May throw on malformed input; the
   * pipeline counts that as a malformed packet of this protocol and moves on.
   */
  decode(pkt: PacketView, sink: ObservationSink): void;
}
