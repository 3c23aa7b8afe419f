// The frame memo (src/frame-memo.ts, native/frame_memo.c) replays frames that
// change nothing but last-seen without parsing them. Like the repeat cache, it
// is an optimisation only: on every real capture, and across captures whose
// addresses change hands, the inventory must be exactly what the pipeline
// builds without it.
import { describe, expect, it } from 'vitest';
import { type CapturedPacket, FrameBatch, readCapture } from '../src/capture/index.js';
import { DecoderIndex, FamilyCode } from '../src/decoders/registry.js';
import { pipelineAddon } from '../src/native-addon.js';
import { buildInventory, Pipeline } from '../src/pipeline.js';
import { arpAnnouncement, ethernet, ipv4Udp, mdnsAnnouncement } from '../src/simulate/encoders.js';
import { MISSING, manifest, pcap } from './support.js';

const BUILT = pipelineAddon().addon !== undefined;
if (!BUILT)
  console.warn(
    `the pipeline addon is not built (${pipelineAddon().error}): run make build; its tests are skipped`,
  );

/** Each frame in a batch of its own, so that each one's commit is made before the next is judged. */
function oneByOne(pipeline: Pipeline, frames: readonly Buffer[], firstMs = 1000, stepMs = 1000): void {
  const batch = new FrameBatch();
  frames.forEach((frame, i) => {
    const ms = firstMs + i * stepMs;
    batch.clear();
    batch.push(frame, 0, frame.length, frame.length, Math.floor(ms / 1000), (ms % 1000) * 1e6, 1, 0);
    pipeline.processBatch(batch);
  });
}

/** The packets in batches of `size`, as a capture reader hands them over. */
function inBatches(pipeline: Pipeline, packets: readonly CapturedPacket[], size: number): void {
  const batch = new FrameBatch();
  for (let at = 0; at < packets.length; at += size) {
    batch.clear();
    for (const p of packets.slice(at, at + size))
      batch.push(p.data, 0, p.data.length, p.originalLength, p.seconds, p.nanos, p.linkType, p.interfaceId);
    pipeline.processBatch(batch);
  }
}

/** The counters that must not depend on the memo: all but how repeats were skipped. */
function judged(pipeline: Pipeline): object {
  const { replayed: _, repeats: __, ...rest } = pipeline.stats;
  return rest;
}

