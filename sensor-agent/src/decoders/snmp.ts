// SNMP v1/v2c (RFC 1157, RFC 3416) GetResponse PDUs from an agent on UDP
// 161, BER-encoded (X.690). The MIB-II system group (RFC 3418) is the
// agent describing itself: sysDescr (1.3.6.1.2.1.1.1.0), sysObjectID
// (.2.0, whose enterprise arc names the vendor, or the OS where the arc is an
// agent software's) and sysName (.5.0). SNMPv3 is encrypted or authenticated
// and not read.
import type { PacketView } from '../packet/view.js';
import { berElement } from './ber.js';
import { parseSystemDescription } from './sysdescr.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForLocalSender, text } from './util.js';

const SNMP_PORT = 161;
const GET_RESPONSE = 0xa2;
const SYS_DESCR = '1.3.6.1.2.1.1.1.0';
const SYS_OBJECT_ID = '1.3.6.1.2.1.1.2.0';
const SYS_NAME = '1.3.6.1.2.1.1.5.0';

/** IANA private enterprise numbers of common network/OT vendors. */
const ENTERPRISES: Record<number, string> = {
  9: 'Cisco',
  11: 'Hewlett Packard',
  43: '3Com',
  1916: 'Extreme Networks',
  2636: 'Juniper Networks',
  4329: 'Siemens',
  11898: 'Moxa',
  25506: 'H3C',
};

/**
 * Enterprise arcs of SNMP agent software, not of a maker: Net-SNMP (8072; and
 * UCD-SNMP, 2021, before it) runs on Linux servers and in countless embedded
 * devices and BMCs, and Microsoft's (311) in every Windows that runs the SNMP
 * service, whoever built the machine. Their object ids name the OS the agent
 * was built for (NET-SNMP-TC's netSnmpAgentOIDs; Microsoft's
 * 1.3.6.1.4.1.311.1.1.3.1.*: workstation, server, domain controller).
 */
const NET_SNMP_AGENT = /^1\.3\.6\.1\.4\.1\.(?:8072\.3\.2|2021\.250)\.(\d+)$/;
const NET_SNMP_AGENT_OS: Record<number, string> = {
  1: 'HP-UX', // hpux9
  3: 'Solaris',
  6: 'HP-UX', // hpux10
  7: 'NetBSD',
  8: 'FreeBSD',
  10: 'Linux',
  12: 'OpenBSD',
  13: 'Windows', // win32
  14: 'HP-UX', // hpux11
  15: 'AIX',
  16: 'macOS',
};
const MICROSOFT_AGENT = /^1\.3\.6\.1\.4\.1\.311\.1\.1\.3\.1\.\d+$/;

function agentOs(id: string): string | undefined {
  if (MICROSOFT_AGENT.test(id)) return 'Windows';
  const netSnmp = NET_SNMP_AGENT.exec(id);
  return netSnmp ? NET_SNMP_AGENT_OS[Number(netSnmp[1])] : undefined;
}

export function oidText(b: Buffer, start: number, end: number): string {
  if (start >= end) return '';
  const first = b[start]!;
  const arcs = [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40];
  let v = 0;
  for (let i = start + 1; i < end; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if ((b[i]! & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

export const snmpDecoder: Decoder = {
  name: 'snmp',
  family: 'udp',
  keys: [SNMP_PORT],
  match: (pkt) => pkt.srcPort === SNMP_PORT && pkt.payloadEnd - pkt.payloadOffset >= 16,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const message = berElement(b, pkt.payloadOffset, pkt.payloadEnd);
    if (message.tag !== 0x30) throw new RangeError('SNMP message is not a SEQUENCE');
    const version = berElement(b, message.start, message.end);
    if (version.tag !== 0x02 || version.end - version.start !== 1 || b[version.start]! > 1) return; // v1 (0) and v2c (1) only
    const community = berElement(b, version.end, message.end);
    if (community.tag !== 0x04) throw new RangeError('SNMP community is not an OCTET STRING');
    const pdu = berElement(b, community.end, message.end);
    if (pdu.tag !== GET_RESPONSE) return;
    let p = pdu.start;
    for (let i = 0; i < 3; i++) p = berElement(b, p, pdu.end).end; // request id, error status, error index
    const varbinds = berElement(b, p, pdu.end);
    if (varbinds.tag !== 0x30) throw new RangeError('SNMP varbind list is not a SEQUENCE');
    const emit = (name: ObservationName, value: string, c: number, field: string) =>
      emitForLocalSender(pkt, sink, 'snmp', name, value, c, field);
    // One varbind at a time: those before a damaged one (a snap length cutting the list) still count.
    for (let q = varbinds.start, n = 0; q < varbinds.end && n < 64; n++) {
      const varbind = berElement(b, q, varbinds.end);
      q = varbind.end;
      const oid = berElement(b, varbind.start, varbind.end);
      if (oid.tag !== 0x06) continue;
      const { tag: valTag, start: val, end: valEnd } = berElement(b, oid.end, varbind.end);
      const name = oidText(b, oid.start, oid.end);
      if (name === SYS_DESCR && valTag === 0x04) {
        const descr = text(b, val, valEnd);
        emit('systemDescription', descr, 0.9, 'sysDescr');
        const facts = parseSystemDescription(descr);
        if (facts.os) emit('os', facts.os, 0.7, 'sysDescr');
        if (facts.firmwareVersion) emit('firmwareVersion', facts.firmwareVersion, 0.6, 'sysDescr');
        if (facts.model) emit('model', facts.model, 0.5, 'sysDescr');
      } else if (name === SYS_OBJECT_ID && valTag === 0x06) {
        const id = oidText(b, val, valEnd);
        emit('snmpSysObjectId', id, 0.9, 'sysObjectID');
        const enterprise = /^1\.3\.6\.1\.4\.1\.(\d+)/.exec(id);
        const vendor = enterprise ? ENTERPRISES[Number(enterprise[1])] : undefined;
        if (vendor) emit('manufacturer', vendor, 0.75, 'sysObjectID');
        const os = agentOs(id);
        if (os) emit('os', os, 0.6, 'sysObjectID');
      } else if (name === SYS_NAME && valTag === 0x04) {
        emit('hostname', text(b, val, valEnd), 0.8, 'sysName');
      }
    }
  },
};
