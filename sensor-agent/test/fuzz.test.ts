// Mutates real packets (bit flips, truncation, splices) and drives them
// through the whole pipeline: no input may throw out of it.
import { describe, expect, it } from 'vitest';
import { type CapturedPacket, readCapture } from '../src/capture/index.js';
import { ALL_DECODERS } from '../src/decoders/index.js';
import { Pipeline } from '../src/pipeline.js';
import { MISSING, pcap } from './support.js';

const SOURCES = [
  'tcpdump__LLDP_and_CDP.pcap',
  'arkime__wireshark-lldp.pcap',
  'zeek__cdp-v1.pcap',
  'tcpdump__3560_CDP.pcap',
  'zeek__dhcp.pcap',
  'arkime__wireshark-dhcpv6.pcap',
  'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap',
  'ndpi__anyconnect-vpn.pcap',
  'arkime__nbns.pcap',
  'zeek__mdns.pcap',
  'zeek__linux_dlt_sll2.pcap',
];
const MUTATIONS = 20_000;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(MISSING)('fuzzing the decoders with mutated real packets', () => {
  it(`${MUTATIONS} mutations: nothing escapes the pipeline, and the decoders really ran`, async () => {
    // Keep the packets some decoder decodes: mutating those exercises decoder code, not just header checks.
    const probe = new Pipeline();
    const pool: CapturedPacket[] = [];
    for (const file of SOURCES) {
      for await (const p of readCapture(pcap(file))) {
        const before = Object.values(probe.stats.decoded).reduce((a, b) => a + b, 0);
        probe.process(p);
        const after = Object.values(probe.stats.decoded).reduce((a, b) => a + b, 0);
        if (after > before) pool.push({ ...p, data: Buffer.from(p.data) });
      }
    }
    const decodedProtocols = Object.entries(probe.stats.decoded)
      .filter(([, n]) => n > 0)
      .map(([name]) => name);
    expect(decodedProtocols.sort()).toEqual(ALL_DECODERS.map((d) => d.name).sort());

    const random = mulberry32(0xfeed);
    const pipeline = new Pipeline();
    for (let i = 0; i < MUTATIONS; i++) {
      const base = pool[Math.floor(random() * pool.length)]!;
      const data = Buffer.from(base.data);
      const kind = random();
      let mutated: Buffer = data;
      if (kind < 0.5) {
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) data[Math.floor(random() * data.length)] = Math.floor(random() * 256);
      } else if (kind < 0.8) {
        mutated = data.subarray(0, Math.floor(random() * data.length));
      } else {
        // Splice a random run of bytes from another packet.
        const other = pool[Math.floor(random() * pool.length)]!.data;
        const at = Math.floor(random() * data.length);
        const from = Math.floor(random() * other.length);
        other.copy(data, at, from, from + Math.floor(random() * 32));
      }
      expect(() => pipeline.process({ ...base, data: mutated })).not.toThrow();
    }
    expect(pipeline.stats.packets).toBe(MUTATIONS);
    const decoded = Object.values(pipeline.stats.decoded).reduce((a, b) => a + b, 0);
    const rejected = Object.values(pipeline.stats.decodeErrors).reduce((a, b) => a + b, 0);
    expect(decoded).toBeGreaterThan(MUTATIONS / 4);
    expect(rejected).toBeGreaterThan(0);
    expect(pipeline.stats.malformed).toBeGreaterThan(0);
    expect(() => pipeline.store.toRecords()).not.toThrow();
  });
});
