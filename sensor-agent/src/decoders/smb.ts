// SMB session setup (MS-SMB §2.2.4.53, MS-SMB2 §2.2.5-2.2.6) over TCP 445
// and NetBIOS session service 139 (RFC 1002 §4.3): Windows hosts
// authenticating say who they are. The NTLMSSP token inside
// (ntlmssp.ts) gives the sender's Windows version and name; SMB1 also
// carries the sender's native OS and LAN manager strings ("Windows Server
// 2003 R2 3790 Service Pack 2", "Unix" with "Samba 3.0.37"). Zeek's
// ntlm.log and smb logs report the same fields. Only the first segment of a
// message is read (no TCP reassembly): session setups fit in one.
import type { PacketView } from '../packet/view.js';
import { emitNtlmIdentity, findNtlmssp, parseNtlmssp, windowsRelease } from './ntlmssp.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForLocalSender } from './util.js';

const SMB_DIRECT_PORT = 445;
const NETBIOS_SESSION_PORT = 139;
const NBSS_SESSION_MESSAGE = 0x00;
const SMB1_SESSION_SETUP_ANDX = 0x73;
const SMB1_FLAGS_REPLY = 0x80;
const SMB1_FLAGS2_UNICODE = 0x8000;
const SMB1_HEADER = 32;
const SMB2_HEADER = 64;
/** "\xffSMB" and "\xfeSMB": the protocol ids an SMB1 and an SMB2 header begin with. */
const SMB1_MAGIC = 0xff534d42;
const SMB2_MAGIC = 0xfe534d42;
const SMB2_SESSION_SETUP = 0x0001;
const SMB2_FLAGS_SERVER_TO_REDIR = 0x00000001;

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const end = pkt.payloadEnd;
  const o = pkt.payloadOffset;
  if (b[o] !== NBSS_SESSION_MESSAGE) return; // session request, keep-alive, ...
  const smb = o + 4;
  const messageEnd = Math.min(end, smb + (((b[o + 1]! & 0x01) << 16) | (b[o + 2]! << 8) | b[o + 3]!));
  if (messageEnd < smb + 4) throw new RangeError('SMB message truncated');
  const magic = b.readUInt32BE(smb);
  if (magic === SMB1_MAGIC) smb1(pkt, sink, smb, messageEnd);
  else if (magic === SMB2_MAGIC) smb2(pkt, sink, smb, messageEnd);
}

function smb1(pkt: PacketView, sink: ObservationSink, h: number, end: number): void {
  const b = pkt.data;
  if (end < h + SMB1_HEADER + 3) throw new RangeError('SMB1 header truncated');
  if (b[h + 4] !== SMB1_SESSION_SETUP_ANDX) return;
  const reply = (b[h + 9]! & SMB1_FLAGS_REPLY) !== 0;
  const unicode = (b.readUInt16LE(h + 10) & SMB1_FLAGS2_UNICODE) !== 0;
  const wordCount = b[h + SMB1_HEADER]!;
  const words = h + SMB1_HEADER + 1;
  const bytes = words + wordCount * 2 + 2;
  if (bytes > end) throw new RangeError('SMB1 session setup truncated');
  const byteEnd = Math.min(end, bytes + b.readUInt16LE(bytes - 2));
  let strings: number;
  // Extended security (a security blob, its length in the words): request WC 12, response WC 4.
  if ((!reply && wordCount === 12) || (reply && wordCount === 4)) {
    const blobLength = b.readUInt16LE(words + (reply ? 6 : 14));
    if (bytes + blobLength > byteEnd) throw new RangeError('SMB1 security blob overruns the message');
    ntlm(pkt, sink, bytes, bytes + blobLength);
    strings = bytes + blobLength;
  } else if (!reply && wordCount === 13) {
    // Passwords, then account name and primary domain before the native OS.
    strings = bytes + b.readUInt16LE(words + 14) + b.readUInt16LE(words + 16);
    strings = skipString(b, align(strings, h, unicode), byteEnd, unicode);
    strings = skipString(b, align(strings, h, unicode), byteEnd, unicode);
  } else if (reply && wordCount === 3) {
    strings = bytes;
  } else {
    return;
  }
  const os = readString(b, align(strings, h, unicode), byteEnd, unicode);
  const lanman = os ? readString(b, os.next, byteEnd, unicode) : undefined;
  const native = nativeOs(os?.value ?? '', lanman?.value ?? '');
  if (native)
    emitForLocalSender(pkt, sink, 'smb', 'os', native.os, native.confidence, 'session_setup.native_os');
}

