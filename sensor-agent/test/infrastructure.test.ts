// Network gear that announces itself without LLDP or CDP: spanning tree
// BPDUs come only from bridges (src/decoders/stp.ts), routing and
// first-hop redundancy protocols only from routers (src/decoders/routing.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checksum } from '../src/simulate/encoders.js';
import { inventoryOf, packetOf, tsharkAvailable, tsharkLayers, writePcap } from './reframe.js';
import { MISSING, mustFindMac, run } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-infra-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(MISSING)('on the real captures', () => {
  it('RSTP BPDUs make their sender a switch, with its bridge address (zeek__wikipedia.pcap)', async () => {
    // tshark: 4 RST BPDUs from 00:13:7f:4f:8e:f2, bridge identifier 00:13:7f:be:8c:c0, port 0x8193.
    const { devices } = await run('zeek__wikipedia.pcap');
    const d = mustFindMac(devices, '00:13:7f:4f:8e:f2');
    expect([d.category?.value, d.type?.value]).toEqual(['network', 'switch']);
    expect(d.macs).toContain('00:13:7f:be:8c:c0');
    expect(d.protocols).toContain('stp');
  });

  it('OSPF hellos make their senders routers, inside the ERSPAN tunnel too (tcpdump__erspan-type-i-4.pcap)', async () => {
    // tshark: OSPF hellos from 00:23:89:af:cd:0e (30.1.1.1), 00:23:89:af:d2:61 (40.1.1.1), and inside ERSPAN from
    // 00:23:89:ce:44:13 (10.1.1.1).
    const { devices } = await run('tcpdump__erspan-type-i-4.pcap');
    for (const mac of ['00:23:89:af:cd:0e', '00:23:89:af:d2:61', '00:23:89:ce:44:13']) {
      const d = mustFindMac(devices, mac);
      expect([d.category?.value, d.type?.value], mac).toEqual(['network', 'router']);
      expect(d.type?.evidence.map((e) => e.field)).toContain('role.routing:router');
      expect(d.protocols).toContain('ospf');
    }
  });
});

// The corpus has no VRRP, HSRP or RIP: packets built from their RFCs, which tshark must read as such.
const ROUTER_MAC = Buffer.from('00000c9f0001', 'hex');

function ipv4Frame(
  dstMac: string,
  src: string,
  dst: string,
  ttl: number,
  protocol: number,
  payload: Buffer,
): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + payload.length, 2);
  ip[8] = ttl;
  ip[9] = protocol;
  Buffer.from(src.split('.').map(Number)).copy(ip, 12);
  Buffer.from(dst.split('.').map(Number)).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([Buffer.from(dstMac, 'hex'), ROUTER_MAC, Buffer.from([0x08, 0x00]), ip, payload]);
}

function udp(port: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(port, 0);
  h.writeUInt16BE(port, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

const PACKETS: { name: string; tshark: string; field: string; frame: Buffer }[] = [
  {
    // RFC 3768 §5.1: version 2, type 1, VRID 1, priority 100, 1 address, no auth, interval 1 s, checksum, 10.0.0.1
    name: 'VRRPv2 advertisement',
    tshark: 'vrrp',
    field: 'vrrp.advertisement',
    frame: (() => {
      const v = Buffer.from([0x21, 1, 100, 1, 0, 1, 0, 0, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
      v.writeUInt16BE(checksum(v), 6);
      return ipv4Frame('01005e000012', '10.0.0.2', '224.0.0.18', 255, 112, v);
    })(),
  },
  {
    // RFC 2281 §5: version 0, hello, state active (16), hello 3 s, hold 10 s, priority 110, group 1, "cisco", 10.0.0.1
    name: 'HSRPv1 hello',
    tshark: 'hsrp',
    field: 'hsrp.message',
    frame: ipv4Frame(
      '01005e000002',
      '10.0.0.2',
      '224.0.0.2',
      1,
      17,
      udp(
        1985,
        Buffer.concat([
          Buffer.from([0, 0, 16, 3, 10, 110, 1, 0]),
          Buffer.from('cisco\0\0\0'),
          Buffer.from([10, 0, 0, 1]),
        ]),
      ),
    ),
  },
  {
    // RFC 2453 §4: response, version 2, one route entry (AFI 2, tag 0, 192.168.5.0/24, next hop 0, metric 1)
    name: 'RIPv2 response',
    tshark: 'rip',
    field: 'rip.response',
    frame: ipv4Frame(
      '01005e000009',
      '10.0.0.2',
      '224.0.0.9',
      1,
      17,
      udp(
        520,
        Buffer.from([2, 2, 0, 0, 0, 2, 0, 0, 192, 168, 5, 0, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
      ),
    ),
  },
];

describe('first-hop redundancy and RIP, built from their RFCs', () => {
  it.each(PACKETS)('$name: its sender is a router', ({ tshark, field, frame }) => {
    const packet = packetOf(frame);
    const { devices, stats } = inventoryOf([packet]);
    expect(stats.decodeErrors.routing).toBe(0);
    const d = mustFindMac(devices, '00:00:0c:9f:00:01');
    expect([d.category?.value, d.type?.value]).toEqual(['network', 'router']);
    expect(d.type?.evidence[0]?.field).toBe('role.routing:router');
    expect(d.protocols).toEqual([field.slice(0, field.indexOf('.'))]);
    if (!tsharkAvailable()) return;
    const file = join(tmp, `${tshark}.pcap`);
    writePcap(file, [packet]);
    expect(tsharkLayers(file)[0]).toMatch(new RegExp(`:${tshark}$`));
  });
});
