// The history's PLAIN encoder must write exactly the bytes parquetjs's own
// does (DuckDB reading the files back is durability.test.ts and
// history-api.test.ts), and leave to the library what it does not handle.
import { describe, expect, it } from 'vitest';
import { libraryPlainEncode, plainEncoder } from '../src/durability/plain-encoder.js';

const fast = plainEncoder(libraryPlainEncode);

describe('PLAIN encoder', () => {
  it('encodes byte arrays as the library does: empty, ASCII, UTF-8, large', () => {
    const values = ['', 'site-a', 'ünïcødé ✓ 😀', 'x'.repeat(70_000), '{"id":"mac:02:00:00:00:00:01"}'].map(
      (s) => Buffer.from(s),
    );
    for (const list of [[], values, values.slice(1, 2)]) {
      expect(fast('BYTE_ARRAY', list)).toEqual(libraryPlainEncode('BYTE_ARRAY', list));
    }
  });

  it('encodes 64-bit integers as the library does, negative and beyond 32 bits included', () => {
    const values = [
      0,
      1,
      -1,
      2 ** 31 - 1,
      2 ** 31,
      -(2 ** 31),
      2 ** 32,
      2 ** 32 + 5,
      -(2 ** 32) - 5,
      1_764_688_000_123,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
    ];
    for (const opts of [undefined, { originalType: 'TIMESTAMP_MILLIS' }]) {
      expect(fast('INT64', values, opts)).toEqual(libraryPlainEncode('INT64', values, opts));
    }
  });

  it('leaves other types, decimals, strings and bigints to the library', () => {
    expect(fast('INT32', [1, -2, 3])).toEqual(libraryPlainEncode('INT32', [1, -2, 3]));
    expect(fast('INT64', [2n ** 60n, 1])).toEqual(libraryPlainEncode('INT64', [2n ** 60n, 1]));
    expect(fast('INT64', [1.5], { originalType: 'DECIMAL' })).toEqual(
      libraryPlainEncode('INT64', [1.5], { originalType: 'DECIMAL' }),
    );
    expect(fast('BYTE_ARRAY', ['text', Buffer.from('bytes')])).toEqual(
      libraryPlainEncode('BYTE_ARRAY', ['text', Buffer.from('bytes')]),
    );
    expect(() => fast('INT64', [1.5])).toThrow();
  });
});
