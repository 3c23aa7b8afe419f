// Mirrored traffic (src/packet/tunnel.ts): the devices inside ERSPAN, GRE,
// VXLAN and Geneve are found as if the frames had been captured where they
// were sent, and the tunnel's sender stays a device of its own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CapturedPacket, readCapture } from '../src/capture/index.js';
import { MAX_TUNNEL_DEPTH } from '../src/packet/index.js';
import { buildInventory, Pipeline } from '../src/pipeline.js';
import { MISSING, mustFindMac, pcap } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-tunnel-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(MISSING)('ERSPAN type I from H3C switches (tcpdump__erspan-type-i-4.pcap)', () => {
  it('finds the hosts inside the mirrored frames, and keeps the switches that send them', async () => {
    const { devices, stats } = await buildInventory(pcap('tcpdump__erspan-type-i-4.pcap'));
    // tshark: 80 ICMP and 8 OSPF frames are eth:ip:gre:erspan:eth:..., 8 more gre:ip:ospf.
    expect(stats.decapsulated).toBe(96);
    expect(stats.malformed).toBe(0);
    // Inside: a VMware guest 10.1.1.100 pinging, and the H3C router 10.1.1.1 answering and speaking OSPF.
    const guest = mustFindMac(devices, '00:50:56:84:01:7d');
    expect(guest.ipv4).toEqual(['10.1.1.100']);
    expect(guest.vendor?.value).toBe('VMware, Inc.');
    expect(mustFindMac(devices, '00:23:89:ce:44:13').ipv4).toContain('10.1.1.1');
    // Outside: the switch that sends the ERSPAN session, and the LLDP neighbours seen directly.
    mustFindMac(devices, '00:23:89:af:cd:0e');
    expect(mustFindMac(devices, '00:23:89:af:d2:78').hostname?.value).toBe('Device C');
  });
});

// No capture in the shared corpus carries ERSPAN II/III, VXLAN, Geneve or
// bridged Ethernet over GRE, so a real capture is wrapped in each, built from
// its specification, and tshark confirms it reads the same frames inside.
const MIRROR_MAC = Buffer.from('001b21a0b0c1', 'hex');
const COLLECTOR_MAC = Buffer.from('001b21a0b0c2', 'hex');

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function outerFrame(protocol: number, transport: Buffer): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + transport.length, 2);
  ip[8] = 64;
  ip[9] = protocol;
  Buffer.from([10, 99, 0, 1, 10, 99, 0, 2]).copy(ip, 12);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([COLLECTOR_MAC, MIRROR_MAC, Buffer.from([0x08, 0x00]), ip, transport]);
}

function udp(dstPort: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(49152, 0);
  h.writeUInt16BE(dstPort, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]); // checksum 0: none (RFC 768)
}

/** GRE (RFC 2784/2890) with checksum, key and sequence number when asked. */
function gre(
  protocol: number,
  payload: Buffer,
  o: { checksum?: boolean; key?: number; seq?: number } = {},
): Buffer {
  const parts = [
    Buffer.from([
      (o.checksum ? 0x80 : 0) | (o.key !== undefined ? 0x20 : 0) | (o.seq !== undefined ? 0x10 : 0),
      0,
      protocol >> 8,
      protocol & 0xff,
    ]),
  ];
  if (o.checksum) parts.push(Buffer.alloc(4));
  if (o.key !== undefined)
    parts.push(Buffer.from([o.key >>> 24, (o.key >>> 16) & 0xff, (o.key >>> 8) & 0xff, o.key & 0xff]));
  if (o.seq !== undefined) {
    const s = Buffer.alloc(4);
    s.writeUInt32BE(o.seq);
    parts.push(s);
  }
  const out = Buffer.concat([...parts, payload]);
  if (o.checksum) out.writeUInt16BE(checksum(out), 4);
  return out;
}

/** Each encapsulation: how tshark names the layer before the inner "eth", and how a frame is wrapped in it. */
const ENCAPSULATIONS: { name: string; tshark: string; wrap: (frame: Buffer, i: number) => Buffer }[] = [
  {
    name: 'bridged Ethernet over GRE with checksum, key and sequence number',
    tshark: 'gre',
    wrap: (f, i) => outerFrame(47, gre(0x6558, f, { checksum: true, key: 7, seq: i })),
  },
  {
    name: 'ERSPAN type II',
    tshark: 'erspan',
    // version 1, VLAN 0, session 42, index 0
    wrap: (f, i) =>
      outerFrame(
        47,
        gre(0x88be, Buffer.concat([Buffer.from([0x10, 0x00, 0x00, 42, 0, 0, 0, 0]), f]), { seq: i }),
      ),
  },
  {
    name: 'ERSPAN type III with its platform sub-header',
    tshark: 'erspan',
    // version 2, session 42, timestamp, SGT 0, frame type 0 (Ethernet), hardware id 1, O = 1; then 8 bytes of sub-header
    wrap: (f, i) =>
      outerFrame(
        47,
        gre(
          0x22eb,
          Buffer.concat([
            Buffer.from([0x20, 0x00, 0x00, 42, 0, 0, 0x10, 0, 0, 0, 0x00, 0x11]),
            Buffer.alloc(8),
            f,
          ]),
          { seq: i },
        ),
      ),
  },
  {
    name: 'VXLAN',
    tshark: 'vxlan',
    wrap: (f) =>
      outerFrame(17, udp(4789, Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0x10, 0x01, 0]), f]))),
  },
  {
    name: 'Geneve with an option',
    tshark: 'geneve',
    // version 0, 1 word of options, protocol 0x6558, VNI 0x1001; option class 0x0102 type 0x80 length 0
    wrap: (f) =>
      outerFrame(
        17,
        udp(
          6081,
          Buffer.concat([Buffer.from([0x01, 0x00, 0x65, 0x58, 0, 0x10, 0x01, 0, 0x01, 0x02, 0x80, 0x00]), f]),
        ),
      ),
  },
];