describe.skipIf(!BUILT)('the frame memo', () => {
  const printer = Buffer.from('001b1b00000a', 'hex');
  const announcement = mdnsAnnouncement(printer, '10.0.0.7', 'printer', []);
  // UDP to a port no decoder is registered for: its sender is all it tells.
  const quietPort = 12345;
  const chatter = ethernet(
    Buffer.from('001b1b00000b', 'hex'),
    printer,
    0x0800,
    ipv4Udp('10.0.0.7', '10.0.0.11', quietPort, quietPort, Buffer.from('payload')),
  );

  it('replays a decoded announcement once it was a repeat, and a known sender frame no decoder reads', () => {
    expect(new DecoderIndex().candidateOrdinals(FamilyCode.udp, quietPort)).toEqual([]);
    const frames = [announcement, announcement, announcement, announcement, chatter, chatter, chatter];
    const memo = new Pipeline();
    oneByOne(memo, frames);
    const without = new Pipeline({ frameMemo: false });
    oneByOne(without, frames);
    // The first copy is decoded, the second found a repeat by the repeat cache (and its key committed),
    // the third and fourth replayed. The first chatter frame is processed, the next two replayed.
    expect(memo.stats.replayed).toBe(4);
    expect(memo.stats.repeats).toBe(3);
    expect(memo.stats.decoded.mdns).toBe(4);
    expect(judged(memo)).toEqual(judged(without));
    expect(memo.store.toRecords()).toEqual(without.store.toRecords());
    const record = memo.store.toRecords().find((d) => d.ipv4.includes('10.0.0.7'));
    expect(record?.hostname?.value).toBe('printer');
    expect(record?.lastSeen).toBe(new Date(7000).toISOString());
  });

  it('processes a frame again once a device it named changed generation', () => {
    // Another MAC takes the printer's address (ARP): the address changing hands bumps both devices'
    // generations, so the announcement (which binds the address again) is no longer a replay.
    const usurper = arpAnnouncement(Buffer.from('001b1b00000c', 'hex'), '10.0.0.7');
    const frames = [
      announcement,
      announcement,
      announcement,
      usurper,
      announcement,
      announcement,
      announcement,
    ];
    const memo = new Pipeline();
    oneByOne(memo, frames);
    const without = new Pipeline({ frameMemo: false });
    oneByOne(without, frames);
    // The third copy is replayed. The fifth is decoded again (binding the address back), the sixth is a
    // repeat of it (committed again), the seventh replayed.
    expect(memo.stats.replayed).toBe(2);
    expect(judged(memo)).toEqual(judged(without));
    expect(memo.store.toRecords()).toEqual(without.store.toRecords());
  });

  it('remembers large frames only within its byte budget, and the rest are processed as before', () => {
    // 4,000 different frames of 1,400 bytes that a decoder is offered (BACnet's port) but does not match:
    // each changes nothing but last-seen, so each key is committed, but 5.6 MB of them exceed the memo's
    // 4 MiB of keys. Each frame comes twice, then all of them once more.
    const frames = Array.from({ length: 4000 }, (_, n) => {
      const payload = Buffer.alloc(1400 - 14 - 28);
      payload.writeUInt32BE(n, 0);
      return ethernet(
        Buffer.from('001b1b00000b', 'hex'),
        printer,
        0x0800,
        ipv4Udp('10.0.0.7', '10.0.0.11', 40000, 47808, payload),
      );
    });
    const sequence = [...frames.flatMap((f) => [f, f]), ...frames];
    const memo = new Pipeline();
    oneByOne(memo, sequence, 1000, 1);
    const without = new Pipeline({ frameMemo: false });
    oneByOne(without, sequence, 1000, 1);
    expect(memo.store.toRecords()).toEqual(without.store.toRecords());
    expect(judged(memo)).toEqual(judged(without));
    // Every second copy is replayed while the budget lasts (~3,000 keys of 1,405 bytes), not past it.
    expect(memo.stats.replayed).toBeGreaterThan(4000);
    expect(memo.stats.replayed).toBeLessThan(2 * 4000 - 1000);
  });

  it('replays a repeat within one batch, judged a slice at a time', () => {
    const frames = Array.from({ length: 600 }, () => announcement);
    const memo = new Pipeline();
    const batch = new FrameBatch();
    for (const [i, frame] of frames.entries()) batch.push(frame, 0, frame.length, frame.length, i, 0, 1, 0);
    memo.processBatch(batch);
    // The first slice of 256 is judged before any commit: all of it is processed.
    expect(memo.stats.replayed).toBe(600 - 256);
    expect(memo.stats.repeats).toBe(599);
  });
});

describe.skipIf(!BUILT || MISSING)('the frame memo on the real captures', () => {
  it('yields the same inventory and counters as the pipeline without it, and replays', async () => {
    let replayed = 0;
    for (const { file } of manifest()) {
      const without = await buildInventory(pcap(file), { frameMemo: false });
      const memo = await buildInventory(pcap(file));
      expect(memo.devices, file).toEqual(without.devices);
      const { replayed: r, repeats: _, ...rest } = memo.stats;
      const { replayed: none, repeats: __, ...restWithout } = without.stats;
      expect(rest, file).toEqual(restWithout);
      expect(none).toBe(0);
      replayed += r;
    }
    expect(replayed).toBeGreaterThan(2000);
  });

  it('yields the same inventory across captures whose addresses change hands and whose devices merge', async () => {
    // Every capture one after another, twice (as repeat-cache.test.ts does): sites reuse addresses,
    // so generations are bumped again and again under frames the memo holds.
    const packets: CapturedPacket[] = [];
    for (const { file } of manifest())
      for await (const p of readCapture(pcap(file))) packets.push({ ...p, data: Buffer.from(p.data) });
    const twice = [...packets, ...packets.map((p) => ({ ...p, seconds: p.seconds + 1e9 }))];
    const memo = new Pipeline();
    inBatches(memo, twice, 1000);
    const without = new Pipeline({ frameMemo: false });
    inBatches(without, twice, 1000);
    expect(memo.store.toRecords()).toEqual(without.store.toRecords());
    expect(judged(memo)).toEqual(judged(without));
    expect(memo.stats.replayed).toBeGreaterThan(packets.length / 4);
    expect(memo.store.devices().filter((d) => d.generation > 0).length).toBeGreaterThan(10);
  }, 120_000);
});
