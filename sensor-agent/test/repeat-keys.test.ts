// The pipeline addon computes some decoders' repeat keys in C
// (native/repeat_keys.c, Decoder.nativeRepeatKey), so that the frame memo
// recognises a poll without JavaScript. Each must be its decoder's
// repeatKey() exactly: compared here on every real TCP segment on the
// decoder's ports, and on copies of them with bytes changed where the key
// and its conditions read (an MBAP header; an EtherNet/IP encapsulation
// header and the common packet format items after it; a BACnet/IP BVLC, NPDU
// and APDU head).
import { describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/index.js';
import { ALL_DECODERS } from '../src/decoders/index.js';
import { DecoderIndex } from '../src/decoders/registry.js';
import type { Decoder } from '../src/decoders/types.js';
import { pipelineAddon } from '../src/native-addon.js';
import { IpProto, PacketView, ParseResult, parsePacket } from '../src/packet/index.js';
import { ethernet } from '../src/simulate/encoders.js';
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
  it('are declared by Modbus/TCP, EtherNet/IP and BACnet/IP, and only for a UDP/TCP decoder with a repeatKey()', () => {
    expect(native.map((d) => d.name).sort()).toEqual(['bacnet', 'enip', 'modbus']);
    const link: Decoder = {
      name: 'x',
      family: 'link',
      keys: [9],
      nativeRepeatKey: 1,
      repeatKey: () => 1,
      match: () => true,
      decode() {},
    };
    expect(() => new DecoderIndex([link])).toThrow(
      /native repeat key stands for a UDP\/TCP decoder's repeatKey/,
    );
  });
});

/** An Ethernet/IPv4/TCP frame from `srcPort` to `dstPort` carrying `payload`, parsed into a PacketView. */
function segment(srcPort: number, dstPort: number, payload: Buffer): PacketView {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(srcPort, 0);
  tcp.writeUInt16BE(dstPort, 2);
  tcp[12] = 5 << 4;
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(40 + payload.length, 2);
  ip[8] = 64;
  ip[9] = IpProto.TCP;
  Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(ip, 12);
  const frame = ethernet(
    Buffer.from('001d9c000002', 'hex'),
    Buffer.from('001d9c000001', 'hex'),
    0x0800,
    Buffer.concat([ip, tcp, payload]),
  );
  const v = new PacketView();
  v.reset(frame, 1, 0, 0);
  expect(parsePacket(v)).toBe(ParseResult.OK);
  return v;
}

describe.skipIf(!addon)('the EtherNet/IP repeat key', () => {
  // A controller's SendUnitData answer (CIP Vol. 2 §2-4.8) whose connected data item holds a successful
  // Get_Attribute_All reply (identity: never a repeat), and the same answer with the reply's status an error.
  const answer = (status: number) => {
    const reply = Buffer.from([0x81, 0, status, 0, 0x01, 0x00, 0x0c, 0x00]);
    const items = Buffer.concat([
      Buffer.from([0x02, 0x00]), // item count
      Buffer.from([0xa1, 0x00, 0x04, 0x00, 1, 2, 3, 4]), // connected address: connection id
      Buffer.from([0xb1, 0x00, 2 + reply.length, 0x00, 0x07, 0x00]), // connected data, sequence count
      reply,
    ]);
    const data = Buffer.concat([Buffer.alloc(6), items]); // interface handle, timeout
    const header = Buffer.alloc(24);
    header.writeUInt16LE(0x70, 0); // SendUnitData
    header.writeUInt16LE(data.length, 2);
    header.writeUInt32LE(0x1234, 4); // session
    return Buffer.concat([header, data]);
  };
  const enip = ALL_DECODERS.find((d) => d.nativeRepeatKey === 2)!;

  it("reads connected data items as the decoder's repeatKey() does", () => {
    for (const status of [0, 1]) {
      const v = segment(44818, 51000, answer(status));
      const key = jsKey(enip, v);
      expect(key, `status ${status}`).toBe(status === 0 ? -1 : 0x10070);
      expect(addon!.repeatKey(2, v.data, v.payloadOffset, v.payloadEnd, v.srcPort, v.dstPort)).toBe(key);
    }
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
        if (parsePacket(v) !== ParseResult.OK || v.srcPort < 0) continue;
        const family = v.ipProto === IpProto.TCP ? 'tcp' : v.ipProto === IpProto.UDP ? 'udp' : undefined;
        const o = v.payloadOffset;
        if (v.payloadEnd <= o) continue;
        for (const d of native) {
          if (d.family !== family || !(d.keys.includes(v.srcPort) || d.keys.includes(v.dstPort))) continue;
          const key = jsKey(d, v);
          const nativeKey = () =>
            addon!.repeatKey(d.nativeRepeatKey!, v.data, o, v.payloadEnd, v.srcPort, v.dstPort);
          expect(nativeKey(), `${d.name} ${file}`).toBe(key);
          compared++;
          if (key >= 0) keyed++;
          // Altered copies: a byte the key reads changed (the first 8 of Modbus/TCP; the first 24 of
          // EtherNet/IP and the common packet format items after them), at random or by one bit.
          for (let n = 0; n < 6; n++) {
            const at = o + Math.floor(random() * Math.min(d.name === 'modbus' ? 8 : 64, v.payloadEnd - o));
            const was = v.data[at]!;
            v.data[at] = n % 2 === 0 ? Math.floor(random() * 256) : was ^ 1;
            expect(nativeKey(), `${d.name} ${file} altered at ${at - o}`).toBe(jsKey(d, v));
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
