// NTLMSSP messages (MS-NLMP §2.2.1): what a Windows host says about itself
// while authenticating. NEGOTIATE and AUTHENTICATE come from the client,
// CHALLENGE from the server; each may carry the sender's OS version
// (§2.2.2.10: major, minor, build), AUTHENTICATE the client's workstation
// name, and CHALLENGE's target info (§2.2.2.1) the server's NetBIOS and DNS
// computer and domain names. Carried in SMB session setup (smb.ts), and
// also by HTTP (http.ts), RPC and others. Never user names or hashes:
// identity of the device only.
import type { PacketView } from '../packet/view.js';
import type { ObservationSink } from './types.js';
import { emitForLocalSender, indexOfWithin } from './util.js';

const SIGNATURE = 'NTLMSSP\0';
const NEGOTIATE = 1;
const CHALLENGE = 2;
const AUTHENTICATE = 3;
const FLAG_UNICODE = 0x00000001;
const FLAG_VERSION = 0x02000000;
const AV_EOL = 0;
const AV_NB_COMPUTER = 1;
const AV_NB_DOMAIN = 2;
const AV_DNS_COMPUTER = 3;
const AV_DNS_DOMAIN = 4;

export interface NtlmIdentity {
  kind: 'negotiate' | 'challenge' | 'authenticate';
  /** The sender's Windows version, when it sent one. */
  version?: { major: number; minor: number; build: number };
  /** AUTHENTICATE: the client's workstation name. */
  workstation?: string;
  /** CHALLENGE: the server's names from its target info. */
  nbComputerName?: string;
  nbDomainName?: string;
  dnsComputerName?: string;
  dnsDomainName?: string;
}

/** Where an NTLMSSP message starts within b[start, end) (inside a SPNEGO token, say), or -1. */
export function findNtlmssp(b: Buffer, start: number, end: number): number {
  const at = indexOfWithin(b, SIGNATURE, start, end);
  return at >= 0 && at + 12 <= end ? at : -1;
}

/** The identity an NTLMSSP message at `o` (ending by `end`) carries; throws RangeError when it is malformed. */
export function parseNtlmssp(b: Buffer, o: number, end: number): NtlmIdentity {
  if (o + 12 > end || b.toString('latin1', o, o + 8) !== SIGNATURE)
    throw new RangeError('not an NTLMSSP message');
  const type = b.readUInt32LE(o + 8);
  const field = (at: number, unicode: boolean): string | undefined => {
    if (o + at + 8 > end) return undefined;
    const length = b.readUInt16LE(o + at);
    const offset = b.readUInt32LE(o + at + 4);
    if (length === 0) return undefined;
    if (o + offset + length > end) throw new RangeError('NTLMSSP field overruns the message');
    return cleanName(b.toString(unicode ? 'utf16le' : 'latin1', o + offset, o + offset + length));
  };
  const version = (at: number, flags: number) => {
    if (!(flags & FLAG_VERSION) || o + at + 8 > end) return undefined;
    const major = b[o + at]!;
    const minor = b[o + at + 1]!;
    // Windows 2000 (5.0) to Windows 11 (10.0); anything else is not a version structure.
    if (major < 5 || major > 10) return undefined;
    return { major, minor, build: b.readUInt16LE(o + at + 2) };
  };
  switch (type) {
    case NEGOTIATE: {
      if (o + 16 > end) throw new RangeError('NTLMSSP NEGOTIATE truncated');
      const flags = b.readUInt32LE(o + 12);
      return withVersion({ kind: 'negotiate' }, version(32, flags));
    }
    case CHALLENGE: {
      if (o + 24 > end) throw new RangeError('NTLMSSP CHALLENGE truncated');
      const flags = b.readUInt32LE(o + 20);
      const id: NtlmIdentity = withVersion({ kind: 'challenge' }, version(48, flags));
      if (o + 48 <= end) readTargetInfo(b, o, end, id);
      return id;
    }
    case AUTHENTICATE: {
      if (o + 64 > end) throw new RangeError('NTLMSSP AUTHENTICATE truncated');
      const flags = b.readUInt32LE(o + 60);
      const id: NtlmIdentity = withVersion({ kind: 'authenticate' }, version(64, flags));
      const workstation = field(44, (flags & FLAG_UNICODE) !== 0);
      if (workstation) id.workstation = workstation;
      return id;
    }
    default:
      throw new RangeError(`NTLMSSP message type ${type} is not one of 1-3`);
  }
}

