import { describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/index.js';
import { readMac } from '../src/packet/addresses.js';
import {
  EtherType,
  formatIp4,
  formatIp6,
  formatMac,
  PacketView,
  ParseResult,
  parseMac,
  parsePacket,
} from '../src/packet/index.js';
import { MISSING, pcap } from './support.js';

async function parsed(file: string): Promise<{ view: PacketView; result: ParseResult }[]> {
  const out: { view: PacketView; result: ParseResult }[] = [];
  for await (const p of readCapture(pcap(file))) {
    const view = new PacketView();
    view.reset(p.data, p.linkType, p.interfaceId, p.timestampMs);
    out.push({ view, result: parsePacket(view) });
  }
  return out;
}

describe('address formatting', () => {
  it('formats and parses MACs and IPs', () => {
    expect(formatMac(parseMac('00:1B:1b:23:EB:3b'))).toBe('00:1b:1b:23:eb:3b');
    expect(formatIp4(0xc0a80101)).toBe('192.168.1.1');
    const v6 = Buffer.from('fe80000000000000020c29fffe000001', 'hex');
    expect(formatIp6(v6, 0)).toBe('fe80::20c:29ff:fe00:1');
    expect(formatIp6(Buffer.alloc(16), 0)).toBe('::');
  });

  it('reads a MAC as the 48-bit integer Buffer reads, at any offset', () => {
    const b = Buffer.from('00ffffffffffff0000000000018000000000007f123456789abc', 'hex');
    for (let offset = 0; offset + 6 <= b.length; offset++)
      expect(readMac(b, offset)).toBe(b.readUIntBE(offset, 6));
    expect(formatMac(readMac(b, 1))).toBe('ff:ff:ff:ff:ff:ff');
  });
});

describe.skipIf(MISSING)('link and network layers on real frames', () => {
  it('802.1Q: the PROFINET DCP frames carry VLAN 0 (priority tag) and EtherType 0x8892', async () => {
    const frames = await parsed('iti__profinet-wireshark-bug.pcap');
    expect(frames).toHaveLength(4);
    for (const { view, result } of frames) {
      expect(result).toBe(ParseResult.OK);
      expect(view.vlan).toBe(0);
      expect(view.etherType).toBe(EtherType.PROFINET);
    }
    expect(formatMac(frames[1]!.view.srcMac)).toBe('00:02:e3:17:c7:50');
  });

  it('802.1Q: the tagged NetBIOS frame (VLAN 2308) still parses to IPv4 from 10.19.71.184', async () => {
    const tagged = (await parsed('ndpi__netbios.pcap')).filter((f) => f.view.vlan >= 0);
    expect(tagged).toHaveLength(1);
    expect(tagged[0]!.view.vlan).toBe(2308);
    expect(formatIp4(tagged[0]!.view.srcIp4)).toBe('10.19.71.184');
  });

  it('Linux SLL v2: ICMP, ICMPv6, ARP and RARP frames parse, sender from the SLL address', async () => {
    // tshark: frames 1-2 IPv4 ICMP, 3-4 ICMPv6, 5 ARP, 6 RARP (0x8035) from 8e:36:06:44:ac:af
    const frames = await parsed('zeek__linux_dlt_sll2.pcap');
    expect(frames.every((f) => f.result === ParseResult.OK)).toBe(true);
    expect(frames.map((f) => f.view.etherType)).toEqual([
      0x0800,
      0x0800,
      0x86dd,
      0x86dd,
      EtherType.ARP,
      0x8035,
    ]);
    expect(formatMac(frames[4]!.view.srcMac)).toBe('8e:36:06:44:ac:af');
    expect(
      frames.filter((f) => f.view.ipVersion === 6).map((f) => formatIp6(f.view.data, f.view.srcIp6Offset)),
    ).toEqual(['fe80::8c36:6ff:fe44:acaf', 'fe80::8c36:6ff:fe44:acaf']);
  });

  it('Linux SLL v1 (pcapng): the RTSP session is TCP to port 8554', async () => {
    const frames = await parsed('ndpi__rtsp.pcap');
    expect(frames.every((f) => f.result === ParseResult.OK)).toBe(true);
    expect(
      frames.some((f) => f.view.ipProto === 6 && (f.view.dstPort === 8554 || f.view.srcPort === 8554)),
    ).toBe(true);
  });

  it('IPv6 extension headers: MLD reports (hop-by-hop) resolve to ICMPv6', async () => {
    const v6 = (await parsed('zeek__mdns.pcap')).filter((f) => f.view.ipVersion === 6);
    expect(v6.length).toBeGreaterThan(0);
    for (const f of v6) expect([17, 58]).toContain(f.view.ipProto);
    expect(v6.some((f) => f.view.ipProto === 58)).toBe(true);
  });

  it('UDP payload bounds exclude Ethernet padding (IPv4 total length wins)', async () => {
    for (const { view } of await parsed('arkime__wireshark-dhcp.pcap')) {
      expect(view.payloadEnd).toBeLessThanOrEqual(view.data.length);
      expect(view.payloadEnd - view.payloadOffset).toBe(view.data.readUInt16BE(view.payloadOffset - 4) - 8);
    }
  });

  it('never throws on any prefix of real frames, whatever the link type', async () => {
    const frames = await parsed('iotsentinel__D-LinkCam__Setup-A-1-STA.pcap');
    const view = new PacketView();
    let malformed = 0;
    for (const { view: original } of frames.slice(0, 60)) {
      for (let len = 0; len <= original.data.length; len += 3) {
        for (const linkType of [0, 1, 101, 113, 276, 228, 229]) {
          view.reset(original.data.subarray(0, len), linkType, 0, 0);
          if (parsePacket(view) === ParseResult.MALFORMED) malformed++;
          expect(view.payloadEnd).toBeLessThanOrEqual(len);
        }
      }
    }
    expect(malformed).toBeGreaterThan(0);
  });
});
