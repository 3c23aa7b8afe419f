// The readers hand frames over in place, as offsets into the chunk they read
// (FrameBatch), and the pipeline parses them there. Nothing may read past a
// frame's end into the next record's bytes, or assume a frame starts at
// offset 0: on every real capture, frames read in place must give the
// inventory and counters that the same frames give in buffers of their own,
// and a frame amid other bytes must parse as it does alone.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CaptureFormatError,
  type CaptureSource,
  FrameBatch,
  type ReadCaptureOptions,
  readCapture,
  readCaptureBatches,
} from '../src/capture/index.js';
import { pipelineAddon } from '../src/native-addon.js';
import { PacketView, parsePacket } from '../src/packet/index.js';
import { Pipeline } from '../src/pipeline.js';
import { MISSING, manifest, pcap } from './support.js';

/** Link types whose parsers read the frame's first bytes themselves. */
const LINK_TYPES = [0, 1, 9, 12, 14, 50, 51, 101, 104, 105, 108, 113, 127, 228, 229, 239, 276];

/** The view's parsed fields, with every offset made relative to the frame's start. */
function fields(v: PacketView): Record<string, unknown> {
  const at = (o: number) => o - v.frameStart;
  return {
    srcMac: v.srcMac,
    dstMac: v.dstMac,
    vlan: v.vlan,
    etherType: v.etherType,
    snap: [v.snapOui, v.snapPid],
    l3: [at(v.l3Offset), at(v.l3End)],
    ip: [v.ipVersion, v.srcIp4, v.dstIp4, v.srcIp6Offset < 0 ? -1 : at(v.srcIp6Offset), v.ipProto, v.ttl],
    laterFragment: v.laterFragment,
    ports: [v.srcPort, v.dstPort],
    payload: v.srcPort < 0 ? [] : [at(v.payloadOffset), at(v.payloadEnd)],
    tunnelDepth: v.tunnelDepth,
  };
}

/**
 * The counters but how repeats were skipped: a batch also goes through the
 * frame memo (src/frame-memo.ts), which replays some repeats the repeat cache
 * would otherwise have skipped, and reads its frames in place too.
 */
function counters(pipeline: Pipeline): object {
  const { replayed: _, repeats: __, ...rest } = pipeline.stats;
  return rest;
}

