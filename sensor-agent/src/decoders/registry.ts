// The set of decoders and the dispatch index over them. Adding a protocol is
// one module plus one line here.
import { PROTOCOL_FAMILIES, type ProtocolFamily } from '@hark/contracts/sensor';
import { adsDecoder } from './ads.js';
import { arpDecoder } from './arp.js';
import { bacnetDecoder } from './bacnet.js';
import { browserDecoder } from './browser.js';
import { cdpDecoder } from './cdp.js';
import { dhcpDecoder } from './dhcp.js';
import { dhcpv6Decoder } from './dhcpv6.js';
import { dnp3Decoder, dnp3UdpDecoder } from './dnp3.js';
import { dnsDecoder, llmnrDecoder } from './dns.js';
import { edpDecoder } from './edp.js';
import { enipDecoder, enipIoDecoder, enipTcpDecoder } from './enip.js';
import { fdpDecoder } from './fdp.js';
import { finsDecoder, finsTcpDecoder } from './fins.js';
import { ftpDecoder, imapDecoder, pop3Decoder, smtpDecoder } from './greetings.js';
import { hnapDecoder } from './hnap.js';
import { httpDecoder } from './http.js';
import { iec104Decoder } from './iec104.js';
import { iec61850Decoder } from './iec61850.js';
import { kerberosDecoder, kerberosTcpDecoder } from './kerberos.js';
import { knxnetIpDecoder } from './knxnetip.js';
import { lldpDecoder } from './lldp.js';
import { mdnsDecoder } from './mdns.js';
import { mmsDecoder } from './mms.js';
import { mndpDecoder } from './mndp.js';
import { modbusDecoder } from './modbus.js';
import { nbnsDecoder } from './nbns.js';
import { opcuaDecoder } from './opcua.js';
import { profinetDcpDecoder } from './profinet.js';
import { profinetCmDecoder } from './profinet-cm.js';
import { rdpDecoder } from './rdp.js';
import { routingDecoder, routingUdpDecoder } from './routing.js';
import { rtspDecoder } from './rtsp.js';
import { s7commDecoder } from './s7comm.js';
import { sipDecoder, sipTcpDecoder } from './sip.js';
import { smbDecoder } from './smb.js';
import { snmpDecoder } from './snmp.js';
import { ssdpDecoder } from './ssdp.js';
import { sshDecoder } from './ssh.js';
import { stpDecoder } from './stp.js';
import { synchrophasorDecoder, synchrophasorUdpDecoder } from './synchrophasor.js';
import { syslogDecoder } from './syslog.js';
import { tlsDecoder } from './tls.js';
import { tplinkDecoder, tplinkTcpDecoder } from './tplink.js';
import type { Decoder, DecoderFamily } from './types.js';
import { ubiquitiDecoder } from './ubiquiti.js';
import { upnpDecoder } from './upnp.js';
import { wsdDecoder } from './wsd.js';
import { wsdMetadataDecoder } from './wsd-metadata.js';

export const ALL_DECODERS: readonly Decoder[] = [
  arpDecoder,
  lldpDecoder,
  cdpDecoder,
  fdpDecoder,
  edpDecoder,
  mndpDecoder,
  ubiquitiDecoder,
  tplinkDecoder,
  tplinkTcpDecoder,
  dhcpDecoder,
  dhcpv6Decoder,
  mdnsDecoder,
  ssdpDecoder,
  nbnsDecoder,
  enipDecoder,
  enipTcpDecoder,
  enipIoDecoder,
  modbusDecoder,
  bacnetDecoder,
  knxnetIpDecoder,
  profinetDcpDecoder,
  profinetCmDecoder,
  s7commDecoder,
  mmsDecoder,
  finsDecoder,
  finsTcpDecoder,
  adsDecoder,
  dnp3Decoder,
  dnp3UdpDecoder,
  iec104Decoder,
  iec61850Decoder,
  synchrophasorDecoder,
  synchrophasorUdpDecoder,
  opcuaDecoder,
  httpDecoder,
  tlsDecoder,
  sshDecoder,
  rdpDecoder,
  ftpDecoder,
  smtpDecoder,
  pop3Decoder,
  imapDecoder,
  dnsDecoder,
  llmnrDecoder,
  snmpDecoder,
  syslogDecoder,
  sipDecoder,
  sipTcpDecoder,
  wsdDecoder,
  smbDecoder,
  browserDecoder,
  stpDecoder,
  routingDecoder,
  routingUdpDecoder,
  upnpDecoder,
  hnapDecoder,
  wsdMetadataDecoder,
  rtspDecoder,
  kerberosDecoder,
  kerberosTcpDecoder,
];

