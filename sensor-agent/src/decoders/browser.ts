// The Windows browser protocol (MS-BRWS §2.2), as mailslot messages in
// SMB transactions (MS-SMB §2.2.4.33) in NetBIOS datagrams (RFC 1002 §4.4,
// UDP 138). Every Windows (and Samba) host with file sharing announces
// itself every few minutes: a HostAnnouncement, or a LocalMasterAnnouncement
// from the segment's master browser, names the host, its OS version and,
// in the server type bits (MS-RAP §5.1.1), what it serves: domain
// controller, SQL server, print server, terminal server, Samba. Domain
// announcements name a workgroup or domain, not a host, and are skipped.
import type { PacketView } from '../packet/view.js';
import { windowsRelease } from './ntlmssp.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForLocalSender, indexOfWithin, text } from './util.js';

const NETBIOS_DATAGRAM_PORT = 138;
const DIRECT_UNIQUE = 0x10;
const BROADCAST = 0x12;
/** Message type, flags, id, source IP and port, length, offset. */
const DATAGRAM_HEADER = 14;
const SMB_COM_TRANSACTION = 0x25;
const HOST_ANNOUNCEMENT = 0x01;
const LOCAL_MASTER_ANNOUNCEMENT = 0x0f;

const SV_TYPE_SQLSERVER = 0x00000004;
const SV_TYPE_DOMAIN_CTRL = 0x00000008;
const SV_TYPE_DOMAIN_BAKCTRL = 0x00000010;
const SV_TYPE_AFP = 0x00000040;
const SV_TYPE_PRINTQ_SERVER = 0x00000200;
const SV_TYPE_SERVER_UNIX = 0x00000800;
const SV_TYPE_NT = 0x00001000;
const SV_TYPE_SERVER_NT = 0x00008000;
const SV_TYPE_WINDOWS = 0x00400000;
const SV_TYPE_TERMINALSERVER = 0x02000000;

/** Server type bits that say what a host serves, as "windows:<role>" hints. */
const ROLES: readonly [number, string][] = [
  [SV_TYPE_DOMAIN_CTRL | SV_TYPE_DOMAIN_BAKCTRL, 'windows:domain-controller'],
  [SV_TYPE_SQLSERVER, 'windows:sql-server'],
  [SV_TYPE_PRINTQ_SERVER, 'windows:print-server'],
  [SV_TYPE_TERMINALSERVER, 'windows:terminal-server'],
  [SV_TYPE_AFP, 'afp:server'],
];

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  const end = pkt.payloadEnd;
  const type = b[o]!;
  if (type < DIRECT_UNIQUE || type > BROADCAST) return; // errors and queries carry no user data
  if (end < o + DATAGRAM_HEADER) throw new RangeError('NetBIOS datagram header truncated');
  // Source and destination names (RFC 1002 §4.1: first-level encoded, each a length-prefixed label sequence).
  let p = skipName(b, skipName(b, o + DATAGRAM_HEADER, end), end);
  const smb = p;
  if (end < smb + 33 || b.readUInt32BE(smb) !== 0xff534d42 || b[smb + 4] !== SMB_COM_TRANSACTION) return;
  const wordCount = b[smb + 32]!;
  if (wordCount < 14 || end < smb + 33 + wordCount * 2) throw new RangeError('SMB transaction truncated');
  const words = smb + 33;
  const dataCount = b.readUInt16LE(words + 22);
  const dataOffset = b.readUInt16LE(words + 24);
  p = smb + dataOffset;
  if (dataCount === 0 || p + dataCount > end) throw new RangeError('browser message overruns the datagram');
  const opcode = b[p]!;
  if (opcode !== HOST_ANNOUNCEMENT && opcode !== LOCAL_MASTER_ANNOUNCEMENT) return;
  // Opcode, update count, periodicity (4), server name (16), OS major, minor, server type (4),
  // browser version (2), signature (2), comment.
  if (dataCount < 32) throw new RangeError('browser announcement truncated');
  const name = cString(b, p + 6, p + 22);
  const major = b[p + 22]!;
  const minor = b[p + 23]!;
  const serverType = b.readUInt32LE(p + 24);
  const comment = cString(b, p + 32, p + dataCount);
  const field = opcode === HOST_ANNOUNCEMENT ? 'host_announcement' : 'local_master_announcement';
  const emit = (n: ObservationName, value: string, confidence: number, f: string) =>
    emitForLocalSender(pkt, sink, 'browser', n, value, confidence, `${field}.${f}`);
  if (name) {
    emit('hostname', name, 0.75, 'server_name');
    emit('netbiosName', name, 0.8, 'server_name');
  }
  const os = announcedOs(major, minor, serverType, comment);
  if (os) emit('os', os, 0.6, 'os_version');
  for (const [bits, role] of ROLES) {
    // Samba announces a print queue server whether or not it shares a printer (its default server type, even
    // with `load printers = no`): from a Samba host the bit says nothing.
    if (bits === SV_TYPE_PRINTQ_SERVER && serverType & SV_TYPE_SERVER_UNIX) continue;
    if (serverType & bits) emit('role', role, 0.8, 'server_type');
  }
}

