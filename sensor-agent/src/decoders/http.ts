// HTTP/1.x (RFC 9112) request and response heads in the first TCP segment:
// a client's User-Agent and a server's Server header name their software,
// and through it often the OS or the device model. Windows integrated
// authentication (RFC 4559: NTLM, or Negotiate wrapping NTLMSSP) carries the
// NTLMSSP messages that name the Windows version and the host (ntlmssp.ts). A head split across
// segments, and a response whose body a decoder reads (a UPnP description, an HNAP answer, IPP
// printer attributes), are gathered whole (`httpMessageLength`, message-reassembly.ts).
import { MAX_MESSAGE } from '../message-reassembly.js';
import { LearnedServer, type PacketView } from '../packet/view.js';
import { readIppPrinter } from './ipp.js';
import { emitNtlmIdentity, findNtlmssp, parseNtlmssp } from './ntlmssp.js';
import type { Decoder, ObservationSink } from './types.js';
import { parseUserAgent } from './useragent.js';
import { emitForLocalSender, headerFields, indexOfWithin, ip4Text, leadingBytesOf } from './util.js';

/**
 * Ports where embedded devices and proxies commonly serve HTTP, and where
 * UPnP devices serve the description an SSDP LOCATION points to: Windows's
 * UPnP device host (2869), MiniDLNA, the media server of NAS boxes and
 * routers (8200), AVM's FRITZ!Box (49000), libupnp's first ports (49152+).
 */
export const HTTP_PORTS = [
  80, 631, 2869, 5000, 5357, 8000, 8008, 8060, 8080, 8081, 8200, 8888, 9000, 49000, 49152, 49153,
];
const MAX_HEAD = 4096;
/** Request methods (RFC 9110 §9, WebDAV, SSDP-style) as the first four bytes, and "HTTP". */
const STARTS = new Set(
  ['GET ', 'POST', 'HEAD', 'PUT ', 'DELE', 'OPTI', 'PATC', 'PROP', 'CONN', 'HTTP'].map((s) =>
    Buffer.from(s).readUInt32BE(0),
  ),
);

const IPP_PORT = 631;

/**
 * An IPP answer from port 631 (RFC 8010): the sender is a printer (or a
 * print server sharing one), and its printer attributes name the model.
 */
function printer(pkt: PacketView, sink: ObservationSink, head: string): void {
  emitForLocalSender(pkt, sink, 'ipp', 'role', 'ipp:printer', 0.8, 'response.content_type');
  const body = head.indexOf('\r\n\r\n');
  if (body < 0) return;
  const start = pkt.payloadOffset + body + 4;
  const id = readIppPrinter(pkt.data, start, pkt.payloadEnd);
  const emit = (
    name: 'manufacturer' | 'model' | 'firmwareVersion',
    value: string | undefined,
    field: string,
  ) => {
    if (value) emitForLocalSender(pkt, sink, 'ipp', name, value, 0.85, field);
  };
  emit('manufacturer', id.manufacturer, 'printer-device-id.mfg');
  emit('model', id.model ?? id.makeAndModel, id.model ? 'printer-device-id.mdl' : 'printer-make-and-model');
  emit('firmwareVersion', id.firmware, 'printer-firmware-string-version');
}

/** Where a client answers a challenge, and where a server (or proxy) issues one. */
const AUTHORIZATION_HEADERS = new Set(['authorization', 'proxy-authorization']);
const AUTHENTICATE_HEADERS = new Set(['www-authenticate', 'proxy-authenticate']);
/** The fields decode() reads. */
const HEADERS: ReadonlySet<string> = new Set([
  'user-agent',
  'server',
  'content-type',
  ...AUTHORIZATION_HEADERS,
  ...AUTHENTICATE_HEADERS,
]);

/** "NTLM <base64>" or "Negotiate <base64>" (SPNEGO, NTLMSSP inside unless it is Kerberos). */
function ntlm(pkt: PacketView, sink: ObservationSink, value: string): void {
  const m = /^(?:NTLM|Negotiate)\s+([A-Za-z0-9+/=]{16,})/.exec(value);
  if (!m) return;
  const token = Buffer.from(m[1]!, 'base64');
  const at = findNtlmssp(token, 0, token.length);
  if (at >= 0) emitNtlmIdentity(pkt, sink, 'http', parseNtlmssp(token, at, token.length));
}

/** Response bodies a decoder reads: device descriptions and SOAP answers (XML), IPP attributes. */
const BODY_TYPES = /^content-type:[ \t]*(?:text\/xml|application\/(?:[\w.+-]*xml|ipp))\b/im;
const CONTENT_LENGTH = /^content-length:[ \t]*(\d{1,9})[ \t]*\r?$/im;
const CHUNKED = /^transfer-encoding:[^\r\n]*\bchunked\b/im;
const HEAD_END = '\r\n\r\n';
const LAST_CHUNK = '\r\n0\r\n\r\n';

/**
 * The length of the HTTP/1.x message beginning at b[start] (0 when none
 * begins there), as far as hark reads it (RFC 9112 §6.3): a request's head; a response's head, and its
 * body when a decoder reads it (by Content-Length, or up to the last chunk);
 * MAX_MESSAGE while the head (or a body of neither kind) has not ended.
 */
