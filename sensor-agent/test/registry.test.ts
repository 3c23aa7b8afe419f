// Dispatch: which decoders the pipeline asks about a packet, by EtherType,
// IP protocol or port (src/decoders/registry.ts).
import { describe, expect, it } from 'vitest';
import { DecoderIndex, FamilyCode } from '../src/decoders/registry.js';
import type { Decoder, DecoderFamily } from '../src/decoders/types.js';

const decoder = (name: string, family: DecoderFamily, keys: number[]): Decoder => ({
  name,
  family,
  keys,
  match: () => true,
  decode: () => undefined,
});

describe('the decoder index', () => {
  const names = (list: readonly Decoder[]) => list.map((d) => d.name);

  it('gives every key its decoders in the order they were listed, in their own family only', () => {
    const decoders = [
      decoder('a', 'udp', [53, 5353]),
      decoder(
        'range',
        'udp',
        Array.from({ length: 16384 }, (_, i) => 49152 + i),
      ),
      decoder('b', 'udp', [5353, 50000]),
      decoder('c', 'tcp', [53]),
      decoder('d', 'link', [0x88cc]),
    ];
    const index = new DecoderIndex(decoders);
    expect(names(index.candidates('udp', 53))).toEqual(['a']);
    expect(names(index.candidates('udp', 5353))).toEqual(['a', 'b']);
    expect(names(index.candidates('udp', 50000))).toEqual(['range', 'b']);
    expect(names(index.candidates('udp', 49152))).toEqual(['range']);
    expect(names(index.candidates('udp', 65535))).toEqual(['range']);
    expect(names(index.candidates('udp', 49151))).toEqual([]);
    expect(names(index.candidates('tcp', 53))).toEqual(['c']);
    expect(names(index.candidates('link', 0x88cc))).toEqual(['d']);
    expect(names(index.candidates('ip', 17))).toEqual([]);
    // The per-packet form names the same decoders by their position.
    expect(index.candidateOrdinals(FamilyCode.udp, 50000)).toEqual([1, 2]);
    expect(index.candidateOrdinals(FamilyCode.udp, 5353)).toEqual([0, 2]);
  });

  it('refuses a key that is no EtherType or port', () => {
    // 0x10000 is taken: it stands for 802.3 frames (EtherType.LLC).
    expect(() => new DecoderIndex([decoder('bad', 'udp', [0x10001])])).toThrow(
      'decoder bad: key 65537 is not an EtherType or port',
    );
    expect(() => new DecoderIndex([decoder('bad', 'udp', [-1])])).toThrow(/key -1 is not/);
    expect(() => new DecoderIndex([decoder('bad', 'tcp', [1.5])])).toThrow(/key 1.5 is not/);
  });

  it('refuses more distinct decoder lists than a byte per key can name', () => {
    // 300 decoders of one port each: 300 lists of one decoder, and the empty one.
    const many = Array.from({ length: 300 }, (_, i) => decoder(`d${i}`, 'udp', [1000 + i]));
    expect(() => new DecoderIndex(many)).toThrow('more than 255 distinct decoder lists');
    expect(() => new DecoderIndex(many.slice(0, 255))).not.toThrow();
  });
});