/** Reports what an NTLMSSP message says about its sender: OS, and its host name. */
export function emitNtlmIdentity(
  pkt: PacketView,
  sink: ObservationSink,
  protocol: string,
  id: NtlmIdentity,
): void {
  const emit = (name: 'hostname' | 'os' | 'netbiosName', value: string, confidence: number, field: string) =>
    emitForLocalSender(pkt, sink, protocol, name, value, confidence, `ntlmssp.${id.kind}.${field}`);
  if (id.version) {
    const { major, minor, build } = id.version;
    // Samba (smbd, and smbclient and the libraries that share its code) always sends 6.1, build 0; every
    // Windows sends its real build number. Only the server's CHALLENGE says it serves files.
    if (major === 6 && minor === 1 && build === 0)
      emit(
        'os',
        id.kind === 'challenge' ? 'Linux/Unix (Samba)' : 'Linux/Unix (Samba client)',
        0.6,
        'version',
      );
    else emit('os', windowsRelease(major, minor, build), 0.75, 'version');
  }
  if (id.workstation) emit('hostname', id.workstation, 0.8, 'workstation');
  if (id.dnsComputerName) emit('hostname', id.dnsComputerName, 0.85, 'dns_computer_name');
  else if (id.nbComputerName) emit('hostname', id.nbComputerName, 0.8, 'nb_computer_name');
  if (id.nbComputerName) emit('netbiosName', id.nbComputerName, 0.8, 'nb_computer_name');
}

function withVersion(id: NtlmIdentity, version: NtlmIdentity['version']): NtlmIdentity {
  if (version) id.version = version;
  return id;
}

/** CHALLENGE target info: AV pairs of id, length and a UTF-16LE value, up to MsvAvEOL. */
function readTargetInfo(b: Buffer, o: number, end: number, id: NtlmIdentity): void {
  const length = b.readUInt16LE(o + 40);
  const offset = b.readUInt32LE(o + 44);
  let p = o + offset;
  const stop = Math.min(end, p + length);
  while (p + 4 <= stop) {
    const av = b.readUInt16LE(p);
    const len = b.readUInt16LE(p + 2);
    if (av === AV_EOL || p + 4 + len > stop) return;
    const value = cleanName(b.toString('utf16le', p + 4, p + 4 + len));
    if (value) {
      if (av === AV_NB_COMPUTER) id.nbComputerName = value;
      else if (av === AV_NB_DOMAIN) id.nbDomainName = value;
      else if (av === AV_DNS_COMPUTER) id.dnsComputerName = value;
      else if (av === AV_DNS_DOMAIN) id.dnsDomainName = value;
    }
    p += 4 + len;
  }
}

/** A name as a host gave it: without NULs and control characters, trimmed; undefined when nothing is left. */
function cleanName(s: string): string | undefined {
  let kept = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c >= 0x20 && c !== 0x7f) kept += ch;
  }
  const t = kept.trim();
  return t === '' ? undefined : t;
}

/**
 * The Windows release a version number names (the NTLM version field and
 * SMB1's "Windows 5.1" native OS carry the kernel's). Desktop and server
 * editions share numbers; where one build is only ever a server, it says so.
 */
export function windowsRelease(major: number, minor: number, build?: number): string {
  const suffix = build ? ` (build ${build})` : '';
  const v = `${major}.${minor}`;
  if (v === '10.0' && build !== undefined) {
    if (build === 20348) return `Windows Server 2022${suffix}`;
    if (build === 17763) return `Windows 10 / Server 2019${suffix}`;
    if (build === 14393) return `Windows 10 / Server 2016${suffix}`;
    if (build >= 26100) return `Windows 11 / Server 2025${suffix}`;
    if (build >= 22000) return `Windows 11${suffix}`;
    return `Windows 10${suffix}`;
  }
  const name = WINDOWS_RELEASES[v];
  return `${name ?? `Windows NT ${v}`}${suffix}`;
}

const WINDOWS_RELEASES: Record<string, string> = {
  '5.0': 'Windows 2000',
  '5.1': 'Windows XP',
  '5.2': 'Windows Server 2003',
  '6.0': 'Windows Vista / Server 2008',
  '6.1': 'Windows 7 / Server 2008 R2',
  '6.2': 'Windows 8 / Server 2012',
  '6.3': 'Windows 8.1 / Server 2012 R2',
  '10.0': 'Windows 10/11',
};
