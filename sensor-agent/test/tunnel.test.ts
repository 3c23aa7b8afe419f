// Mirrored traffic (src/packet/tunnel.ts): the devices inside ERSPAN, GRE,
// VXLAN and Geneve are found as if the frames had been captured where they
// were sent, and the tunnel's sender stays a device of its own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_TUNNEL_DEPTH } from '../src/packet/index.js';
import { buildInventory, Pipeline } from '../src/pipeline.js';
import {
  ethernetParts,
  gre,
  inventoryOf,
  ipv4,
  loadPackets,
  outerFrame,
  tsharkAvailable,
  tsharkLayers,
  udp,
  writePcap,
} from './reframe.js';
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

// No capture in the shared corpus carries ERSPAN II/III, VXLAN, Geneve, TZSP
// or bridged Ethernet over GRE, so a real capture is wrapped in each, built
// from its specification, and tshark confirms it reads the same frames inside.
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
  {
    name: 'TZSP (MikroTik sniffer stream) with a tagged field',
    tshark: 'tzsp',
    // version 1, type 0 (received), encapsulation 1 (Ethernet); tag 10 (RX channel) of 1 byte, padding, END
    wrap: (f) => outerFrame(17, udp(37008, Buffer.concat([Buffer.from([1, 0, 0, 1, 10, 1, 6, 0, 1]), f]))),
  },
];

const TSHARK = tsharkAvailable();

describe.skipIf(MISSING)('a real capture carried in each mirroring tunnel', () => {
  // NetBIOS and SMB hosts (some 802.1Q-tagged), and a PROFINET cell (DCP and LLDP: link-layer protocols).
  const SOURCES = ['ndpi__netbios.pcap', 'cisagov-icsnpp-profinet-io-cm__profinet_io_cm.pcap'];
  const load = loadPackets;
  const inventory = inventoryOf;

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
        const layers = tsharkLayers(file);
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

// IP carried without its link layer: the hosts inside are known by their
// addresses alone, so what is compared is what the decoders were given.
const IP_TUNNELS: { name: string; tshark: string; wrap: (packet: Buffer, i: number) => Buffer }[] = [
  { name: 'IPv4 in IPv4 (RFC 2003)', tshark: 'ip:ip', wrap: (p) => outerFrame(4, p) },
  { name: 'IP in GRE', tshark: 'gre:ip', wrap: (p) => outerFrame(47, gre(0x0800, p)) },
  {
    name: 'GTPv1-U with a sequence number and a PDU session extension header',
    tshark: 'gtp:ip',
    // flags: version 1, GTP, E and S; G-PDU; length; TEID; sequence, N-PDU, next = 0x85 (PDU session container);
    // the container: 1 word (length 1, 2 bytes of content, next = 0)
    wrap: (p, i) => {
      const h = Buffer.from([0x36, 0xff, 0, 0, 0, 0, 0, 7, i >> 8, i & 0xff, 0, 0x85, 1, 0x10, 0x09, 0]);
      h.writeUInt16BE(h.length - 8 + p.length, 2);
      return outerFrame(17, udp(2152, Buffer.concat([h, p])));
    },
  },
];

describe.skipIf(MISSING)("a real capture's IPv4 packets carried in IP tunnels", () => {
  const SOURCE = 'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap'; // DHCP, DNS, mDNS, SSDP, HTTP from a camera

  it.each(IP_TUNNELS)('$name: the decoders get the same packets', async ({ tshark, wrap }) => {
    const ip4 = (await loadPackets(SOURCE)).filter((p) => ethernetParts(p.data).etherType === 0x0800);
    const direct = inventoryOf(ip4);
    const tunnelled = ip4.map((p, i) => ({ ...p, data: wrap(ethernetParts(p.data).payload, i) }));
    const carried = inventoryOf(tunnelled);
    expect(carried.stats.decapsulated).toBe(ip4.length);
    expect(carried.stats.malformed).toBe(direct.stats.malformed);
    expect(carried.stats.decoded).toEqual(direct.stats.decoded);
    expect(Object.values(direct.stats.decoded).reduce((a, n) => a + n, 0)).toBeGreaterThan(100);
    // The hosts inside are there by address (no MAC crossed the tunnel).
    const inside = carried.devices.flatMap((d) => d.ipv4);
    expect(inside).toContain('192.168.0.20');
    if (!TSHARK) return;
    const file = join(tmp, `ip-${tshark.replace(':', '-')}.pcap`);
    writePcap(file, tunnelled);
    for (const l of tsharkLayers(file)) expect(l).toContain(`:${tshark}`);
  });

  it('IPv4 inside IPv4 inside IPv4 is read down to the packet', async () => {
    const [first] = (await loadPackets(SOURCE)).filter((p) => ethernetParts(p.data).etherType === 0x0800);
    const twice = outerFrame(4, ipv4(4, ethernetParts(first!.data).payload));
    expect(inventoryOf([{ ...first!, data: twice }]).stats.decapsulated).toBe(2);
  });
});
