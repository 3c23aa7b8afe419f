// HTTP/1.x (RFC 9112) request and response heads in the first TCP segment:
// a client's User-Agent and a server's Server header name their software,
// and through it often the OS or the device model. Windows integrated
// authentication (RFC 4559: NTLM, or Negotiate wrapping NTLMSSP) carries the
// NTLMSSP messages that name the Windows version and the host (ntlmssp.ts). No reassembly: a head
// split across segments is read as far as it goes.
import type { PacketView } from '../packet/view.js';
import { readIppPrinter } from './ipp.js';
import { emitNtlmIdentity, findNtlmssp, parseNtlmssp } from './ntlmssp.js';
import type { Decoder, ObservationSink } from './types.js';
import { parseUserAgent } from './useragent.js';
import { emitForLocalSender } from './util.js';

/** Ports where embedded devices and proxies commonly serve HTTP. */
export const HTTP_PORTS = [80, 631, 5000, 5357, 8000, 8008, 8060, 8080, 8081, 8888, 9000, 49152, 49153];
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

/** "NTLM <base64>" or "Negotiate <base64>" (SPNEGO, NTLMSSP inside unless it is Kerberos). */
function ntlm(pkt: PacketView, sink: ObservationSink, value: string): void {
  const m = /^(?:NTLM|Negotiate)\s+([A-Za-z0-9+/=]{16,})/.exec(value);
  if (!m) return;
  const token = Buffer.from(m[1]!, 'base64');
  const at = findNtlmssp(token, 0, token.length);
  if (at >= 0) emitNtlmIdentity(pkt, sink, 'http', parseNtlmssp(token, at, token.length));
}

export const httpDecoder: Decoder = {
  name: 'http',
  family: 'tcp',
  keys: HTTP_PORTS,
  match: (pkt) =>
    pkt.payloadEnd - pkt.payloadOffset >= 16 && STARTS.has(pkt.data.readUInt32BE(pkt.payloadOffset)),
  decode(pkt: PacketView, sink: ObservationSink): void {
    const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_HEAD);
    const head = pkt.data.toString('latin1', pkt.payloadOffset, end);
    const response = head.startsWith('HTTP/1.');
    if (!response && !/^[A-Z-]+ \S+ HTTP\/1\.\d\r?\n/.test(head))
      throw new RangeError('not an HTTP/1.x start line');
    const lines = head.split(/\r?\n/);
    let ipp = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === '') break;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (value === '') continue;
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