const EMPTY: readonly Decoder[] = [];
/** EtherTypes and ports are 16-bit; EtherType.LLC (802.3 frames) is 0x10000, one past them. */
const KEYS = 0x10001;
/** A payload's first byte, or 256 for an empty payload: the columns of DecoderIndex.leadingTable. */
export const LEADS = 257;

/**
 * The Sensor API's protocol family of each decoder whose name differs from
 * it. SMB is Windows networking's session layer, NetBIOS's companion: one
 * family, as the browser protocol and Kerberos logons are. Spanning tree and router hellos name
 * network gear as LLDP does: the "lldp" family covers them. UPnP device
 * descriptions are where SSDP's LOCATION leads. HNAP is SOAP over a device's
 * own web server. RTSP is HTTP's syntax for streams.
 * Syslog is SNMP's companion in managing network gear. SSH's identification strings and the greetings of FTP, SMTP,
 * POP3 and IMAP, and RDP's connection request, like TLS hellos, are the clear-text start of a session. IEC 60870-5-104 is DNP3's
 * counterpart in telecontrol (grids, substations, pipelines), and IEC 61850's
 * GOOSE and sampled values run inside the substations they reach. KNXnet/IP is BACnet's counterpart in
 * building automation (lighting, blinds, HVAC). (New families would make
 * older agents refuse a newer operator's configuration.)
 */
const DECODER_FAMILY: Record<string, ProtocolFamily> = {
  dhcpv6: 'dhcp',
  nbns: 'netbios',
  smb: 'netbios',
  browser: 'netbios',
  kerberos: 'netbios',
  stp: 'lldp',
  routing: 'lldp',
  upnp: 'ssdp',
  hnap: 'http',
  rtsp: 'http',
  syslog: 'snmp',
  ssh: 'tls',
  rdp: 'tls',
  ftp: 'tls',
  smtp: 'tls',
  pop3: 'tls',
  imap: 'tls',
  llmnr: 'dns',
  iec104: 'dnp3',
  iec61850: 'dnp3',
  mms: 'dnp3',
  fins: 's7comm',
  ads: 's7comm',
  synchrophasor: 'dnp3',
  mndp: 'cdp',
  ubiquiti: 'cdp',
  fdp: 'cdp',
  edp: 'cdp',
  tplink: 'ssdp',
  knxnetip: 'bacnet',
};

const FAMILIES = ['link', 'ip', 'udp', 'tcp'] as const satisfies readonly DecoderFamily[];

/** A decoder family as a number, for dispatch on every packet (see DecoderIndex.tables). */
export const FamilyCode = { link: 0, ip: 1, udp: 2, tcp: 3 } as const satisfies Record<DecoderFamily, number>;
export type FamilyCode = (typeof FamilyCode)[DecoderFamily];

/**
 * Decoders indexed by family and key, so dispatch is one array read per
 * packet: every EtherType and port maps (through a byte per key, 64 KB per
 * family) to one of the few distinct decoder lists. A Map<number, Decoder[]>
 * lookup for the destination and source port of every packet showed as ~2% of
 * the pipeline's time.
 */
export class DecoderIndex {
  /** Distinct decoder lists; index 0 is the empty one. */
  private readonly lists: (readonly Decoder[])[] = [EMPTY];
  /** The same lists as positions in `decoders`, so callers can keep per-decoder state in arrays. */
  private readonly ordinalLists: (readonly number[])[] = [[]];
  /**
   * Per family (by FamilyCode), the list each key maps to. An array indexed by
   * number, not a record indexed by the family's name: a name chosen per packet
   * ('udp' or 'tcp') made that read a megamorphic keyed load; indexing by
   * number took ~9% off the pipeline's instructions per packet (callgrind).
   */
  private readonly tables: readonly Uint8Array[] = FAMILIES.map(() => new Uint8Array(KEYS));
  /**
   * Per list, LEADS bytes: 1 at a payload's first byte (or at 256, for an
   * empty payload) that some decoder of the list may read (see
   * Decoder.leadingBytes); the empty list's row is all 0.
   */
  readonly leadingTable = new Uint8Array(256 * LEADS);
  /** Per list, the native repeat key of its one decoder (Decoder.nativeRepeatKey), or 0. */
  readonly keyedTable = new Uint8Array(256);

