// SSH identification strings (RFC 4253 §4.2): before anything is encrypted,
// each end sends "SSH-protoversion-softwareversion SP comments CR LF". The
// software names the SSH stack, and distributions put their package version
// in the comments ("OpenSSH_9.2p1 Debian-2+deb12u6"), so the line names the
// OS of Linux and BSD servers and clients, and the firmware family of
// network gear whose SSH stack is its own (Cisco IOS, MikroTik RouterOS,
// Huawei VRP, H3C/HPE Comware). Zeek's software framework reads the same
// line. Both directions: the sender is the host described.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForLocalSender } from './util.js';

/** SSH, its common alternative, and NETCONF over SSH (RFC 6242). */
const SSH_PORTS = [22, 2222, 830];
const SERVER_PORTS: ReadonlySet<number> = new Set(SSH_PORTS);
/** RFC 4253 §4.2: at most 255 characters with the CR LF. */
const MAX_LINE = 255;
const S = 0x53;
const IDENTIFICATION = /^SSH-(\d+\.\d+)-([\x21-\x2c\x2e-\x7e][\x21-\x7e]*)(?: ([\x20-\x7e]*))?$/;

/** The OpenSSH version each Ubuntu LTS release ships (its package versions, "8.9p1 Ubuntu-3ubuntu0.x"). */
const UBUNTU_OPENSSH: Record<string, string> = {
  '7.2p2': '16.04',
  '7.6p1': '18.04',
  '8.2p1': '20.04',
  '8.9p1': '22.04',
  '9.6p1': '24.04',
};

interface Os {
  os: string;
  confidence: number;
  manufacturer?: string;
}

/**
 * What the identification says of the OS (and, for network gear, its maker). A distribution is named
 * "Linux (<distribution>)", as every decoder names one, so that a host's OS reads the same whichever
 * protocol told it.
 */
export function sshOs(software: string, comments: string): Os | undefined {
  const openssh = /^OpenSSH_(\d+\.\d+(?:p\d+)?)/.exec(software);
  if (openssh) {
    const deb = /^Debian-\S*\+deb(\d+)u\d+/.exec(comments);
    if (deb) return { os: `Linux (Debian ${deb[1]})`, confidence: 0.65 };
    if (/^Debian-/.test(comments)) return { os: 'Linux (Debian)', confidence: 0.6 };
    if (/^Ubuntu-/.test(comments)) {
      const release = UBUNTU_OPENSSH[openssh[1]!];
      return { os: release ? `Linux (Ubuntu ${release})` : 'Linux (Ubuntu)', confidence: 0.6 };
    }
    if (/^Raspbian-/.test(comments)) return { os: 'Linux (Raspbian)', confidence: 0.6 };
    if (/^FreeBSD-/.test(comments)) return { os: 'FreeBSD', confidence: 0.6 };
    return undefined;
  }
  if (/^OpenSSH_for_Windows/i.test(software)) return { os: 'Windows', confidence: 0.6 };
  if (/^Cisco-/.test(software)) return { os: 'Cisco IOS', confidence: 0.6, manufacturer: 'Cisco' };
  if (/^ROSSSH/.test(software))
    return { os: 'MikroTik RouterOS', confidence: 0.65, manufacturer: 'MikroTik' };
  if (/^HUAWEI-/.test(software)) return { os: 'Huawei VRP', confidence: 0.6, manufacturer: 'Huawei' };
  if (/^Comware-/.test(software)) return { os: 'Comware', confidence: 0.6 };
  // Dropbear is the SSH server of embedded Linux (routers, cameras, NAS, PLC gateways).
  if (/^dropbear/i.test(software)) return { os: 'Linux', confidence: 0.3 };
  return undefined;
}

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const start = pkt.payloadOffset;
  const end = Math.min(pkt.payloadEnd, start + MAX_LINE);
  let stop = start;
  while (stop < end && b[stop] !== 0x0a && b[stop] !== 0x0d) stop++;
  if (stop === end) throw new RangeError('SSH identification line without CR LF in 255 bytes');
  const m = IDENTIFICATION.exec(b.toString('latin1', start, stop));
  if (!m) throw new RangeError('not an SSH identification string');
  const software = m[2]!;
  const comments = m[3] ?? '';
  const line = comments === '' ? software : `${software} ${comments}`;
  emitForLocalSender(pkt, sink, 'ssh', 'sshSoftware', line, 0.9, 'identification');
  if (SERVER_PORTS.has(pkt.srcPort))
    emitForLocalSender(pkt, sink, 'ssh', 'role', 'ssh:server', 0.8, 'identification');
  const found = sshOs(software, comments);
  if (!found) return;
  const field =
    comments !== '' && /^OpenSSH_/.test(software) ? 'identification.comments' : 'identification.software';
  emitForLocalSender(pkt, sink, 'ssh', 'os', found.os, found.confidence, field);
  if (found.manufacturer)
    emitForLocalSender(pkt, sink, 'ssh', 'manufacturer', found.manufacturer, 0.5, 'identification.software');
}

export const sshDecoder: Decoder = {
  name: 'ssh',
  family: 'tcp',
  keys: SSH_PORTS,
  leadingBytes: [S],
  match: (pkt) =>
    pkt.payloadEnd - pkt.payloadOffset >= 9 &&
    pkt.data[pkt.payloadOffset] === S &&
    pkt.data.readUInt32BE(pkt.payloadOffset) === 0x5353482d, // "SSH-"
  decode,
};
