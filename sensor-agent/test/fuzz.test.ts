// Mutates real packets (bit flips, truncation, splices) and drives them
// through the whole pipeline: no input may throw out of it.
import { describe, expect, it } from 'vitest';
import { type CapturedPacket, FrameBatch, readCapture } from '../src/capture/index.js';
import { ALL_DECODERS } from '../src/decoders/index.js';
import { pipelineAddon } from '../src/native-addon.js';
import { Pipeline } from '../src/pipeline.js';
import { packetOf } from './reframe.js';
import { MISSING, pcap } from './support.js';

const SOURCES = [
  'tcpdump__LLDP_and_CDP.pcap',
  'arkime__wireshark-lldp.pcap',
  'zeek__cdp-v1.pcap',
  'tcpdump__3560_CDP.pcap',
  'zeek__dhcp.pcap',
  'arkime__wireshark-dhcpv6.pcap',
  'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap',
  'ndpi__anyconnect-vpn.pcap',
  'arkime__nbns.pcap',
  'zeek__mdns.pcap',
  'zeek__linux_dlt_sll2.pcap',
  'iti__enip_test.pcap',
  'iti__EIP-IPAddressChangeAttempt.pcap',
  'cisagov-icsnpp-modbus__modbus_example.pcap',
  'cisagov-icsnpp-bacnet__bacnet_example.pcap',
  'arkime__bacnet-stack-services.pcap',
  'iti__ChangeIPUsingDCP.pcap',
  'cisagov-icsnpp-profinet-io-cm__profinet_io_cm.pcap', // PROFINET IO CM: DCE/RPC over UDP
  'iti__profinet-wireshark-bug.pcap',
  'iti__tia_s300_goOnline.pcapng',
  'zeek__dnp3.pcap',
  'ndpi__IEC104.pcap',
  'iti__090813_diverse.pcap',
  'ndpi__opc-ua.pcap',
  'ndpi__rtsp.pcap',
  'zeek__wikipedia.pcap',
  'suricata-verify__ja4-tls__input.pcap',
  'suricata-verify__sip-method__sip.pcap',
  'ndpi__gnutella.pcap',
  'tcpdump__erspan-type-i-4.pcap', // OSPF, and frames inside ERSPAN and GRE tunnels
];
/** Decoded packets kept per protocol, so the big OT/IT captures do not crowd out the small ones. */
const PER_PROTOCOL = 400;
// 20k in `make test`; `make fuzz` runs millions (HARK_FUZZ_MUTATIONS).
const MUTATIONS = Number(process.env.HARK_FUZZ_MUTATIONS ?? 20_000);