/**
 * The OS an announcement names. Samba sets the Unix bit (and an imitated
 * Windows version; its comment is "Samba <version>" unless changed);
 * Windows 9x the Windows bit; Windows NT the NT bit, with the server bit on
 * server editions, which is what tells Windows 7 from Server 2008 R2.
 */
function announcedOs(major: number, minor: number, serverType: number, comment: string): string | undefined {
  if (serverType & SV_TYPE_SERVER_UNIX) {
    const samba = /\bSamba\s+([\w.-]+)/i.exec(comment);
    return samba ? `Linux/Unix (Samba ${samba[1]})` : 'Linux/Unix (Samba)';
  }
  if (serverType & SV_TYPE_WINDOWS && !(serverType & SV_TYPE_NT)) return 'Windows 95/98/Me';
  if (!(serverType & SV_TYPE_NT)) return undefined;
  const v = `${major}.${minor}`;
  if (serverType & SV_TYPE_SERVER_NT) return SERVER_EDITIONS[v] ?? windowsRelease(major, minor);
  return WORKSTATION_EDITIONS[v] ?? windowsRelease(major, minor);
}

const SERVER_EDITIONS: Record<string, string> = {
  '5.0': 'Windows 2000 Server',
  '5.2': 'Windows Server 2003',
  '6.0': 'Windows Server 2008',
  '6.1': 'Windows Server 2008 R2',
  '6.2': 'Windows Server 2012',
  '6.3': 'Windows Server 2012 R2',
  '10.0': 'Windows Server 2016 or later',
};

const WORKSTATION_EDITIONS: Record<string, string> = {
  '4.0': 'Windows NT 4.0',
  '5.0': 'Windows 2000',
  '5.1': 'Windows XP',
  '5.2': 'Windows XP x64',
  '6.0': 'Windows Vista',
  '6.1': 'Windows 7',
  '6.2': 'Windows 8',
  '6.3': 'Windows 8.1',
  '10.0': 'Windows 10/11',
};

/** A NUL-terminated string in b[start, end) (what follows the NUL in a fixed-size field is left-over memory). */
function cString(b: Buffer, start: number, end: number): string {
  const nul = indexOfWithin(b, 0, start, end);
  return text(b, start, nul >= 0 ? nul : end);
}

/** Past a NetBIOS name: labels of a length byte and bytes, up to a zero length (no pointers in datagrams). */
function skipName(b: Buffer, o: number, end: number): number {
  for (let i = 0; i < 64; i++) {
    if (o >= end) throw new RangeError('NetBIOS name truncated');
    const len = b[o]!;
    if (len === 0) return o + 1;
    if (len > 63) throw new RangeError('NetBIOS name label too long');
    o += 1 + len;
  }
  throw new RangeError('NetBIOS name has too many labels');
}

export const browserDecoder: Decoder = {
  name: 'browser',
  family: 'udp',
  keys: [NETBIOS_DATAGRAM_PORT],
  // Announcements repeat every 12 minutes, byte for byte apart from the datagram id (and the update count).
  announces: true,
  transactionId: { length: 2, offset: () => 2 },
  match: (pkt) =>
    pkt.srcPort === NETBIOS_DATAGRAM_PORT && pkt.payloadEnd - pkt.payloadOffset >= DATAGRAM_HEADER,
  decode,
};
