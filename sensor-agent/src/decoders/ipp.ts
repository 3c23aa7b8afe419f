// IPP responses (RFC 8010 §3.1 encoding, RFC 8011 / PWG 5100.x attributes):
// a printer answering Get-Printer-Attributes names its make and model, its
// IEEE 1284 device id (MFG:...;MDL:...;) and firmware. The message starts
// after the HTTP head of a response from port 631 (http.ts calls here);
// only what the first segment holds is read.

/** Printer identity attributes found in an IPP message. */
export interface IppPrinter {
  makeAndModel?: string;
  manufacturer?: string;
  model?: string;
  firmware?: string;
  uuid?: string;
}

const END_OF_ATTRIBUTES = 0x03;
/** Value tags below this are group delimiters (RFC 8010 §3.5.1). */
const FIRST_VALUE_TAG = 0x10;
const TEXT_TAGS = new Set([0x41, 0x42, 0x44, 0x45, 0x47, 0x48, 0x49]); // text, name, keyword, uri, charset, language, mime

/** Reads an IPP message at b[o, end): its printer identity attributes, as far as the bytes go. */
export function readIppPrinter(b: Buffer, o: number, end: number): IppPrinter {
  const out: IppPrinter = {};
  if (end < o + 9 || b[o] === 0 || b[o]! > 2) return out; // version 1.x or 2.x
  let p = o + 8; // version, status code, request id
  let name = '';
  while (p < end) {
    const tag = b[p]!;
    if (tag === END_OF_ATTRIBUTES) break;
    if (tag < FIRST_VALUE_TAG) {
      p += 1; // a group delimiter
      continue;
    }
    if (p + 3 > end) break;
    const nameLength = b.readUInt16BE(p + 1);
    if (p + 3 + nameLength + 2 > end) break;
    // An empty name is another value of the previous attribute.
    if (nameLength > 0) name = b.toString('latin1', p + 3, p + 3 + nameLength);
    const valueLength = b.readUInt16BE(p + 3 + nameLength);
    const v = p + 5 + nameLength;
    if (v + valueLength > end) break;
    if (TEXT_TAGS.has(tag) && valueLength > 0)
      collect(out, name, b.toString('utf8', v, v + valueLength).trim());
    p = v + valueLength;
  }
  return out;
}

function collect(out: IppPrinter, name: string, value: string): void {
  if (value === '') return;
  switch (name) {
    case 'printer-make-and-model':
      out.makeAndModel ??= value;
      return;
    case 'printer-device-id': {
      // IEEE 1284-2000 device id: "MFG:HP;MDL:HP LaserJet 4050 Series;CMD:PCL,PJL;" (also MANUFACTURER:, MODEL:).
      for (const part of value.split(';')) {
        const colon = part.indexOf(':');
        if (colon < 0) continue;
        const key = part.slice(0, colon).trim().toUpperCase();
        const text = part.slice(colon + 1).trim();
        if (!text) continue;
        if (key === 'MFG' || key === 'MANUFACTURER') out.manufacturer ??= text;
        else if (key === 'MDL' || key === 'MODEL') out.model ??= text;
      }
      return;
    }
    case 'printer-firmware-string-version':
      out.firmware ??= value;
      return;
    case 'printer-uuid':
      out.uuid ??= value.replace(/^urn:uuid:/i, '').toLowerCase();
      return;
  }
}