function tsharkAvailable(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const TSHARK = tsharkAvailable();
if (!TSHARK)
  console.warn(
    'tshark is not installed (apt-get install tshark): tunnel frames are not cross-checked against it',
  );

function writePcap(path: string, packets: CapturedPacket[]): void {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  const parts: Buffer[] = [header];
  for (const p of packets) {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(p.seconds, 0);
    r.writeUInt32LE(Math.floor(p.nanos / 1000), 4);
    r.writeUInt32LE(p.data.length, 8);
    r.writeUInt32LE(p.data.length, 12);
    parts.push(r, p.data);
  }
  writeFileSync(path, Buffer.concat(parts));
}

describe.skipIf(MISSING)('a real capture carried in each mirroring tunnel', () => {
  // NetBIOS and SMB hosts (some 802.1Q-tagged), and a PROFINET cell (DCP and LLDP: link-layer protocols).
  const SOURCES = ['ndpi__netbios.pcap', 'cisagov-icsnpp-profinet-io-cm__profinet_io_cm.pcap'];
  const load = async (source: string) => {
    const packets: CapturedPacket[] = [];
    for await (const p of readCapture(pcap(source))) packets.push({ ...p, data: Buffer.from(p.data) });
    return packets;
  };
  const inventory = (packets: CapturedPacket[]) => {
    const pipeline = new Pipeline();
    for (const p of packets) pipeline.process(p);
    return { devices: pipeline.store.toRecords(), stats: pipeline.stats };
  };

  it.each(ENCAPSULATIONS)(
    '$name: the same devices as captured in place, plus the mirror',
    async ({ tshark, wrap }) => {
      let devices = 0;
      for (const source of SOURCES) {
        const plain = await load(source);
        const wrapped = plain.map((p, i) => ({ ...p, data: wrap(p.data, i) }));
        const direct = inventory(plain);
        const mirrored = inventory(wrapped);
        expect(mirrored.stats.decapsulated, source).toBe(plain.length);
        expect(mirrored.stats.malformed, source).toBe(direct.stats.malformed);
        expect(mirrored.stats.decoded, source).toEqual(direct.stats.decoded);
        for (const d of direct.devices)
          expect(
            mirrored.devices.find((m) => m.id === d.id),
            source,
          ).toEqual(d);
        const extra = mirrored.devices.filter((m) => !direct.devices.some((d) => d.id === m.id));
        expect(
          extra.map((d) => d.macs),
          source,
        ).toEqual([['00:1b:21:a0:b0:c1']]);
        devices += direct.devices.length;

        if (!TSHARK) continue;
        // Wireshark reads the same frame inside every one: the encapsulation is the specification's, not ours.
        const file = join(tmp, `${tshark}-${source}`);
        writePcap(file, wrapped);
        const layers = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.protocols'], {
          encoding: 'utf8',
          maxBuffer: 64 * 1024 * 1024,
        })
          .trim()
          .split('\n');
        expect(layers, source).toHaveLength(plain.length);
        for (const l of layers) expect(l, source).toMatch(new RegExp(`:${tshark}:eth:`));
      }
      expect(devices).toBeGreaterThan(40);
    },
  );

  it('a tunnel inside a tunnel is read up to the depth limit, and damaged tunnels are malformed, never thrown', async () => {
    const [first] = await load(SOURCES[0]!);
    const vxlan = ENCAPSULATIONS.find((e) => e.tshark === 'vxlan')!.wrap;
    let frame = first!.data;
    for (let i = 0; i < MAX_TUNNEL_DEPTH + 2; i++) frame = vxlan(frame, i);
    const nested = inventory([{ ...first!, data: frame }]);
    expect(nested.stats.decapsulated).toBe(MAX_TUNNEL_DEPTH);
    // Every wrapped frame cut short at every length: counted, never thrown.
    const pipeline = new Pipeline();
    for (const e of ENCAPSULATIONS) {
      const whole = e.wrap(first!.data, 1);
      for (let n = 34; n < whole.length; n++)
        expect(() => pipeline.process({ ...first!, data: whole.subarray(0, n) })).not.toThrow();
    }
    expect(pipeline.stats.malformed).toBeGreaterThan(0);
  });
});
