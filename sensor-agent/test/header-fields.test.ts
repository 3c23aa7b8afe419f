// The header fields of an HTTP-syntax head (HTTP, SIP, RTSP), as the
// decoders read them (src/decoders/util.ts).
import { describe, expect, it } from 'vitest';
import { headerFields } from '../src/decoders/util.js';

/** The plain reading the scanner must agree with: split into lines, then each line after the start line. */
function byLines(head: string, wanted?: ReadonlySet<string>): [string, string][] {
  const fields: [string, string][] = [];
  const lines = head.split(/\r?\n/);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (value !== '' && (!wanted || wanted.has(name))) fields.push([name, value]);
  }
  return fields;
}

describe('header fields', () => {
  it('reads each field after the start line up to the blank line, names lower-cased and values trimmed', () => {
    const head =
      'REGISTER sip:pbx.example SIP/2.0\r\n' +
      'Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK776\r\n' +
      'User-Agent :  Yealink SIP-T46S 66.86.0.15 \r\n' + // SIP allows space before the colon
      'Server:\r\n' + // empty: skipped
      ': no name\r\n' +
      'no colon here\r\n' +
      'Content-Length: 0\r\n' +
      '\r\n' +
      'Server: in the body, not a header\r\n';
    expect(headerFields(head)).toEqual([
      ['via', 'SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK776'],
      ['user-agent', 'Yealink SIP-T46S 66.86.0.15'],
      ['content-length', '0'],
    ]);
    expect(headerFields(head, new Set(['user-agent', 'server']))).toEqual([
      ['user-agent', 'Yealink SIP-T46S 66.86.0.15'],
    ]);
  });

  it('takes bare line feeds, a head cut in the middle of a line, and a head of a start line only', () => {
    expect(headerFields('HTTP/1.1 200 OK\nServer: lighttpd/1.4.35\n\nbody')).toEqual([
      ['server', 'lighttpd/1.4.35'],
    ]);
    expect(headerFields('HTTP/1.1 200 OK\r\nServer: Boa/0.94\r\nContent-Ty')).toEqual([
      ['server', 'Boa/0.94'],
    ]);
    expect(headerFields('HTTP/1.1 200 OK\r\nServer: Boa/0.94\r')).toEqual([['server', 'Boa/0.94']]);
    expect(headerFields('HTTP/1.1 200 OK')).toEqual([]);
    expect(headerFields('HTTP/1.1 200 OK\r\n')).toEqual([]);
  });

  it('agrees with reading the head line by line on 20,000 random heads', () => {
    // A small alphabet, so that separators, colons, spaces and blank lines come often.
    const alphabet = ['a', 'B', ':', ' ', '\t', '\r', '\n', '\r\n', 'Server', 'user-agent', '\r\n\r\n'];
    const wanted = new Set(['server', 'user-agent', 'a']);
    let seed = 7;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let n = 0; n < 20_000; n++) {
      let head = 'GET / HTTP/1.1';
      const length = Math.floor(random() * 40);
      for (let i = 0; i < length; i++) head += alphabet[Math.floor(random() * alphabet.length)];
      expect(headerFields(head), JSON.stringify(head)).toEqual(byLines(head));
      expect(headerFields(head, wanted), JSON.stringify(head)).toEqual(byLines(head, wanted));
    }
  });
});
