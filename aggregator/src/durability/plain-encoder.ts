// Faster PLAIN encodings of the two column types the history spends its page
// encoding on, for @dsnp/parquetjs:
//  - BYTE_ARRAY: the library copies every value into a fresh Buffer
//    (Buffer.from) before copying it again into the page; the values our
//    shredder hands it are Buffers already, so this copies each once.
//  - INT64: the library makes a BigInt of every value to write it; a safe
//    integer (timestamps in ms, sequence numbers) is written as two 32-bit
//    halves instead.
// Together ~1 µs of the history worker's ~7 µs per observation in the
// mqtt-throughput bench. Anything else (other types, DECIMAL, values that are
// not Buffers or safe integers) goes to the library's own encoder.
// plain-encoder.test.ts checks the bytes are the library's, value for value.
import parquetPlain from '@dsnp/parquetjs/dist/lib/codec/plain.js';

type Encode = (
  type: string,
  values: unknown[],
  opts?: { originalType?: string; column?: { originalType?: string } },
) => Buffer;

const TWO_32 = 4294967296;

function byteArrays(values: unknown[]): Buffer | undefined {
  let total = 0;
  for (const v of values) {
    if (!Buffer.isBuffer(v)) return undefined;
    total += 4 + v.byteLength;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const v of values as Buffer[]) {
    out.writeUInt32LE(v.byteLength, at);
    v.copy(out, at + 4);
    at += 4 + v.byteLength;
  }
  return out;
}

function int64s(values: unknown[]): Buffer | undefined {
  for (const v of values) if (!Number.isSafeInteger(v)) return undefined;
  const out = Buffer.allocUnsafe(8 * values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    // Two's complement across both halves: ToUint32 takes the low word modulo 2^32, floor the high.
    out.writeUInt32LE(v >>> 0, i * 8);
    out.writeInt32LE(Math.floor(v / TWO_32), i * 8 + 4);
  }
  return out;
}

/** Wraps `original` (the library's PLAIN encodeValues). */
export function plainEncoder(original: Encode): Encode {
  return (type, values, opts) => {
    let fast: Buffer | undefined;
    if (type === 'BYTE_ARRAY') fast = byteArrays(values);
    else if (type === 'INT64' && opts?.originalType !== 'DECIMAL' && opts?.column?.originalType !== 'DECIMAL')
      fast = int64s(values);
    return fast ?? original(type, values, opts);
  };
}

const codec = parquetPlain as unknown as { encodeValues: Encode };

/** The library's own PLAIN encodeValues, as loaded (before installPlainEncoder). */
export const libraryPlainEncode: Encode = codec.encodeValues;

let installed = false;

/** Makes parquetjs's writers encode PLAIN pages through plainEncoder (once per process). */
export function installPlainEncoder(): void {
  if (installed) return;
  codec.encodeValues = plainEncoder(libraryPlainEncode);
  installed = true;
}
