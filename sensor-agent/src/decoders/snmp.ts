// SNMP v1/v2c (RFC 1157, RFC 3416) GetResponse PDUs from an agent on UDP
// 161, BER-encoded (X.690). The MIB-II system group (RFC 3418) is the
// agent describing itself: sysDescr (1.3.6.1.2.1.1.1.0), sysObjectID
// (.2.0, whose enterprise arc names the vendor, or the OS where the arc is an
// agent software's) and sysName (.5.0).
//
// SNMPv3 (RFC 3412 §6, USM RFC 3414 §2.4): whatever the security level,
// every message from an agent carries its authoritative engine id in clear,
// and the engine id (RFC 3411 §5) starts with the IANA enterprise number of
// whoever built the agent, then a format and its data (an IPv4 or MAC address,
// text, or the maker's own bytes): the maker of an SNMPv3-only device, as
// nmap's snmp-info reads it. A response not encrypted (noAuthNoPriv,
// authNoPriv) is read as v2c's is.
import type { PacketView } from '../packet/view.js';
import { type BerElement, berChildren, berElement } from './ber.js';
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
    if (version.tag !== 0x02 || version.end - version.start !== 1) return;
    const emit = (name: ObservationName, value: string, c: number, field: string) =>
      emitForLocalSender(pkt, sink, 'snmp', name, value, c, field);
    if (b[version.start] === 3) {
      const pdu = decodeV3(b, version.end, message.end, emit);
      if (pdu) readResponse(b, pdu, emit);
      return;
    }
    if (b[version.start]! > 1) return; // v1 (0), v2c (1), v3 (3)
    const community = berElement(b, version.end, message.end);
    if (community.tag !== 0x04) throw new RangeError('SNMP community is not an OCTET STRING');
    readResponse(b, berElement(b, community.end, message.end), emit);
  },
};

type Emit = (name: ObservationName, value: string, confidence: number, field: string) => void;

/**
 * The rest of an SNMPv3 message after its version, at [o, end): emits what the
 * engine id says; returns the PDU when the scoped PDU is in clear.
 */
function decodeV3(b: Buffer, o: number, end: number, emit: Emit): BerElement | undefined {
  const header = berElement(b, o, end);
  if (header.tag !== 0x30) throw new RangeError('SNMPv3 msgGlobalData is not a SEQUENCE');
  const [, , flags, model] = berChildren(b, header, 4);
  if (flags?.tag !== 0x04 || flags.end - flags.start !== 1 || model?.tag !== 0x02)
    throw new RangeError('SNMPv3 msgFlags or msgSecurityModel malformed');
  const security = berElement(b, header.end, end);
  if (security.tag !== 0x04) throw new RangeError('SNMPv3 msgSecurityParameters is not an OCTET STRING');
  if (model.end - model.start === 1 && b[model.start] === USM) {
    const usm = berElement(b, security.start, security.end);
    if (usm.tag !== 0x30) throw new RangeError('USM security parameters are not a SEQUENCE');
    const engine = berElement(b, usm.start, usm.end);
    if (engine.tag !== 0x04) throw new RangeError('USM msgAuthoritativeEngineID is not an OCTET STRING');
    engineId(b, engine.start, engine.end, emit);
  }
  if (b[flags.start]! & PRIV_FLAG) return undefined; // encrypted
  const scoped = berElement(b, security.end, end);
  if (scoped.tag !== 0x30) throw new RangeError('SNMPv3 ScopedPDU is not a SEQUENCE');
  const [, , pdu] = berChildren(b, scoped, 3); // contextEngineID, contextName, data
  return pdu;
}

/** USM, msgSecurityModel 3 (RFC 3411 §5). */
const USM = 3;
/** msgFlags: privFlag (RFC 3412 §6.4). */
const PRIV_FLAG = 0x02;

/**
 * An SnmpEngineID (RFC 3411 §5): 5 to 32 octets. With its first bit set, the
 * enterprise number (31 bits), a format octet and its data; without, the
 * RFC 1910 form: the enterprise number and 8 octets of its own.
 */
function engineId(b: Buffer, start: number, end: number, emit: Emit): void {
  if (end - start < 5 || end - start > 32) return; // the discovery request's empty one, or not an engine id
  emit('snmpEngineId', b.toString('hex', start, end), 0.9, 'usm.authoritative_engine_id');
  const enterprise = b.readUInt32BE(start) & 0x7fffffff;
  const vendor = ENTERPRISES[enterprise];
  if (vendor) emit('manufacturer', vendor, 0.6, 'usm.authoritative_engine_id');
}

/** A GetResponse (or v3 Report) PDU's varbinds: the system group describes the agent. */
function readResponse(b: Buffer, pdu: BerElement | undefined, emit: Emit): void {
  if (pdu?.tag !== GET_RESPONSE) return;
  let p = pdu.start;
  for (let i = 0; i < 3; i++) p = berElement(b, p, pdu.end).end; // request id, error status, error index
  const varbinds = berElement(b, p, pdu.end);
  if (varbinds.tag !== 0x30) throw new RangeError('SNMP varbind list is not a SEQUENCE');
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
}
