// TLS ClientHello (RFC 8446 §4.1.2; RFC 5246 §7.4.1.2) that begins a TCP
// connection, gathered whole when it spans segments (a post-quantum key share
// makes a browser's hello ~1.8 KB; message-reassembly.ts): the server name the client asks for (SNI, RFC
// 6066 §3) and the JA4 fingerprint of the client's TLS stack (FoxIO JA4
// specification, "JA4: TLS Client Fingerprinting"): JA4_a "t" + version +
// "d"/"i" (SNI or not) + cipher count + extension count + ALPN first/last
// character; JA4_b the first 12 hex of SHA-256 over the sorted cipher suites;
// JA4_c the same over the sorted extensions (without SNI and ALPN) "_" the
// signature algorithms in wire order. GREASE values (RFC 8701) are ignored.
// The same decoder hands a server's flight, or a client's Certificate record,
// to tls-certificate.ts: the certificate a site's own host presents.
import { hash } from 'node:crypto';
import type { PacketView } from '../packet/view.js';
import { CERTIFICATE, decodeCertificate, flightLength, SERVER_HELLO } from './tls-certificate.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForLocalSender, text } from './util.js';

/** 3389: RDP upgrades to TLS after its connection sequence (rdp.ts); a Windows host's certificate names it. */
const TLS_PORTS = [443, 465, 636, 853, 993, 995, 3389, 5061, 5223, 5986, 8443, 8883, 9443];
const CONTENT_HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0x0000;
const EXT_SIGNATURE_ALGORITHMS = 0x000d;
const EXT_ALPN = 0x0010;
const EXT_SUPPORTED_VERSIONS = 0x002b;

const VERSIONS: Record<number, string> = {
  772: '13',
  771: '12',
  770: '11',
  769: '10',
  768: 's3',
  2: 's2',
  65279: 'd1',
  65277: 'd2',
  65276: 'd3',
};

export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

export interface ClientHello {
  version: number;
  ciphers: number[];
  extensions: number[];
  sni?: string;
  alpn?: Buffer;
  signatureAlgorithms: number[];
  supportedVersions: number[];
  /** False when the hello continues in a later segment: SNI may be known, JA4 is not. */
  complete: boolean;
}

const hex4 = (v: number) => v.toString(16).padStart(4, '0');
// crypto.hash, one call: a third of createHash().update().digest()'s time for a list this short.
const hash12 = (s: string) => (s === '' ? '000000000000' : hash('sha256', s, 'hex').slice(0, 12));
const alnum = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** JA4 of a ClientHello over TCP ("t"). */
export function ja4(hello: ClientHello): string {
  const versions = hello.supportedVersions.filter((v) => !isGrease(v));
  const version = versions.length > 0 ? Math.max(...versions) : hello.version;
  const ciphers = hello.ciphers.filter((v) => !isGrease(v));
  const extensions = hello.extensions.filter((v) => !isGrease(v));
  let alpn = '00';
  const first = hello.alpn;
  if (first && first.length > 0) {
    const a = first[0]!;
    const z = first[first.length - 1]!;
    alpn = alnum(a) && alnum(z) ? String.fromCharCode(a, z) : `${hex4(a).slice(2)[0]}${hex4(z).slice(3)}`;
  }
  const count = (n: number) => String(Math.min(n, 99)).padStart(2, '0');
  const a = `t${VERSIONS[version] ?? '00'}${hello.sni !== undefined ? 'd' : 'i'}${count(ciphers.length)}${count(extensions.length)}${alpn}`;
  const b = hash12(
    [...ciphers]
      .sort((x, y) => x - y)
      .map(hex4)
      .join(','),
  );
  const sortedExt = extensions
    .filter((e) => e !== EXT_SERVER_NAME && e !== EXT_ALPN)
    .sort((x, y) => x - y)
    .map(hex4)
    .join(',');
  const sigs = hello.signatureAlgorithms
    .filter((v) => !isGrease(v))
    .map(hex4)
    .join(',');
  const c = sortedExt === '' ? '000000000000' : hash12(sigs === '' ? sortedExt : `${sortedExt}_${sigs}`);
  return `${a}_${b}_${c}`;
}

