// Decoder.leadingBytes: a UDP/TCP decoder that declares the bytes its
// messages begin with is offered no payload that begins otherwise, and the
// frame memo's native half relies on the declaration to tell that no decoder
// reads a segment. So the declaration must be what match() and
// messageLength() already do: checked here on every real frame on such a
// decoder's ports, with its first byte as it is and changed to each byte the
// declaration leaves out.
import { describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/index.js';
import { ALL_DECODERS } from '../src/decoders/index.js';
import { DecoderIndex, LEADS } from '../src/decoders/registry.js';
import type { Decoder } from '../src/decoders/types.js';
import { IpProto, PacketView, ParseResult, parsePacket } from '../src/packet/index.js';
import { Pipeline } from '../src/pipeline.js';
import { ethernet, ipv4Udp } from '../src/simulate/encoders.js';
import { packetOf } from './reframe.js';
import { MISSING, manifest, pcap } from './support.js';

const declaring = ALL_DECODERS.filter((d) => d.leadingBytes !== undefined);

describe('leading bytes', () => {
  it('are declared by the decoders of TLS, HTTP, SSH, syslog, RTSP and PROFINET CM, among others', () => {
    expect(declaring.map((d) => d.name)).toEqual(
      expect.arrayContaining(['tls', 'http', 'ssh', 'syslog', 'rtsp', 'profinet']),
    );
  });

  it('are UDP/TCP payload bytes only', () => {
    const link: Decoder = {
      name: 'x',
      family: 'link',
      keys: [0x88b5],
      leadingBytes: [1],
      match: () => true,
      decode() {},
    };
    expect(() => new DecoderIndex([link])).toThrow(/leadingBytes are bytes of a UDP\/TCP payload/);
    const big: Decoder = {
      name: 'y',
      family: 'udp',
      keys: [9],
      leadingBytes: [256],
      match: () => true,
      decode() {},
    };
    expect(() => new DecoderIndex([big])).toThrow(/leadingBytes/);
  });

  it('keep a payload that begins otherwise, or none, from the decoder; its list still reads what another decoder may', () => {
    const asked: number[] = [];
    const picky: Decoder = {
      name: 'picky',
      family: 'udp',
      keys: [40000],
      leadingBytes: [0x16],
      match: (pkt) => {
        asked.push(pkt.payloadEnd > pkt.payloadOffset ? pkt.data[pkt.payloadOffset]! : -1);
        return false;
      },
      decode() {},
    };
    const index = new DecoderIndex([picky]);
    const pipeline = new Pipeline({ decoders: index, frameMemo: false });
    const frame = (payload: Buffer) =>
      ethernet(
        Buffer.from('001b1b000002', 'hex'),
        Buffer.from('001b1b000001', 'hex'),
        0x0800,
        ipv4Udp('10.0.0.1', '10.0.0.2', 5000, 40000, payload),
      );
    for (const payload of [Buffer.from([0x17, 3, 3]), Buffer.from([0x16, 3, 1]), Buffer.alloc(0)])
      pipeline.process(packetOf(frame(payload)));
    expect(asked).toEqual([0x16]);
    // The list of port 40000 (picky alone) reads 0x16 only; the empty list reads nothing.
    const list = index.dispatchTables[2]![40000]!;
    const row = index.leadingTable.subarray(list * LEADS, (list + 1) * LEADS);
    expect([...row.keys()].filter((b) => row[b] === 1)).toEqual([0x16]);
    expect(index.leadingTable.subarray(0, LEADS).every((b) => b === 0)).toBe(true);
  });
});

describe.skipIf(MISSING)('leading bytes on the real captures', () => {
  it('are all that match() and messageLength() accept of each decoder that declares them', async () => {
    const v = new PacketView();
    let checked = 0;
    const matchedBy = new Map<string, number>();
    for (const { file } of manifest()) {
      for await (const p of readCapture(pcap(file))) {
        v.reset(Buffer.from(p.data), p.linkType, p.interfaceId, p.timestampMs);
        if (parsePacket(v) !== ParseResult.OK || v.srcPort < 0 || v.laterFragment) continue;
        const family = v.ipProto === IpProto.UDP ? 'udp' : v.ipProto === IpProto.TCP ? 'tcp' : undefined;
        const o = v.payloadOffset;
        if (!family || v.payloadEnd <= o) continue;
        for (const d of declaring) {
          if (d.family !== family || !(d.keys.includes(v.srcPort) || d.keys.includes(v.dstPort))) continue;
          const original = v.data[o]!;
          if (d.match(v)) {
            expect(
              d.leadingBytes,
              `${d.name} matched a payload beginning 0x${original.toString(16)} (${file})`,
            ).toContain(original);
            matchedBy.set(d.name, (matchedBy.get(d.name) ?? 0) + 1);
          }
          for (const other of [0x00, 0x01, 0x17, 0x30, 0x41, 0x80, 0xff, original ^ 0x01])
            if (!d.leadingBytes!.includes(other)) {
              v.data[o] = other;
              expect(d.match(v), `${d.name} with 0x${other.toString(16)} (${file})`).toBe(false);
              if (d.messageLength) expect(d.messageLength(v, v.data, o, v.payloadEnd), d.name).toBe(0);
              checked++;
            }
          v.data[o] = original;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
    // The check is not vacuous: real messages of these protocols were matched.
    for (const name of ['tls', 'http', 'upnp', 'rtsp', 'profinet'])
      expect(matchedBy.get(name) ?? 0, name).toBeGreaterThan(0);
  }, 120_000);
});
