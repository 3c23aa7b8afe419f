// Small bounds-checked readers shared by decoders.
import { isIP } from 'node:net';
import { formatIp4, formatIp6, isHostIp4 } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import type { Observation, ObservationName, ObservationSink } from './types.js';

/** Printable text of a protocol string field: trims NULs and whitespace, drops control characters. */
export function text(b: Buffer, start: number, end: number): string {
  if (end > b.length) end = b.length;
  if (start >= end) return '';
  // latin1 never throws and maps bytes 1:1; valid UTF-8 is re-decoded below.
  let s = b.toString('utf8', start, end);
  if (s.includes('\ufffd')) s = b.toString('latin1', start, end);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/**
 * A fixed-width ASCII field padded with NULs or spaces (FINS controller data,
 * C37.118 station names, ADS device names): up to its first NUL, trimmed,
 * and empty unless every character is printable ASCII, so that a field of
 * another layout reads as nothing rather than as a garbled name.
 */
export function fixedText(b: Buffer, start: number, end: number): string {
  let stop = start;
  while (stop < end && b[stop] !== 0) stop++;
  const value = text(b, start, stop);
  return /^[\x20-\x7e]+$/.test(value) ? value : '';
}

/**
 * Where `needle` first occurs wholly within b[start, end), or -1. Buffer's
 * indexOf has no end: a frame read in place lies in a reader's chunk (see
 * FrameBatch), and a miss would scan the rest of the chunk.
 */
export function indexOfWithin(b: Buffer, needle: string | number, start: number, end: number): number {
  if (typeof needle === 'number') {
    for (let i = start; i < end; i++) if (b[i] === needle) return i;
    return -1;
  }
  if (end - start < needle.length) return -1;
  const at = b.subarray(start, end).indexOf(needle, 0, 'latin1');
  return at < 0 ? -1 : start + at;
}

/** Source address of the packet as text, or undefined when the packet has no IP header. */
export function srcIpText(pkt: PacketView): string | undefined {
  if (pkt.ipVersion === 4) return isHostIp4(pkt.srcIp4) ? ip4Text(pkt.srcIp4) : undefined;
  if (pkt.ipVersion === 6) return formatIp6(pkt.data, pkt.srcIp6Offset);
  return undefined;
}

/**
 * Emits an observation about the packet's sender: keyed by its source MAC
 * when the link has one, else by its source IP.
 */
export function emitForSender(
  pkt: PacketView,
  sink: ObservationSink,
  protocol: string,
  name: ObservationName,
  value: string,
  confidence: number,
  field: string,
): void {
  if (value === '') return;
  sink.observe({
    mac: pkt.srcMac,
    ip: pkt.srcMac < 0 ? srcIpText(pkt) : undefined,
    name,
    value,
    confidence,
    protocol,
    field,
    timestampMs: pkt.timestampMs,
  });
}

export function observation(
  pkt: PacketView,
  mac: number,
  ip: string | undefined,
  protocol: string,
  name: ObservationName,
  value: string,
  confidence: number,
  field: string,
): Observation {
  return { mac, ip, name, value, confidence, protocol, field, timestampMs: pkt.timestampMs };
}

/**
 * The message id that opens a DNS-format message (RFC 1035 §4.1.1; NBNS,
 * mDNS and LLMNR share the header): it pairs a query with its answer and
 * says nothing about the sender, so repeats are compared without it.
 */
/** Decoder.leadingBytes of a protocol recognised by its first four bytes (a set of big-endian words): their first bytes. */
export function leadingBytesOf(starts: ReadonlySet<number>): number[] {
  return [...new Set([...starts].map((word) => word >>> 24))];
}

export const DNS_MESSAGE_ID = { length: 2, offset: () => 0 } as const;

/**
 * Decodes DNS wire-format labels (no compression pointers) in [start, end),
 * as used by DHCP option 81 and DHCPv6 option 39.
 */
export function dnsLabels(b: Buffer, start: number, end: number): string {
  const labels: string[] = [];
  let o = start;
  while (o < end) {
    const len = b[o]!;
    if (len === 0 || len > 63 || o + 1 + len > end) break;
    labels.push(text(b, o + 1, o + 1 + len));
    o += 1 + len;
  }
  return labels.join('.');
}

/**
 * The header fields of an HTTP-syntax head (RFC 9112 §5; RTSP and SIP share
 * it) after its start line, up to the blank line, in order: the name
 * lower-cased, the value trimmed; lines without a name and empty values are
 * skipped, and so is every field not `wanted` (when given).
 *
 * A scan by line ends, making strings only of names and of wanted values: a
 * generator over the head split by a regular expression was most of what
 * decoding an HTTP, SIP or RTSP message cost.
 */
export function headerFields(head: string, wanted?: ReadonlySet<string>): [name: string, value: string][] {
  const fields: [string, string][] = [];
  for (let lineEnd = head.indexOf('\n'); lineEnd >= 0; ) {
    const start = lineEnd + 1;
    lineEnd = head.indexOf('\n', start);
    // A line ends at "\n" or "\r\n", or where the head was cut.
    const stop = lineEnd < 0 ? head.length : head.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd;
    if (stop === start) break; // the blank line ending the head
    const colon = head.indexOf(':', start);
    if (colon <= start || colon >= stop) continue;
    const name = head.slice(start, colon).trim().toLowerCase();
    if (wanted && !wanted.has(name)) continue;
    const value = head.slice(colon + 1, stop).trim();
    if (value !== '') fields.push([name, value]);
  }
  return fields;
}

/** TTLs hosts start with; a packet arriving with one of them has not crossed a router. */
const INITIAL_TTLS = new Set([255, 128, 64, 60, 32, 30]);

/**
 * True when the IPv4 TTL / IPv6 hop limit has been decremented on the way (the frame's MAC is a router's).
 * Multicast sent with a TTL of 1 is meant for the sender's own link, as link-scope discovery sends it:
 * WS-Discovery (wsdd's and Windows's Hello and Probe Matches), LLMNR's queries. Nor does an IPv6
 * link-local group (ff02::/16) ever cross a router, whatever its hop limit.
 */
export function crossedRouter(pkt: PacketView): boolean {
  if (pkt.ipVersion === 0 || INITIAL_TTLS.has(pkt.ttl)) return false;
  if (pkt.ipVersion === 4) return !(pkt.ttl === 1 && pkt.dstIp4 >>> 28 === 0xe);
  const dst = pkt.dstIp6Offset;
  return !(pkt.data[dst] === 0xff && ((pkt.data[dst + 1]! & 0x0f) === 2 || pkt.ttl === 1));
}

/**
 * The two addresses formatted last, and their text: a decoder emits several
 * facts about each end of a conversation, packet after packet. Handing the
 * store the same string each time spares formatting it, and the store
 * parsing it back and hashing it again (DeviceStore.boundTo compares by
 * identity first): decoding every packet of an EtherNet/IP, S7comm, Modbus
 * or BACnet capture took 13-38% less time.
 */
let ip4A = -1;
let ip4AText = '';
let ip4B = -1;
let ip4BText = '';

/** An IPv4 address (an unsigned 32-bit integer) as dotted text, as formatIp4 makes it. */
export function ip4Text(ip: number): string {
  if (ip === ip4A) return ip4AText;
  if (ip === ip4B) return ip4BText;
  ip4B = ip4A;
  ip4BText = ip4AText;
  ip4A = ip;
  ip4AText = formatIp4(ip);
  return ip4AText;
}

/**
 * The packet's source (or destination) address as text for keying a host by
 * IP. Unlike `srcIpText` it keeps loopback, because test harnesses and
 * local OT gateways talk over 127.0.0.1 and that host is still a device.
 */
export function hostIpText(pkt: PacketView, which: 'src' | 'dst' = 'src'): string | undefined {
  if (pkt.ipVersion === 4) {
    const ip = which === 'src' ? pkt.srcIp4 : pkt.dstIp4;
    const first = ip >>> 24;
    return first !== 0 && first < 224 ? ip4Text(ip) : undefined;
  }
  if (pkt.ipVersion === 6) return formatIp6(pkt.data, which === 'src' ? pkt.srcIp6Offset : pkt.dstIp6Offset);
  return undefined;
}

/**
 * Emits a fact about an IP host (the sender, or the receiver with
 * which = 'dst'), keyed by IP with the frame's MAC as `via`; see
 * Observation.via for how the store joins it to a MAC device.
 */
export function emitForHost(
  pkt: PacketView,
  sink: ObservationSink,
  protocol: string,
  name: ObservationName,
  value: string,
  confidence: number,
  field: string,
  which: 'src' | 'dst' = 'src',
): void {
  if (value === '') return;
  const ip = hostIpText(pkt, which);
  if (ip === undefined) return;
  const routed = crossedRouter(pkt);
  sink.observe({
    mac: -1,
    ip,
    name,
    value,
    confidence,
    protocol,
    field,
    timestampMs: pkt.timestampMs,
    via: which === 'src' ? pkt.srcMac : pkt.dstMac,
    // The receiver of a packet that crossed a router is local; only the sender is behind one.
    routed: which === 'src' ? routed : false,
  });
}

/** RFC 1918, link-local, CGNAT, loopback; IPv6 ULA and link-local. */
export function isPrivateSource(pkt: PacketView): boolean {
  if (pkt.ipVersion === 4) {
    const ip = pkt.srcIp4;
    const a = ip >>> 24;
    const b = (ip >>> 16) & 0xff;
    return (
      a === 10 ||
      a === 127 ||
      (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b < 128)
    );
  }
  if (pkt.ipVersion === 6) {
    const first = pkt.data[pkt.srcIp6Offset]!;
    return (first & 0xfe) === 0xfc || (first === 0xfe && (pkt.data[pkt.srcIp6Offset + 1]! & 0xc0) === 0x80);
  }
  return false;
}

/**
 * `word` when it names a host as DNS and devices spell names (RFC 1123
 * labels and dots, the underscores some devices use, at least one letter);
 * undefined for an address literal ("10.0.0.1", "[10.0.0.1]", "::1"), a
 * wildcard or a phrase.
 */
export function hostNameOf(word: string | undefined): string | undefined {
  if (word === undefined || isIP(word) !== 0) return undefined;
  return /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,253}[A-Za-z0-9])?$/.test(word) && /[A-Za-z]/.test(word)
    ? word
    : undefined;
}