/** What ja4() reads of a hello, kept by the memo below (numbers, never a view of the capture's buffer). */
interface Ja4Inputs {
  version: number;
  sni: boolean;
  alpnFirst: number;
  alpnLast: number;
  ciphers: readonly number[];
  extensions: readonly number[];
  signatureAlgorithms: readonly number[];
  supportedVersions: readonly number[];
  value: string;
}

/**
 * JA4s of recent hellos, by a hash of everything ja4() reads: a host's TLS
 * stack says the same on every connection, and ja4() (sorting, hex lists, two
 * SHA-256 digests) cost ~3 µs a hello where the hash and the check cost a
 * few hundred ns. A hit is checked field by field, so a collision is only a
 * miss. Bounded: forgotten all at once when full.
 */
const ja4Memo = new Map<number, Ja4Inputs>();
const JA4_MEMO_MAX = 1024;

function mixList(h: number, list: readonly number[]): number {
  h = Math.imul(h ^ list.length, 0x01000193);
  for (let i = 0; i < list.length; i++) h = Math.imul(h ^ list[i]!, 0x01000193);
  return h;
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** ja4(hello), remembered for the hellos that say the same (see ja4Memo). */
export function ja4Remembered(hello: ClientHello): string {
  const alpn = hello.alpn;
  const alpnFirst = alpn && alpn.length > 0 ? alpn[0]! : -1;
  const alpnLast = alpn && alpn.length > 0 ? alpn[alpn.length - 1]! : -1;
  const sni = hello.sni !== undefined;
  let h = Math.imul(hello.version + 1, 0x165667b1) ^ (sni ? 0x5bd1e995 : 0);
  h = Math.imul(h ^ (alpnFirst + 1), 0x01000193);
  h = Math.imul(h ^ (alpnLast + 1), 0x01000193);
  h = mixList(h, hello.ciphers);
  h = mixList(h, hello.extensions);
  h = mixList(h, hello.signatureAlgorithms);
  h = mixList(h, hello.supportedVersions);
  const known = ja4Memo.get(h);
  if (
    known &&
    known.version === hello.version &&
    known.sni === sni &&
    known.alpnFirst === alpnFirst &&
    known.alpnLast === alpnLast &&
    sameList(known.ciphers, hello.ciphers) &&
    sameList(known.extensions, hello.extensions) &&
    sameList(known.signatureAlgorithms, hello.signatureAlgorithms) &&
    sameList(known.supportedVersions, hello.supportedVersions)
  )
    return known.value;
  const value = ja4(hello);
  if (ja4Memo.size >= JA4_MEMO_MAX) ja4Memo.clear();
  ja4Memo.set(h, {
    version: hello.version,
    sni,
    alpnFirst,
    alpnLast,
    ciphers: hello.ciphers,
    extensions: hello.extensions,
    signatureAlgorithms: hello.signatureAlgorithms,
    supportedVersions: hello.supportedVersions,
    value,
  });
  return value;
}

/** Parses a ClientHello handshake message starting at `o` (the handshake type byte). */
export function parseClientHello(b: Buffer, o: number, end: number): ClientHello {
  if (o + 4 > end || b[o] !== CLIENT_HELLO) throw new RangeError('not a ClientHello');
  const declaredEnd = o + 4 + b.readUIntBE(o + 1, 3);
  const complete = declaredEnd <= end;
  const bodyEnd = Math.min(end, declaredEnd);
  let p = o + 4;
  const need = (n: number) => {
    if (p + n > bodyEnd) throw new RangeError('ClientHello truncated');
  };
  if (!complete && end - p < 40) throw new RangeError('ClientHello truncated');
  need(35);
  const hello: ClientHello = {
    version: b.readUInt16BE(p),
    ciphers: [],
    extensions: [],
    signatureAlgorithms: [],
    supportedVersions: [],
    complete,
  };
  p += 34;
  p += 1 + b[p]!; // session id
  need(2);
  const cipherLength = b.readUInt16BE(p);
  p += 2;
  need(cipherLength);
  for (let i = 0; i + 1 < cipherLength; i += 2) hello.ciphers.push(b.readUInt16BE(p + i));
  p += cipherLength;
  need(1);
  p += 1 + b[p]!; // compression methods
  if (p + 2 > bodyEnd) return hello; // no extensions (SSLv3-era hello)
  const extEnd = Math.min(bodyEnd, p + 2 + b.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const v = p + 4;
    if (v + len > extEnd) {
      if (!complete) {
        hello.complete = false;
        break;
      }
      throw new RangeError('ClientHello extension overruns the message');
    }
    hello.extensions.push(type);
    if (type === EXT_SERVER_NAME && len >= 5 && b[v + 2] === 0) {
      const nameLength = b.readUInt16BE(v + 3);
      hello.sni = v + 5 + nameLength <= v + len ? text(b, v + 5, v + 5 + nameLength) : '';
    } else if (type === EXT_ALPN && len >= 3) {
      const first = b[v + 2]!;
      if (v + 3 + first <= v + len) hello.alpn = b.subarray(v + 3, v + 3 + first);
    } else if (type === EXT_SIGNATURE_ALGORITHMS && len >= 2) {
      const l = Math.min(b.readUInt16BE(v), len - 2);
      for (let i = 0; i + 1 < l; i += 2) hello.signatureAlgorithms.push(b.readUInt16BE(v + 2 + i));
    } else if (type === EXT_SUPPORTED_VERSIONS && len >= 1) {
      const l = Math.min(b[v]!, len - 1);
      for (let i = 0; i + 1 < l; i += 2) hello.supportedVersions.push(b.readUInt16BE(v + 1 + i));
    }
    p = v + len;
  }
  return hello;
}

export const tlsDecoder: Decoder = {
  name: 'tls',
  family: 'tcp',
  keys: TLS_PORTS,
  // The handshake record that holds a ClientHello (RFC 8446 §5.1: at most 2^14 bytes of plaintext); a
  // server's flight (or a client's Certificate) up to the end of its Certificate (tls-certificate.ts).
  // Other handshake records (a client's key exchange, a TLS 1.3 server's encrypted rest) are not gathered.
  leadingBytes: [CONTENT_HANDSHAKE],
  messageLength: (_pkt, b, start, end) => {
    const n = end - start;
    if (b[start] !== CONTENT_HANDSHAKE || (n > 1 && b[start + 1] !== 3)) return 0;
    if (n < 6) return 6;
    const type = b[start + 5];
    if (type === CLIENT_HELLO) return 5 + Math.min(b.readUInt16BE(start + 3), 1 << 14);
    return type === SERVER_HELLO || type === CERTIFICATE ? flightLength(b, start, end) : 0;
  },
  match: (pkt) => {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    if (pkt.payloadEnd - o < 6 || b[o] !== CONTENT_HANDSHAKE) return false;
    const type = b[o + 5];
    return type === CLIENT_HELLO || ((type === SERVER_HELLO || type === CERTIFICATE) && b[o + 1] === 3);
  },
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    if (b[o + 5] !== CLIENT_HELLO) {
      decodeCertificate(pkt, sink);
      return;
    }
    const recordEnd = o + 5 + b.readUInt16BE(o + 3);
    const hello = parseClientHello(b, o + 5, Math.min(pkt.payloadEnd, recordEnd));
    if (recordEnd > pkt.payloadEnd) hello.complete = false;
    if (hello.sni) emitForLocalSender(pkt, sink, 'tls', 'tlsSni', hello.sni, 0.9, 'client_hello.sni');
    if (hello.complete)
      emitForLocalSender(pkt, sink, 'tls', 'ja4', ja4Remembered(hello), 0.9, 'client_hello.ja4');
  },
};