describe.skipIf(MISSING)('frames read in place', () => {
  it('give the inventory and counters of the same frames in buffers of their own, on every real capture', async () => {
    let compared = 0;
    for (const { file } of manifest()) {
      const alone = new Pipeline();
      for await (const p of readCapture(pcap(file))) alone.process({ ...p, data: Buffer.from(p.data) });
      // Small reads, so that records straddle chunks and are joined, as well as read in place; and
      // reads into reused buffers, some smaller than a record, so that a record spans several
      // reads and a buffer the parser still holds part of one must not be read into again.
      for (const options of [
        { chunkSize: 4096 },
        { chunkSize: 4096, reuseBuffers: true },
        { chunkSize: 97, reuseBuffers: true },
      ]) {
        const inPlace = new Pipeline();
        for await (const batch of readCaptureBatches(pcap(file), options)) inPlace.processBatch(batch);
        const label = `${file} ${JSON.stringify(options)}`;
        expect(inPlace.store.toRecords(), label).toEqual(alone.store.toRecords());
        expect(counters(inPlace), label).toEqual(counters(alone));
      }
      compared += alone.stats.packets;
    }
    expect(compared).toBeGreaterThan(40_000);
  }, 120_000);

  it('a frame amid other bytes parses as it does alone, whole or cut short, whatever its link type', async () => {
    // Each frame lies between bytes that would parse: its own bytes reversed before it (so that a read
    // at an offset from 0 rather than from its start finds other values), and the whole uncut frame
    // after it (so that a read past the end of a cut frame finds what a longer frame would hold).
    let frames = 0;
    const view = new PacketView();
    const embedded = new PacketView();
    for (const file of [
      'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap',
      'cisagov-icsnpp-bacnet__bacnet_example.pcap',
      'tcpdump__erspan-type-i-4.pcap',
      'zeek__linux_dlt_sll2.pcap',
      'cisagov-icsnpp-s7comm__s7comm_plus.pcap', // Linux SLL v1
      'ndpi__opc-ua.pcap', // BSD loopback
    ]) {
      const packets = [];
      for await (const p of readCapture(pcap(file))) packets.push(Buffer.from(p.data));
      for (const data of packets.slice(0, 40)) {
        for (let len = 0; len <= data.length; len += 7) {
          const frame = data.subarray(0, len);
          const before = Buffer.from(data).reverse();
          const buffer = Buffer.concat([before, Buffer.from([0x45, 0x00, 0x01]), frame, data]);
          const start = before.length + 3;
          for (const linkType of LINK_TYPES) {
            view.reset(Buffer.from(frame), linkType, 0, 0);
            embedded.resetFrame(buffer, start, start + len, linkType, 0, 0);
            expect(parsePacket(embedded), `${file} ${linkType} ${len}`).toBe(parsePacket(view));
            expect(fields(embedded), `${file} ${linkType} ${len}`).toEqual(fields(view));
            frames++;
          }
        }
      }
    }
    expect(frames).toBeGreaterThan(10_000);
  }, 120_000);

  it('a batch of frames amid other bytes yields the inventory of the frames alone', async () => {
    for (const { file } of manifest().slice(0, 40)) {
      const alone = new Pipeline();
      const batch = new FrameBatch();
      let filler = Buffer.alloc(0);
      for await (const p of readCapture(pcap(file))) {
        const data = Buffer.from(p.data);
        alone.process({ ...p, data });
        const buffer = Buffer.concat([filler, data, data]);
        batch.push(
          buffer,
          filler.length,
          filler.length + data.length,
          p.originalLength,
          p.seconds,
          p.nanos,
          p.linkType,
          p.interfaceId,
        );
        filler = data;
      }
      const inPlace = new Pipeline();
      inPlace.processBatch(batch);
      expect(inPlace.store.toRecords(), file).toEqual(alone.store.toRecords());
      expect(counters(inPlace), file).toEqual(counters(alone));
    }
  }, 120_000);
});

describe.skipIf(MISSING || !pipelineAddon().addon)('pcap records walked by the pipeline addon', () => {
  /** Every column of every batch, as read with the given options. */
  async function columns(source: CaptureSource, options: ReadCaptureOptions): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const b of readCaptureBatches(source, options))
      for (let i = 0; i < b.length; i++)
        out.push([
          b.buffers[i]!.subarray(b.starts[i]!, b.ends[i]!).toString('hex'),
          b.originalLengths[i],
          b.timestampsMs[i],
          b.seconds[i],
          b.nanos[i],
          b.linkTypes[i],
          b.interfaceIds[i],
        ]);
    return out;
  }

  it('are the frames the JavaScript loop reads, on every real pcap, whatever the read size', async () => {
    let frames = 0;
    for (const { file } of manifest().filter((m) => m.file.endsWith('.pcap'))) {
      for (const chunkSize of [97, 4096, undefined]) {
        const options = { chunkSize, reuseBuffers: chunkSize === 97 };
        const native = await columns(pcap(file), options);
        expect(native, `${file} ${chunkSize}`).toEqual(
          await columns(pcap(file), { ...options, nativeScan: false }),
        );
        frames += chunkSize === undefined ? native.length : 0;
      }
    }
    expect(frames).toBeGreaterThan(40_000);
  }, 120_000);

  it('name a corrupt record at the offset the JavaScript loop does', async () => {
    const bytes = Buffer.from(readFileSync(pcap('tcpdump__LLDP_and_CDP.pcap')));
    const second = 24 + 16 + bytes.readUInt32LE(24 + 8);
    bytes.writeUInt32LE(0x8000_0000, second + 8);
    const errors: unknown[] = [];
    for (const nativeScan of [true, false]) {
      try {
        await columns(
          (async function* () {
            yield bytes;
          })(),
          { nativeScan },
        );
      } catch (error) {
        errors.push(error);
      }
    }
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(CaptureFormatError);
    expect((errors[0] as CaptureFormatError).offset).toBe(second);
    expect((errors[0] as Error).message).toBe((errors[1] as Error).message);
  });
});
