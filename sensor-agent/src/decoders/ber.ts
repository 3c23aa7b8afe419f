// ASN.1 BER/DER elements (ITU-T X.690 §8.1): the reader SNMP and Kerberos
// share. Definite lengths only (the short form, or the long form up to three
// bytes, which holds any message a datagram or first segment can carry); an
// element that overruns its container throws RangeError, which the pipeline
// counts against the decoder.

export interface BerElement {
  tag: number;
  /** The value's bytes: [start, end). */
  start: number;
  end: number;
}

/** The element at `o`, within `end`. */
export function berElement(b: Buffer, o: number, end: number): BerElement {
  if (o + 2 > end) throw new RangeError('BER element truncated');
  const tag = b[o]!;
  let length = b[o + 1]!;
  let start = o + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes < 1 || bytes > 3 || start + bytes > end) throw new RangeError('BER length form not supported');
    length = b.readUIntBE(start, bytes);
    start += bytes;
  }
  if (start + length > end) throw new RangeError('BER element overruns its parent');
  return { tag, start, end: start + length };
}

/** The elements of a constructed value, in order (at most `limit`). */
export function berChildren(b: Buffer, parent: BerElement, limit = 32): BerElement[] {
  const out: BerElement[] = [];
  for (let o = parent.start; o < parent.end && out.length < limit; ) {
    const child = berElement(b, o, parent.end);
    out.push(child);
    o = child.end;
  }
  return out;
}

/** The value inside the context-tagged field [n] among `fields` (explicit tagging); undefined when absent. */
export function berField(b: Buffer, fields: BerElement[], n: number): BerElement | undefined {
  const wrapper = fields.find((f) => f.tag === (0xa0 | n));
  return wrapper ? berElement(b, wrapper.start, wrapper.end) : undefined;
}