function smb2(pkt: PacketView, sink: ObservationSink, h: number, end: number): void {
  const b = pkt.data;
  // The header alone: Tree Disconnect, Logoff and Echo carry a 4-byte body, which the session setup check below
  // (its security buffer's offset and length) would take for a truncated one.
  if (end < h + SMB2_HEADER) throw new RangeError('SMB2 header truncated');
  if (b.readUInt16LE(h + 12) !== SMB2_SESSION_SETUP) return;
  const response = (b.readUInt32LE(h + 16) & SMB2_FLAGS_SERVER_TO_REDIR) !== 0;
  const body = h + SMB2_HEADER;
  const at = response ? body + 4 : body + 12;
  if (at + 4 > end) throw new RangeError('SMB2 session setup truncated');
  const offset = b.readUInt16LE(at);
  const length = b.readUInt16LE(at + 2);
  if (length === 0) return;
  if (h + offset + length > end) throw new RangeError('SMB2 security buffer overruns the message');
  ntlm(pkt, sink, h + offset, h + offset + length);
}

/** The NTLMSSP token inside a security blob (SPNEGO or bare), if there is one. */
function ntlm(pkt: PacketView, sink: ObservationSink, start: number, end: number): void {
  const at = findNtlmssp(pkt.data, start, end);
  if (at < 0) return; // Kerberos, or SPNEGO's list of mechanisms
  emitNtlmIdentity(pkt, sink, 'smb', parseNtlmssp(pkt.data, at, end));
}

/**
 * The OS that SMB1's native OS and LAN manager strings name: Samba says so
 * in the LAN manager string (its native OS is "Unix", or a Windows version
 * it imitates); Windows names a product ("Windows Server 2003 R2 3790
 * Service Pack 2") or, from XP on, its kernel version ("Windows 5.1").
 */
function nativeOs(os: string, lanman: string): { os: string; confidence: number } | undefined {
  const samba = /\bSamba\s+([\w.-]+)/.exec(lanman);
  if (samba) return { os: `Linux/Unix (Samba ${samba[1]})`, confidence: 0.7 };
  const kernel = /^Windows (\d+)\.(\d+)$/.exec(os);
  if (kernel) return { os: windowsRelease(Number(kernel[1]), Number(kernel[2])), confidence: 0.7 };
  if (/^Windows\b/.test(os)) return { os, confidence: 0.8 };
  return undefined;
}

/** Unicode strings start on an even offset from the SMB header. */
function align(o: number, header: number, unicode: boolean): number {
  return unicode && (o - header) % 2 === 1 ? o + 1 : o;
}

function readString(
  b: Buffer,
  o: number,
  end: number,
  unicode: boolean,
): { value: string; next: number } | undefined {
  if (o >= end) return undefined;
  let stop = o;
  if (unicode) while (stop + 1 < end && (b[stop] !== 0 || b[stop + 1] !== 0)) stop += 2;
  else while (stop < end && b[stop] !== 0) stop++;
  const value = b.toString(unicode ? 'utf16le' : 'latin1', o, Math.min(stop, end)).trim();
  return { value, next: stop + (unicode ? 2 : 1) };
}

function skipString(b: Buffer, o: number, end: number, unicode: boolean): number {
  return readString(b, o, end, unicode)?.next ?? end;
}

/** The session header and as much of an SMB1 or SMB2 header as names its command. */
const SESSION_SETUP_KNOWN = 4 + 16;

/**
 * The length of the session message at b[start] when its SMB1 or SMB2 header
 * names a session setup (MS-SMB §2.2.3.1, MS-SMB2 §2.2.1; the length is 24
 * bits over direct TCP, MS-SMB2 §2.1); SESSION_SETUP_KNOWN while the header
 * is too short to tell; else 0. Reads and writes carry megabytes that say
 * nothing of either end: they are not gathered.
 */
function sessionSetupLength(b: Buffer, start: number, end: number): number {
  if (b[start] !== NBSS_SESSION_MESSAGE) return 0;
  if (end - start < SESSION_SETUP_KNOWN) return SESSION_SETUP_KNOWN;
  const magic = b.readUInt32BE(start + 4);
  const setup =
    magic === SMB1_MAGIC
      ? b[start + 8] === SMB1_SESSION_SETUP_ANDX
      : magic === SMB2_MAGIC && b.readUInt16LE(start + 16) === SMB2_SESSION_SETUP;
  return setup ? 4 + b.readUIntBE(start + 1, 3) : 0;
}

/** Clients and servers both send session setups; the sender is the one described. */
function match(pkt: PacketView): boolean {
  return pkt.payloadEnd - pkt.payloadOffset >= 8;
}

export const smbDecoder: Decoder = {
  name: 'smb',
  family: 'tcp',
  keys: [SMB_DIRECT_PORT, NETBIOS_SESSION_PORT],
  // A session setup with its NTLMSSP blob may outgrow a segment.
  messageLength: (_pkt, b, start, end) => sessionSetupLength(b, start, end),
  match,
  decode,
};
