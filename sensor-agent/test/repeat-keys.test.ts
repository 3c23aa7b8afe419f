// The pipeline addon computes some decoders' repeat keys in C
// (native/repeat_keys.c, Decoder.nativeRepeatKey), so that the frame memo
// recognises a poll without JavaScript. Each must be its decoder's
// repeatKey() exactly: compared here on every real TCP segment on the
// decoder's ports, and on copies of them with bytes changed where the key
// and its conditions read (the MBAP header of Modbus/TCP).
import { describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/index.js';
import { ALL_DECODERS } from '../src/decoders/index.js';
import { DecoderIndex } from '../src/decoders/registry.js';
import type { Decoder } from '../src/decoders/types.js';
import { pipelineAddon } from '../src/native-addon.js';
import { IpProto, PacketView, ParseResult, parsePacket } from '../src/packet/index.js';
import { MISSING, manifest, pcap } from './support.js';

const addon = pipelineAddon().addon;
const native = ALL_DECODERS.filter((d) => d.nativeRepeatKey !== undefined);

/** What the pipeline takes for the decoder's repeat key of the segment in `v`: -1 where it does not match, or has none. */
function jsKey(d: Decoder, v: PacketView): number {
  if (!d.match(v)) return -1;
  try {
    return d.repeatKey!(v) ?? -1;
  } catch {
    return -1;
  }
}

describe('native repeat keys', () => {
  it('are declared by Modbus/TCP, and only for a TCP decoder with a repeatKey()', () => {
    expect(native.map((d) => d.name)).toEqual(['modbus']);
    const udp: Decoder = {
      name: 'x',
      family: 'udp',
      keys: [9],
      nativeRepeatKey: 1,
      repeatKey: () => 1,
      match: () => true,
      decode() {},
    };
    expect(() => new DecoderIndex([udp])).toThrow(/native repeat key stands for a TCP decoder's repeatKey/);
  });
});

describe.skipIf(MISSING || !addon)('native repeat keys on the real captures', () => {
  it("are each decoder's repeatKey(), on every segment of its ports and on altered copies", async () => {
    const v = new PacketView();
    let compared = 0;
    let keyed = 0;
    let seed = 7;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (const { file } of manifest()) {
      for await (const p of readCapture(pcap(file))) {
        const data = Buffer.from(p.data);
        v.reset(data, p.linkType, p.interfaceId, p.timestampMs);
        if (parsePacket(v) !== ParseResult.OK || v.ipProto !== IpProto.TCP || v.srcPort < 0) continue;
        const o = v.payloadOffset;
        if (v.payloadEnd <= o) continue;
        for (const d of native) {
          if (!(d.keys.includes(v.srcPort) || d.keys.includes(v.dstPort))) continue;
          const key = jsKey(d, v);
          expect(addon!.repeatKey(d.nativeRepeatKey!, v.data, o, v.payloadEnd), `${d.name} ${file}`).toBe(
            key,
          );
          compared++;
          if (key >= 0) keyed++;
          // Altered copies: a byte of the first eight (the MBAP header and function code) changed.
          for (let n = 0; n < 4; n++) {
            const at = o + Math.floor(random() * Math.min(8, v.payloadEnd - o));
            const was = v.data[at]!;
            v.data[at] = Math.floor(random() * 256);
            expect(
              addon!.repeatKey(d.nativeRepeatKey!, v.data, o, v.payloadEnd),
              `${d.name} ${file} altered`,
            ).toBe(jsKey(d, v));
            v.data[at] = was;
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(5000);
    expect(keyed).toBeGreaterThan(1000);
  }, 120_000);
});
