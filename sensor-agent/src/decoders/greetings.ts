// The clear-text greetings of FTP (RFC 959 §4.2), SMTP (RFC 5321 §4.2,
// §4.1.1.1), POP3 (RFC 1939 §4) and IMAP (RFC 9051 §7.1): the first line a
// server sends names its software and often its OS or the appliance it runs
// on (a MikroTik router's FTP, a printer's or a NAS's, Microsoft's or
// Postfix on Ubuntu), and SMTP's greeting names the server's host. A client's
// EHLO/HELO names the client's host (a multifunction printer scanning to
// e-mail says who it is). Only greetings are read: everything after them
// (commands, mail, credentials) is left alone.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForLocalSender, hostNameOf } from './util.js';

/** A greeting is one line; servers keep it well under this. */
const MAX_LINE = 512;

interface Found {
  name: ObservationName;
  value: string;
  confidence: number;
}

/** What a greeting's text says of the software's platform; each rule is the product's own wording. */
const PLATFORMS: readonly [RegExp, (m: RegExpExecArray) => Found[]][] = [
  [
    /\bMikroTik FTP server \(MikroTik ([0-9][\w.]*)\)/,
    (m) => [
      { name: 'os', value: 'MikroTik RouterOS', confidence: 0.65 },
      { name: 'firmwareVersion', value: m[1]!, confidence: 0.6 },
      { name: 'manufacturer', value: 'MikroTik', confidence: 0.5 },
    ],
  ],
  [
    /\bMicrosoft (?:FTP Service|ESMTP MAIL Service)\b/,
    () => [{ name: 'os', value: 'Windows', confidence: 0.5 }],
  ],
  [/\bFileZilla Server\b/, () => [{ name: 'os', value: 'Windows', confidence: 0.4 }]],
  [/\(Ubuntu\)|\bUbuntu\b/, () => [{ name: 'os', value: 'Linux (Ubuntu)', confidence: 0.45 }]],
  [/\(Debian(?:\/GNU)?\)|\bDebian\b/, () => [{ name: 'os', value: 'Linux (Debian)', confidence: 0.45 }]],
  [/\(Raspbian\)/, () => [{ name: 'os', value: 'Linux (Raspbian)', confidence: 0.45 }]],
];

function platformOf(text: string): Found[] {
  for (const [pattern, facts] of PLATFORMS) {
    const m = pattern.exec(text);
    if (m) return facts(m);
  }
  return [];
}

/** The first line of the segment's payload, or undefined when it holds no whole line. */
function firstLine(pkt: PacketView): string | undefined {
  const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_LINE);
  const text = pkt.data.toString('latin1', pkt.payloadOffset, end);
  const eol = text.indexOf('\n');
  if (eol < 0) return undefined;
  return text.slice(0, eol).replace(/\r$/, '');
}

interface Protocol {
  name: string;
  ports: number[];
  /** The greeting's text when `line` is this protocol's greeting, else undefined. */
  greeting: (line: string) => string | undefined;
  /** Whether the greeting's text is the whole banner (FTP, SMTP), kept for classification, or only searched (POP3, IMAP, whose "+OK"/"* OK" also begin later replies). */
  banner: boolean;
  /** SMTP: the greeting's first word is the server's host, and a client's EHLO/HELO names the client's. */
  smtp?: boolean;
}

/** The text after a greeting's code, matched by `pattern` (its group 1, '' when absent), or undefined. */
function textAfter(pattern: RegExp): (line: string) => string | undefined {
  return (line) => {
    const m = pattern.exec(line);
    return m ? (m[1] ?? '').trim() : undefined;
  };
}

function greetingDecoder(p: Protocol): Decoder {
  const ports: ReadonlySet<number> = new Set(p.ports);
  return {
    name: p.name,
    family: 'tcp',
    keys: p.ports,
    match: (pkt) =>
      pkt.payloadEnd - pkt.payloadOffset >= 4 && ports.has(pkt.srcPort) !== ports.has(pkt.dstPort),
    decode(pkt: PacketView, sink: ObservationSink): void {
      const line = firstLine(pkt);
      if (line === undefined) return;
      const emit = (name: ObservationName, value: string, confidence: number, field: string) =>
        emitForLocalSender(pkt, sink, p.name, name, value, confidence, field);
      if (!ports.has(pkt.srcPort)) {
        // From the client: only SMTP's EHLO/HELO says anything of it.
        const hello = p.smtp ? /^(?:EHLO|HELO) (\S+)/i.exec(line) : null;
        const name = hostNameOf(hello?.[1]);
        if (name) emit('hostname', name, 0.5, 'ehlo.domain');
        return;
      }
      const text = p.greeting(line);
      if (text === undefined) return;
      emit('role', `${p.name}:server`, 0.8, 'greeting');
      if (p.banner && text !== '') emit('banner', text, 0.8, 'greeting');
      if (p.smtp) {
        const name = hostNameOf(text.split(' ')[0]);
        if (name) emit('hostname', name, 0.5, 'greeting.domain');
      }
      for (const f of platformOf(text)) emit(f.name, f.value, f.confidence, 'greeting');
    },
  };
}

export const ftpDecoder = greetingDecoder({
  name: 'ftp',
  ports: [21],
  greeting: textAfter(/^220[ -](.*)$/),
  banner: true,
});

export const smtpDecoder = greetingDecoder({
  name: 'smtp',
  ports: [25, 587],
  greeting: textAfter(/^220[ -](.*)$/),
  banner: true,
  smtp: true,
});

export const pop3Decoder = greetingDecoder({
  name: 'pop3',
  ports: [110],
  greeting: textAfter(/^\+OK(?: (.*))?$/),
  banner: false,
});

export const imapDecoder = greetingDecoder({
  name: 'imap',
  ports: [143],
  greeting: textAfter(/^\* (?:OK|PREAUTH)(?: (.*))?$/),
  banner: false,
});