/** A UDP datagram over Ethernet/IPv4 from 192.168.0.1:`srcPort` (to port 40000, or `dstPort`). */
function udpPacket(srcPort: number, payloadHex: string, dstPort = 40000): CapturedPacket {
  const payload = Buffer.from(payloadHex, 'hex');
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(srcPort, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return ipv4Packet(17, udp, payload);
}

/** A TCP segment (PSH, ACK; sequence number 1) over Ethernet/IPv4 from 192.168.0.1:`srcPort` to port 40000. */
function tcpPacket(srcPort: number, payload: Buffer): CapturedPacket {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(srcPort, 0);
  tcp.writeUInt16BE(40000, 2);
  tcp.writeUInt32BE(1, 4);
  tcp[12] = 5 << 4;
  tcp[13] = 0x18;
  tcp.writeUInt16BE(65535, 14);
  return ipv4Packet(6, tcp, payload);
}

function ipv4Packet(protocol: number, transport: Buffer, payload: Buffer): CapturedPacket {
  const ip = Buffer.from('450000000000000040000000c0a80001c0a80002', 'hex');
  ip[9] = protocol;
  ip.writeUInt16BE(20 + transport.length + payload.length, 2);
  const eth = Buffer.from('0200000000020200000000010800', 'hex');
  return packetOf(Buffer.concat([eth, ip, transport, payload]), 0);
}

/** SNMPv2c GetResponse with sysName "sw1" (RFC 3416). */
const SNMP_RESPONSE = udpPacket(
  161,
  '302902010104067075626c6963a21c0201070201000201003011300f06082b060102010105000403737731',
);
/** Kerberos AS-REQ for machine account PC1$ in realm LAB, NetBIOS address PC1 (RFC 4120 §5.4.1). */
const KERBEROS_AS_REQ = udpPacket(
  51000,
  '6a6f306da103020105a20302010aa461305fa111300fa003020101a10830061b0450433124a2051b034c4142a3183016a003020102' +
    'a10f300d1b066b72627467741b034c4142a703020101a8053003020117a91d301b3019a003020114a112041050433120202020202020202020202020',
  88,
);
/** An SSH server's identification string (RFC 4253 §4.2), as Debian's OpenSSH sends it. */
const SSH_IDENTIFICATION = tcpPacket(22, Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n', 'latin1'));
/**
 * An RDP server's X.224 Connection Confirm with its negotiation response for TLS (MS-RDPBCGR 2.2.1.2), as
 * xrdp sent it in rdp-peer.test.ts.
 */
const RDP_CONNECTION_CONFIRM = tcpPacket(3389, Buffer.from('030000130ed000001234000201080001000000', 'hex'));
/** Mail servers' greetings (RFC 5321 §4.2, RFC 1939 §4, RFC 9051 §7.1), as Postfix and Dovecot word them. */
const MAIL_GREETINGS = [
  tcpPacket(25, Buffer.from('220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n', 'latin1')),
  tcpPacket(110, Buffer.from('+OK Dovecot (Debian) ready.\r\n', 'latin1')),
  tcpPacket(143, Buffer.from('* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot (Ubuntu) ready.\r\n', 'latin1')),
];
/** An MMS Identify answer from port 102 (ISO 9506-2 in IEC 61850-8-1's session and presentation layers): ABB REF615 5.0.3. */
const MMS_IDENTIFY_RESPONSE = tcpPacket(
  102,
  Buffer.from(
    '0300002f02f0800100010061223020020103a01ba119020101a214800341424281065245463631358205352e302e33',
    'hex',
  ),
);
/** An Omron FINS answer to CONTROLLER DATA READ (W342 §5-3-18) from UDP 9600: CJ2M-CPU31, version 02.01. */
const FINS_CONTROLLER_DATA = udpPacket(
  9600,
  'c000020014000001000105010000' +
    '434a324d2d435055333120202020202020202020' +
    '30322e30312020202020202020202020202020' +
    '20' +
    '00'.repeat(52),
);
/** A C37.118.2-2011 configuration 2 frame from UDP 4713: one PMU, SUB_A_PMU1, IDCODE 7, one phasor; CHK correct. */
const C37118_CONFIG = udpPacket(
  4713,
  'aa32004a00076553f10000000000000f42400001' +
    '5355425f415f504d5531202020202020' +
    '0007000000010000000056412020202020202020202020202020000df84700000001001ee66d',
);
/** A MikroTik MNDP broadcast from 5678: identity core-router, RouterOS 6.49.7, board RB4011iGS+. */
const MNDP_ANNOUNCEMENT = udpPacket(
  5678,
  '00000001000100064c5e0c1122330005000b636f72652d726f757465720007000f362e34392e372028737461626c6529' +
    '000800084d696b726f54696b000c000a5242343031316947532b00100006657468657231',
);
/** A UniFi access point's answer to Ubiquiti discovery from 10001: ap-lobby, U7PG2, UAP-AC-Pro 6.5.55. */
const UBIQUITI_ANSWER = udpPacket(
  10001,
  '0100003e010006788a20aabbcc0b000861702d6c6f6262790c000555375047320d0009636f72702d77696669' +
    '15000a5541502d41432d50726f160006362e352e3535',
);
/** A TP-Link HS110 plug's get_sysinfo answer from UDP 9999 (autokey XOR, first key 171). */
const TPLINK_SYSINFO = udpPacket(
  9999,
  'd0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08ba9daadf284e193b18ba998b683ad99b9fb8ee78befcf' +
    'fec6f6ceffcaeab8ddb19fae9cad99ad9dbf93b1d9aef187e290b288aa98b686a488aadea7d7b290aa88c18edaf4a7ea' +
    'abf9adfdb1e4a3f0a7eebaf9b193bf9df09ffb9ef2d0eac880d3e2d3e3cb8edbf2d0fcdebfd3badba88ab092d9b0c4a7' +
    'cfaac4e48fea9eea86e3c1bcc1bc',
);
/**
 * A KNXnet/IP SEARCH_RESPONSE as knxd sent it in knx-peer.test.ts, with another serial number and
 * friendly name: routing and tunnelling, individual address 1.1.128, "KNX IP Router 752".
 */
const KNX_SEARCH_RESPONSE = udpPacket(
  3671,
  '06100202004c08010a4d09020e57360102001180000000c5004b1d2ee000170cb6869f5ce7ae4b4e5820495020526f757465' +
    '7220373532000000000000000000000000000802020104010501',
);
/**
 * A DNP3 outstation's response with device attributes (IEEE 1815-2012 §A.2, built as dnp3.test.ts
 * builds them, CRC blocks included): maker, product and model "D20MX", software 4.10, serial.
 */
const DNP3_DEVICE_ATTRIBUTES = tcpPacket(
  20000,
  Buffer.from(
    '0564434401000a0028a4c1c181000000fc000000010a47452056037665726e6f766100fa00000001054432303de74d58' +
      '00f20000000104342e313000f80053510000010a4432304d582d303034328acf',
    'hex',
  ),
);
/** A Beckhoff ADS answer to READ DEVICE INFO from TCP 48898: "Plc30 App", TwinCAT 3.1.4024. */
const ADS_DEVICE_INFO = tcpPacket(
  48898,
  Buffer.from(
    '000038000000c0a8010a01018980050c22380101530301000500180000000000000001000000' +
      '000000000301b80f506c6333302041707000000000000000',
    'hex',
  ),
);
/** A GOOSE frame (IEC 61850-8-1 Annex A): APPID 1, goosePdu with gocbRef, timeAllowedtoLive, datSet, stNum, sqNum, allData. */
const GOOSE_FRAME = packetOf(
  Buffer.from(
    '010ccd0100010200000000d388b8' +
      '000100410000000061378014494544314c44302f4c4c4e3024474f2467636231810207d08210494544314c44302f4c4c4e3024647331850101860100ab03830100',
    'hex',
  ),
  0,
);
/** An 802.3 frame from 02:00:00:00:00:01 with an LLC/SNAP header (OUI, PID) before `body`. */
function snapFrame(destination: string, oui: string, pid: string, body: Buffer): CapturedPacket {
  const llc = Buffer.from(`aaaa03${oui}${pid}`, 'hex');
  const header = Buffer.from(`${destination}020000000001`, 'hex');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(llc.length + body.length);
  return packetOf(Buffer.concat([header, length, llc, body]), 0);
}
/** A type-length-value of CDP's layout (16-bit type, 16-bit length that counts the 4-byte header). */
function cdpTlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type);
  h.writeUInt16BE(4 + v.length, 2);
  return Buffer.concat([h, v]);
}
/** A Brocade ICX switch's FDP announcement: device id, address 10.0.0.2, port, capabilities, software, platform. */
const FDP_ANNOUNCEMENT = snapFrame(
  '01e052cccccc',
  '00e052',
  '2000',
  Buffer.concat([
    Buffer.from('01b40000', 'hex'),
    cdpTlv(1, 'icx-7150'),
    cdpTlv(2, Buffer.from('0000000101 01cc 0004 0a000002'.replace(/ /g, ''), 'hex')),
    cdpTlv(3, 'ethernet1/1/1'),
    cdpTlv(4, 'Switch'),
    cdpTlv(5, 'Version 08.0.95bT211'),
    cdpTlv(6, 'ICX7150-48P'),
  ]),
);
/** An Extreme switch's EDP hello: display name core-sw1, info TLV with software version 31.7.1.4, null TLV. */
const EDP_HELLO = snapFrame(
  '00e02b000000',
  '00e02b',
  '00bb',
  Buffer.from(
    '0100005c00000000' + // version, reserved, length, checksum, sequence
      '0000020000000001' + // machine id type (MAC) and MAC
      '9901000d636f72652d73773100' + // display "core-sw1\0"
      `99020024${'00'.repeat(12)}1f070104${'ff'.repeat(4)}${'00'.repeat(12)}` + // info: slot, port, ..., version
      '99000004',
    'hex',
  ),
);
/** A syslog message to port 514, RFC 5424 §6.5's first example. */
const SYSLOG_MESSAGE = udpPacket(
  40001,
  Buffer.from(
    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed",
    'latin1',
  ).toString('hex'),
  514,
);
/** LLMNR response: "host" A 192.168.0.1 (RFC 4795). */
const LLMNR_RESPONSE = udpPacket(
  5355,
  '00018000000100010000000004686f7374000001000' + '1c00c000100010000001e0004c0a80001',
);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(MISSING)('fuzzing the decoders with mutated real packets', () => {
  // The time budget grows with the mutations asked for: `make fuzz` asks for two million (7–8 minutes on 2 cores).
  it(
    `${MUTATIONS} mutations: nothing escapes the pipeline, and the decoders really ran`,
    async () => {
      // Keep the packets some decoder decodes: mutating those exercises decoder code, not just header checks.
      const probe = new Pipeline();
      const pool: CapturedPacket[] = [];
      for (const file of SOURCES) {
        for await (const p of readCapture(pcap(file))) {
          const before = { ...probe.stats.decoded };
          probe.process(p);
          const grew = Object.entries(probe.stats.decoded).filter(([name, n]) => n > (before[name] ?? 0));
          if (grew.some(([, n]) => n <= PER_PROTOCOL)) pool.push({ ...p, data: Buffer.from(p.data) });
        }
      }
      const decodedProtocols = Object.entries(probe.stats.decoded)
        .filter(([, n]) => n > 0)
        .map(([name]) => name);
      // Every decoder ran, except those of what the shared corpus lacks (SNMP and LLMNR responses, Kerberos,
      // SSH, syslog, mail greetings, RDP, KNXnet/IP, substation, PLC and neighbour-discovery protocols, Foundry's
      // and Extreme's switch announcements): those are fuzzed from
      // packets built per their RFCs and standards.
      const built = [
        'snmp',
        'llmnr',
        'kerberos',
        'ssh',
        'syslog',
        'smtp',
        'pop3',
        'imap',
        'iec61850',
        'fins',
        'synchrophasor',
        'mndp',
        'ubiquiti',
        'tplink',
        'ads',
        'fdp',
        'edp',
        'rdp',
        'knxnetip',
      ];
      const names = [...new Set(ALL_DECODERS.map((d) => d.name))].filter((n) => !built.includes(n));
      expect(decodedProtocols.sort()).toEqual(names.sort());
      const builtPackets = [
        SNMP_RESPONSE,
        LLMNR_RESPONSE,
        KERBEROS_AS_REQ,
        SSH_IDENTIFICATION,
        SYSLOG_MESSAGE,
        GOOSE_FRAME,
        // The corpus has port 102 only as S7comm, which MMS reads and leaves: its parser is fuzzed from this.
        MMS_IDENTIFY_RESPONSE,
        FINS_CONTROLLER_DATA,
        C37118_CONFIG,
        MNDP_ANNOUNCEMENT,
        UBIQUITI_ANSWER,
        TPLINK_SYSINFO,
        ADS_DEVICE_INFO,
        FDP_ANNOUNCEMENT,
        EDP_HELLO,
        RDP_CONNECTION_CONFIRM,
        // The corpus has DNP3, but no device attributes: their parser is fuzzed from this.
        DNP3_DEVICE_ATTRIBUTES,
        KNX_SEARCH_RESPONSE,
        ...MAIL_GREETINGS,
      ];
      // ...and each of those decoders does decode its built packet, so none goes unfuzzed.
      const builtProbe = new Pipeline();
      for (const p of builtPackets) builtProbe.process(p);
      for (const name of built) expect(builtProbe.stats.decoded[name], name).toBeGreaterThan(0);
      // The identity answers are read whole before they are mutated (each alone: they share a sender).
      for (const [packet, identity] of [
        [MMS_IDENTIFY_RESPONSE, 'REF615'],
        [FINS_CONTROLLER_DATA, 'CJ2M-CPU31'],
        [C37118_CONFIG, 'SUB_A_PMU1'],
        [MNDP_ANNOUNCEMENT, 'RB4011iGS+'],
        [UBIQUITI_ANSWER, 'UAP-AC-Pro'],
        [TPLINK_SYSINFO, 'HS110(EU)'],
        [ADS_DEVICE_INFO, '3.1.4024'],
        [FDP_ANNOUNCEMENT, 'ICX7150-48P'],
        [EDP_HELLO, '31.7.1.4'],
        [DNP3_DEVICE_ATTRIBUTES, 'D20MX'],
        [KNX_SEARCH_RESPONSE, 'KNX IP Router 752'],
      ] as const) {
        const alone = new Pipeline();
        alone.process(packet);
        expect(JSON.stringify(alone.store.toRecords()), identity).toContain(`"value":"${identity}"`);
      }
      for (let i = 0; i < 20; i++) pool.push(...builtPackets);

      const random = mulberry32(0xfeed);
      const pipeline = new Pipeline();
      // The same frames read in place, as readers hand them over: each lies in a larger buffer, followed
      // by the bytes of the uncut packet, so a read past the end of a cut or damaged frame finds
      // plausible bytes instead of failing. It must count and report exactly what the frames alone give.
      const inPlace = new Pipeline();
      const frames = new FrameBatch();
      for (let i = 0; i < MUTATIONS; i++) {
        const base = pool[Math.floor(random() * pool.length)]!;
        const data = Buffer.from(base.data);
        const kind = random();
        let mutated: Buffer = data;
        if (kind < 0.5) {
          const flips = 1 + Math.floor(random() * 4);
          for (let f = 0; f < flips; f++)
            data[Math.floor(random() * data.length)] = Math.floor(random() * 256);
        } else if (kind < 0.8) {
          mutated = data.subarray(0, Math.floor(random() * data.length));
        } else {
          // Splice a random run of bytes from another packet.
          const other = pool[Math.floor(random() * pool.length)]!.data;
          const at = Math.floor(random() * data.length);
          const from = Math.floor(random() * other.length);
          other.copy(data, at, from, from + Math.floor(random() * 32));
        }
        expect(() => pipeline.process({ ...base, data: mutated })).not.toThrow();
        const buffer = Buffer.concat([mutated, base.data]);
        frames.push(
          buffer,
          0,
          mutated.length,
          base.originalLength,
          base.seconds,
          base.nanos,
          base.linkType,
          0,
        );
        expect(() => inPlace.processBatch(frames)).not.toThrow();
        frames.clear();
      }
      expect(pipeline.stats.packets).toBe(MUTATIONS);
      // In place, frames also go through the native frame memo where it is built (src/frame-memo.ts):
      // hostile bytes reach its parser too. It replays repeats the repeat cache would have skipped.
      const { replayed, repeats, ...judged } = inPlace.stats;
      const { replayed: none, repeats: _, ...processed } = pipeline.stats;
      expect(judged).toEqual(processed);
      expect(none).toBe(0);
      if (pipelineAddon().addon) expect(replayed).toBeGreaterThan(0);
      expect(repeats + replayed).toBeGreaterThan(0);
      expect(inPlace.store.toRecords()).toEqual(pipeline.store.toRecords());
      const decoded = Object.values(pipeline.stats.decoded).reduce((a, b) => a + b, 0);
      const rejected = Object.values(pipeline.stats.decodeErrors).reduce((a, b) => a + b, 0);
      expect(decoded).toBeGreaterThan(MUTATIONS / 4);
      expect(rejected).toBeGreaterThan(0);
      expect(pipeline.stats.malformed).toBeGreaterThan(0);
      expect(() => pipeline.store.toRecords()).not.toThrow();
    },
    Math.max(300_000, MUTATIONS / 2),
  );
});