export function httpMessageLength(b: Buffer, start: number, end: number): number {
  if (end - start < 4 || !STARTS.has(b.readUInt32BE(start))) return 0; // not the start of a message
  const headEnd = indexOfWithin(b, HEAD_END, start, Math.min(end, start + MAX_HEAD));
  if (headEnd < 0) return end - start >= MAX_HEAD ? 0 : MAX_MESSAGE;
  const headLength = headEnd + HEAD_END.length - start;
  if (b[start] !== 0x48 /* H: a response */) return headLength;
  const head = b.toString('latin1', start, headEnd + 2);
  if (!BODY_TYPES.test(head)) return headLength;
  const length = CONTENT_LENGTH.exec(head);
  if (length) return headLength + Number(length[1]);
  if (!CHUNKED.test(head)) return MAX_MESSAGE; // the body ends with the connection
  const last = indexOfWithin(b, LAST_CHUNK, start + headLength - 2, end);
  return last < 0 ? MAX_MESSAGE : last + LAST_CHUNK.length - start;
}

const measureHttp = (_pkt: PacketView, b: Buffer, start: number, end: number) =>
  httpMessageLength(b, start, end);

/** Responses from a device's own web server: what UPnP and HNAP read a device's identity from. */
export const HTTP_SERVER_PORTS: ReadonlySet<number> = new Set(HTTP_PORTS);

/** The segment comes from a device's web server: a port of the list, or one the device announced (learnHttpServer). */
export function fromHttpServer(pkt: PacketView): boolean {
  return HTTP_SERVER_PORTS.has(pkt.srcPort) || pkt.learnedServer === LearnedServer.SOURCE;
}

/** The segment begins a response from a device's web server: where HNAP and WS-Discovery metadata read answers. */
export function beginsServerResponse(pkt: PacketView): boolean {
  const o = pkt.payloadOffset;
  return fromHttpServer(pkt) && pkt.payloadEnd - o > 64 && pkt.data[o] === 0x48 /* H */;
}

/** Decoder.leadingBytes of what reads server responses: "HTTP/1.x", an H. */
export const SERVER_RESPONSE_LEADS: readonly number[] = [0x48];

export const measureServerResponse = (pkt: PacketView, b: Buffer, start: number, end: number) =>
  fromHttpServer(pkt) && b[start] === 0x48 /* H */ ? httpMessageLength(b, start, end) : 0;

const HTTP_URL = /^http:\/\/(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})\//i;

/**
 * A URL the sender announced for itself (a UPnP LOCATION, a WS-Discovery
 * XAddrs): when it is plain HTTP at the sender's own IPv4 address on a port
 * the list does not hold, the sink is told, so that the description or
 * metadata fetched from it is read (learned-endpoints.ts).
 */
export function learnHttpServer(pkt: PacketView, sink: ObservationSink, url: string): void {
  if (pkt.ipVersion !== 4 || !sink.httpServerAt) return;
  const m = HTTP_URL.exec(url);
  if (!m || m[1] !== ip4Text(pkt.srcIp4)) return;
  const port = Number(m[2]);
  if (port > 0 && port < 65536 && !HTTP_SERVER_PORTS.has(port)) sink.httpServerAt(pkt.srcIp4, port);
}

export const httpDecoder: Decoder = {
  name: 'http',
  family: 'tcp',
  announces: true,
  keys: HTTP_PORTS,
  leadingBytes: leadingBytesOf(STARTS),
  messageLength: measureHttp,
  match: (pkt) =>
    pkt.payloadEnd - pkt.payloadOffset >= 16 && STARTS.has(pkt.data.readUInt32BE(pkt.payloadOffset)),
  decode(pkt: PacketView, sink: ObservationSink): void {
    const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_HEAD);
    const head = pkt.data.toString('latin1', pkt.payloadOffset, end);
    const response = head.startsWith('HTTP/1.');
    if (!response && !/^[A-Z-]+ \S+ HTTP\/1\.\d\r?\n/.test(head))
      throw new RangeError('not an HTTP/1.x start line');
    let ipp = false;
    for (const [name, value] of headerFields(head, HEADERS)) {
      if (name === 'user-agent' && !response) {
        emitForLocalSender(pkt, sink, 'http', 'userAgent', value, 0.8, 'request.user_agent');
        const facts = parseUserAgent(value);
        if (facts.os) emitForLocalSender(pkt, sink, 'http', 'os', facts.os, 0.4, 'request.user_agent');
        if (facts.model)
          emitForLocalSender(pkt, sink, 'http', 'model', facts.model, 0.4, 'request.user_agent');
      } else if (name === 'server' && response) {
        emitForLocalSender(pkt, sink, 'http', 'httpServer', value, 0.8, 'response.server');
        const facts = parseUserAgent(value);
        if (facts.os) emitForLocalSender(pkt, sink, 'http', 'os', facts.os, 0.3, 'response.server');
      } else if (response ? AUTHENTICATE_HEADERS.has(name) : AUTHORIZATION_HEADERS.has(name)) {
        ntlm(pkt, sink, value);
      } else if (name === 'content-type' && response && pkt.srcPort === IPP_PORT) {
        ipp = /^application\/ipp\b/i.test(value);
      }
    }
    if (ipp) printer(pkt, sink, head);
  },
};
