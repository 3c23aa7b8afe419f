// TLS certificates sent in the clear (TLS 1.2 and earlier, RFC 5246 §7.4.2
// and §7.4.6; TLS 1.3 encrypts them): a site's own servers (a printer's or a
// camera's web interface, a NAS, a BMC, an appliance) present certificates
// whose subject names the host, and self-signed device certificates often
// the product; a client certificate names the computer it was issued to
// (a VPN or 802.1X machine certificate). Only the first certificate of the
// list, the sender's own, is read, by Node's X509Certificate (OpenSSL's
// parser) rather than by our own DER code. Facts are kept only for senders
// on the site: a public server's certificate is no site device's.
//
// The server's flight (ServerHello, Certificate, ...) usually spans segments
// and is often one handshake record per message: `flightLength` asks for the
// records up to the one that ends the Certificate message. The TLS decoder
// (tls.ts) hands these records here.
import { X509Certificate } from 'node:crypto';
import type { PacketView } from '../packet/view.js';
import type { ObservationSink } from './types.js';
import { emitForLocalSender, hostNameOf, isLocalSender } from './util.js';

const CONTENT_HANDSHAKE = 0x16;
export const SERVER_HELLO = 2;
export const CERTIFICATE = 11;
/** Records of a flight worth walking before the Certificate (ServerHello, and rarely more). */
const MAX_RECORDS = 8;
const MAX_RECORD = 1 << 14;

/**
 * The length of the handshake records from `start` that hold the
 * Certificate message whole; a shorter provisional length (the next record
 * header) while the records seen so far do not reach it; the length of what
 * was walked when another content type (a TLS 1.3 server's encrypted rest)
 * comes first, or 0 when the bytes begin no flight.
 */
export function flightLength(b: Buffer, start: number, end: number): number {
  let p = start;
  for (let records = 0; records < MAX_RECORDS; records++) {
    if (p + 5 > end) return p + 5 - start;
    if (b[p] !== CONTENT_HANDSHAKE || b[p + 1] !== 3) return p - start;
    const recordEnd = p + 5 + Math.min(b.readUInt16BE(p + 3), MAX_RECORD);
    for (let m = p + 5; m + 4 <= Math.min(recordEnd, end); m += 4 + b.readUIntBE(m + 1, 3)) {
      if (b[m] === CERTIFICATE) return recordEnd - start;
      // Another message before any certificate (an anonymous or PSK key exchange): nothing to gather.
      if (b[m] !== SERVER_HELLO) return (p > start ? p : Math.min(recordEnd, end)) - start;
    }
    if (recordEnd > end) return recordEnd - start; // the record is not whole yet
    p = recordEnd;
  }
  return p - start;
}

/** The Certificate message's first certificate (DER), or undefined; throws on a list that overruns its message. */
function firstCertificate(b: Buffer, start: number, end: number): Buffer | undefined {
  let p = start;
  for (let records = 0; records < MAX_RECORDS && p + 5 <= end && b[p] === CONTENT_HANDSHAKE; records++) {
    const recordEnd = Math.min(end, p + 5 + b.readUInt16BE(p + 3));
    for (let m = p + 5; m + 4 <= recordEnd; ) {
      const length = b.readUIntBE(m + 1, 3);
      if (b[m] === CERTIFICATE) {
        // certificate_list<0..2^24-1>, each ASN.1Cert<1..2^24-1>
        if (m + 4 + 3 + 3 > recordEnd) return undefined;
        const certLength = b.readUIntBE(m + 7, 3);
        const der = m + 10;
        if (certLength === 0) return undefined;
        if (certLength > length) throw new RangeError('TLS certificate overruns its Certificate message');
        return der + certLength <= recordEnd ? b.subarray(der, der + certLength) : undefined;
      }
      m += 4 + length;
    }
    p = p + 5 + b.readUInt16BE(p + 3);
  }
  return undefined;
}

/**
 * Subjects of recent certificates, by a hash of their DER: a host presents
 * the same certificate on every connection, and parsing it (OpenSSL, through
 * X509Certificate) costs tens of µs where a compare of its bytes costs one.
 * A hit is compared byte for byte; bounded, forgotten all at once when full.
 */
const subjects = new Map<number, { der: Buffer; subject: string }>();
const SUBJECTS_MAX = 256;

/** The certificate's subject as X509Certificate prints it. Throws RangeError when `der` is no X.509 DER. */
function subjectOf(der: Buffer): string {
  const n = der.length;
  // The length and bytes spread over the certificate, its serial number and signature among them.
  let h = Math.imul(n + 1, 0x165667b1);
  const step = Math.max(1, Math.floor(n / 32));
  for (let i = 0; i < n; i += step) h = Math.imul(h ^ der[i]!, 0x01000193);
  h = Math.imul(h ^ der[n - 1]!, 0x01000193);
  const known = subjects.get(h);
  if (known?.der.equals(der)) return known.subject;
  let subject: string;
  try {
    subject = new X509Certificate(der).subject;
  } catch (error) {
    throw new RangeError(`TLS certificate is not X.509 DER: ${(error as Error).message}`);
  }
  if (subjects.size >= SUBJECTS_MAX) subjects.clear();
  // A copy: `der` is a view of the capture's buffer, which the reader reuses.
  subjects.set(h, { der: Buffer.from(der), subject });
  return subject;
}

/** The subject's attributes as X509Certificate prints them ("CN=x\nO=y"), by name. */
function attributes(subject: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && !out.has(line.slice(0, eq))) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** Facts from the sender's own certificate in a (gathered) server flight or client Certificate record. */
export function decodeCertificate(pkt: PacketView, sink: ObservationSink): void {
  // A public server's certificate is no site device's: not parsed at all.
  if (!isLocalSender(pkt)) return;
  const der = firstCertificate(pkt.data, pkt.payloadOffset, pkt.payloadEnd);
  if (!der) return;
  const subject = subjectOf(der);
  const fields = attributes(subject);
  const oneLine = subject.split('\n').join(', ');
  if (oneLine !== '')
    emitForLocalSender(pkt, sink, 'tls', 'certificateSubject', oneLine, 0.85, 'certificate.subject');
  // A common name that is a host's name: not a wildcard, an address or a phrase.
  const host = hostNameOf(fields.get('CN'));
  if (host) emitForLocalSender(pkt, sink, 'tls', 'hostname', host, 0.45, 'certificate.subject.cn');
}