/** Whether emitForLocalSender keeps facts about this packet's sender: on the segment, or private behind a router. */
export function isLocalSender(pkt: PacketView): boolean {
  return !crossedRouter(pkt) || isPrivateSource(pkt);
}

/**
 * Emits a fact about the sender of an application-protocol packet when the
 * sender is a site asset: on the segment (TTL untouched) it is keyed by its
 * MAC; behind a router it is keyed by IP if that IP is private; a public
 * address behind a router (a web server, a SIP provider) is not inventoried.
 */
export function emitForLocalSender(
  pkt: PacketView,
  sink: ObservationSink,
  protocol: string,
  name: ObservationName,
  value: string,
  confidence: number,
  field: string,
): void {
  if (!crossedRouter(pkt)) emitForSender(pkt, sink, protocol, name, value, confidence, field);
  else if (isPrivateSource(pkt)) emitForHost(pkt, sink, protocol, name, value, confidence, field);
}

/** Reads a DNS name (RFC 1035 §4.1.4, with compression) at `o`; returns the name and the offset after it. */
export function dnsName(b: Buffer, o: number, end: number, base: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  let p = o;
  for (let jumps = 0; jumps < 16; ) {
    if (p >= end) throw new RangeError('DNS name truncated');
    const len = b[p]!;
    if (len === 0) {
      if (next < 0) next = p + 1;
      return { name: labels.join('.'), next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (p + 2 > end) throw new RangeError('DNS name pointer truncated');
      if (next < 0) next = p + 2;
      const target = base + (b.readUInt16BE(p) & 0x3fff);
      if (target >= p) throw new RangeError('DNS name pointer does not point backwards');
      p = target;
      jumps++;
      continue;
    }
    if (len > 63 || p + 1 + len > end) throw new RangeError('DNS label overruns the message');
    labels.push(text(b, p + 1, p + 1 + len));
    p += 1 + len;
  }
  throw new RangeError('DNS name has too many compression pointers');
}

/** The text of the first <element> (any namespace prefix, any attributes such as xml:lang), XML entities decoded; undefined when absent or empty. */
export function xmlElementText(doc: string, element: string): string | undefined {
  const m = new RegExp(`<(?:[\\w-]+:)?${element}(?:\\s[^>]*)?>([^<]{1,256})</`).exec(doc);
  if (!m) return undefined;
  const text = m[1]!
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
  return text === '' ? undefined : text;
}