  constructor(readonly decoders: readonly Decoder[] = ALL_DECODERS) {
    // Each key's list grows decoder by decoder, in the decoders' order, so a list is the path that
    // built it: (list so far, next decoder) -> list is memoized and keys with the same decoders share
    // one list. Per key this is a table read and write; joining each key's list into a string to find
    // its twin cost ~5 ms per index, as PROFINET CM takes the 16k dynamic ports, and the agent's
    // benchmark and tests build an index per pipeline.
    const next = new Map<number, number>();
    for (let ordinal = 0; ordinal < decoders.length; ordinal++) {
      const d = decoders[ordinal]!;
      const table = this.tables[FamilyCode[d.family]]!;
      for (const key of d.keys) {
        if (!Number.isInteger(key) || key < 0 || key >= KEYS)
          throw new RangeError(`decoder ${d.name}: key ${key} is not an EtherType or port`);
        if (
          d.leadingBytes &&
          (d.family === 'link' || d.family === 'ip' || d.leadingBytes.some((b) => !(b >= 0 && b <= 255)))
        )
          throw new RangeError(`decoder ${d.name}: leadingBytes are bytes of a UDP/TCP payload`);
        if (
          d.nativeRepeatKey !== undefined &&
          ((d.family !== 'tcp' && d.family !== 'udp') || d.repeatKey === undefined)
        )
          throw new RangeError(
            `decoder ${d.name}: a native repeat key stands for a UDP/TCP decoder's repeatKey()`,
          );
        const from = table[key]!;
        const step = from * decoders.length + ordinal;
        let to = next.get(step);
        if (to === undefined) {
          if (this.lists.length > 255) throw new RangeError('more than 255 distinct decoder lists');
          to = this.lists.length;
          next.set(step, to);
          this.lists.push([...this.lists[from]!, d]);
          this.ordinalLists.push([...this.ordinalLists[from]!, ordinal]);
        }
        table[key] = to;
      }
    }
    for (const [list, members] of this.lists.entries()) {
      const row = this.leadingTable.subarray(list * LEADS, (list + 1) * LEADS);
      for (const d of members) {
        if (d.leadingBytes === undefined) row.fill(1);
        else for (const byte of d.leadingBytes) row[byte] = 1;
      }
      if (members.length === 1) this.keyedTable[list] = members[0]!.nativeRepeatKey ?? 0;
    }
  }

  /**
   * Per family (by FamilyCode), a byte per key that is nonzero where decoders
   * are listed: what the frame memo's native half dispatches on (frame-memo.ts).
   */
  get dispatchTables(): readonly Uint8Array[] {
    return this.tables;
  }

  /**
   * Only the decoders of the listed protocol families (config
   * `capture.protocols`, the Sensor API's names). A name outside the API is an
   * error worth seeing; an API family this agent has no decoder for yet is
   * accepted (an older agent under a newer operator) and reported in `undecoded`.
   */
  static only(names: readonly string[] | undefined): DecoderIndex {
    if (!names || names.length === 0) return new DecoderIndex();
    const unknown = names.filter((n) => !(PROTOCOL_FAMILIES as readonly string[]).includes(n));
    if (unknown.length > 0) {
      throw new Error(
        `unknown protocol famil${unknown.length > 1 ? 'ies' : 'y'} ${unknown.join(', ')}; known: ${PROTOCOL_FAMILIES.join(', ')}`,
      );
    }
    const index = new DecoderIndex(
      ALL_DECODERS.filter((d) => names.includes(DECODER_FAMILY[d.name] ?? d.name)),
    );
    index.undecoded = names.filter(
      (n) => !ALL_DECODERS.some((d) => (DECODER_FAMILY[d.name] ?? d.name) === n),
    );
    return index;
  }

  /** Requested protocol families this agent does not decode yet. */
  undecoded: string[] = [];

  /** The decoders for an EtherType (link), IP protocol (ip) or port (udp, tcp); any other key has none. */
  candidates(family: DecoderFamily, key: number): readonly Decoder[] {
    return this.lists[this.tables[FamilyCode[family]]![key] ?? 0]!;
  }

  /** candidates() as positions in `decoders`, the family given by its FamilyCode (the per-packet form). */
  candidateOrdinals(family: FamilyCode, key: number): readonly number[] {
    return this.ordinalLists[this.tables[family]![key] ?? 0]!;
  }
}
