// Link layers beyond Ethernet (src/packet/wan.ts, src/packet/wifi.ts): PPPoE
// and MPLS inside Ethernet, 802.11 monitor-mode captures with and without
// radiotap, and the point-to-point link types. The shared corpus has none of
// them, so a real capture's frames are carried in each, built from the
// specification (test/reframe.ts), and tshark reads every file back.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../src/capture/index.js';
import { LinkType } from '../src/capture/index.js';
import {
  ethernetParts,
  inventoryOf,
  loadPackets,
  tsharkAvailable,
  tsharkLayers,
  writePcap,
} from './reframe.js';
import { MISSING, pcap } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-links-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const TSHARK = tsharkAvailable();
// A camera's setup (DHCP, ARP, DNS, mDNS, SSDP, HTTP) and a SOHO LAN with a SIP phone (ARP, DHCP, NBNS, SIP): no VLAN tags.
const SOURCES = ['iotsentinel__D-LinkCam__Setup-A-1-STA.pcap', 'suricata-verify__sip-method__sip.pcap'];
const IPV4 = 0x0800;
const IPV6 = 0x86dd;

const isIp = (etherType: number) => etherType === IPV4 || etherType === IPV6;

function pppoeSession(etherType: number, packet: Buffer): Buffer {
  const h = Buffer.from([0x11, 0x00, 0x12, 0x34, 0, 0, 0, etherType === IPV4 ? 0x21 : 0x57]);
  h.writeUInt16BE(packet.length + 2, 4); // PPPoE length counts the PPP protocol field
  return Buffer.concat([h, packet]);
}

function mplsStack(labels: number[], packet: Buffer): Buffer {
  const entries = labels.map((label, i) => {
    const e = Buffer.alloc(4);
    e.writeUInt32BE(((label << 12) | (i === labels.length - 1 ? 0x100 : 0) | 64) >>> 0);
    return e;
  });
  return Buffer.concat([...entries, packet]);
}

/** An 802.11 data frame with the Ethernet frame's addresses, as an AP relays it to a station (From DS), QoS when asked. */
function wifiData(frame: Buffer, qos: boolean): Buffer {
  const { dst, src, etherType, payload } = ethernetParts(frame);
  const bssid = Buffer.from('02aabbccddee', 'hex');
  const header = Buffer.concat([
    Buffer.from([qos ? 0x88 : 0x08, 0x02, 0, 0]), // data (QoS data), From DS
    dst, // addr1: receiver = destination
    bssid, // addr2: transmitter = the AP
    src, // addr3: source
    Buffer.from([0x10, 0x00]), // sequence control
    qos ? Buffer.from([0x00, 0x00]) : Buffer.alloc(0),
  ]);
  const snap = Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0, etherType >> 8, etherType & 0xff]);
  return Buffer.concat([header, snap, payload]);
}

/** The same as an A-MSDU of one subframe (IEEE 802.11-2020 §9.3.2.2): QoS control bit 7, then DA, SA, length, MSDU. */
function wifiAmsdu(frame: Buffer): Buffer {
  const { dst, src, etherType, payload } = ethernetParts(frame);
  const bssid = Buffer.from('02aabbccddee', 'hex');
  const msdu = Buffer.concat([
    Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0, etherType >> 8, etherType & 0xff]),
    payload,
  ]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(msdu.length);
  return Buffer.concat([
    Buffer.from([0x88, 0x01, 0, 0]), // QoS data, To DS
    bssid, // addr1: the AP
    src, // addr2: the station
    bssid, // addr3: the BSSID, as A-MSDU frames carry (the subframe holds the real DA)
    Buffer.from([0x20, 0x00]),
    Buffer.from([0x80, 0x00]), // QoS control: A-MSDU present
    dst,
    src,
    length,
    msdu,
  ]);
}

/** Radiotap (TSFT, flags with "FCS at end", rate) before an 802.11 frame, and the FCS after it. */
function radiotap(frame80211: Buffer): Buffer {
  const h = Buffer.alloc(8 + 8 + 1 + 1); // header, TSFT (aligned at 8), flags, rate
  h[0] = 0;
  h.writeUInt16LE(h.length, 2);
  h.writeUInt32LE(0x00000007, 4); // TSFT, flags, rate
  h.writeBigUInt64LE(1234567n, 8);
  h[16] = 0x10; // FCS at end
  h[17] = 0x0c; // 6 Mb/s
  const fcs = Buffer.alloc(4);
  fcs.writeUInt32LE(crc32(frame80211));
  return Buffer.concat([h, frame80211, fcs]);
}

describe.skipIf(MISSING)("PPPoE, MPLS and 802.11 keep the senders' MACs", () => {
  const CASES: {
    name: string;
    tshark: string;
    linkType: number;
    convert: (frame: Buffer, i: number) => Buffer;
  }[] = [
    {
      name: 'IP in PPPoE sessions (RFC 2516)',
      tshark: 'pppoes:ppp:ip',
      linkType: LinkType.ETHERNET,
      convert: (f) => {
        const { dst, src, etherType, payload } = ethernetParts(f);
        return isIp(etherType)
          ? Buffer.concat([dst, src, Buffer.from([0x88, 0x64]), pppoeSession(etherType, payload)])
          : f;
      },
    },
    {
      name: 'IP under a two-label MPLS stack (RFC 3032)',
      tshark: 'mpls:ip',
      linkType: LinkType.ETHERNET,
      convert: (f) => {
        const { dst, src, etherType, payload } = ethernetParts(f);
        return isIp(etherType)
          ? Buffer.concat([dst, src, Buffer.from([0x88, 0x47]), mplsStack([16, 1000], payload)])
          : f;
      },
    },
    {
      name: '802.11 data frames (QoS and not) behind radiotap with an FCS',
      tshark: 'wlan:llc',
      linkType: LinkType.IEEE802_11_RADIOTAP,
      convert: (f, i) => radiotap(wifiData(f, i % 2 === 0)),
    },
    {
      name: '802.11 A-MSDUs from stations, behind radiotap',
      tshark: 'wlan:llc',
      linkType: LinkType.IEEE802_11_RADIOTAP,
      convert: (f) => radiotap(wifiAmsdu(f)),
    },
    {
      name: 'bare 802.11 data frames',
      tshark: 'wlan:llc',
      linkType: LinkType.IEEE802_11,
      convert: (f, i) => wifiData(f, i % 2 === 1),
    },
  ];

  it.each(CASES)('$name: the same devices as on Ethernet', async ({ tshark, linkType, convert }) => {
    for (const source of SOURCES) {
      const plain = await loadPackets(source);
      const converted = plain.map((p, i) => ({ ...p, linkType, data: convert(p.data, i) }));
      const direct = inventoryOf(plain);
      const carried = inventoryOf(converted);
      expect(carried.stats.malformed, source).toBe(direct.stats.malformed);
      expect(carried.stats.decoded, source).toEqual(direct.stats.decoded);
      const byId = (list: typeof direct.devices) => new Map(list.map((d) => [d.id, d]));
      const access = linkType === LinkType.ETHERNET ? [] : ['02:aa:bb:cc:dd:ee'];
      // The AP's BSSID is a transmitter, never the source of a relayed frame: it is no device here.
      expect([...byId(carried.devices).keys()].sort(), source).toEqual(
        [...byId(direct.devices).keys()].sort(),
      );
      for (const d of direct.devices) expect(byId(carried.devices).get(d.id), source).toEqual(d);
      expect(carried.devices.some((d) => d.macs.some((m) => access.includes(m)))).toBe(false);
      if (!TSHARK) continue;
      const file = join(tmp, `${linkType}-${source}`);
      writePcap(file, converted, linkType);
      // Frame by frame, tshark finds the link encapsulation and below it the same protocols as in the original.
      const layers = tsharkLayers(file);
      const original = tsharkLayers(pcap(source)).map((l) =>
        l.slice(l.indexOf('ethertype:') + 'ethertype:'.length),
      );
      expect(layers).toHaveLength(plain.length);
      layers.forEach((l, i) => {
        const carried = linkType !== LinkType.ETHERNET || isIp(ethernetParts(plain[i]!.data).etherType);
        if (carried) expect(l, `${source} frame ${i + 1}`).toContain(tshark);
        expect(l.endsWith(`:${original[i]}`), `${source} frame ${i + 1}: ${l} vs ${original[i]}`).toBe(true);
      });
    }
  });
});

describe.skipIf(MISSING)('point-to-point link types carry IP without MACs', () => {
  const PPP_IPV4 = Buffer.from([0x00, 0x21]);
  const CASES: { name: string; tshark: string; linkType: number; frame: (ip: Buffer) => Buffer }[] = [
    {
      name: 'PPP in HDLC-like framing (LINKTYPE_PPP)',
      tshark: 'ppp:ip',
      linkType: LinkType.PPP,
      frame: (ip) => Buffer.concat([Buffer.from([0xff, 0x03]), PPP_IPV4, ip]),
    },
    {
      name: 'PPP without framing, protocol field compressed (LINKTYPE_PPP)',
      tshark: 'ppp:ip',
      linkType: LinkType.PPP,
      frame: (ip) => Buffer.concat([Buffer.from([0x21]), ip]),
    },
    {
      name: 'Cisco PPP with HDLC framing (LINKTYPE_PPP_HDLC)',
      tshark: 'ip',
      linkType: LinkType.PPP_HDLC,
      frame: (ip) => Buffer.concat([Buffer.from([0x0f, 0x00, 0x08, 0x00]), ip]),
    },
    {
      name: 'Cisco HDLC (LINKTYPE_C_HDLC)',
      tshark: 'chdlc:ip',
      linkType: LinkType.C_HDLC,
      frame: (ip) => Buffer.concat([Buffer.from([0x0f, 0x00, 0x08, 0x00]), ip]),
    },
    {
      name: 'PPPoE without Ethernet (LINKTYPE_PPP_ETHER)',
      tshark: 'pppoes:ppp:ip',
      linkType: LinkType.PPP_ETHER,
      frame: (ip) => pppoeSession(IPV4, ip),
    },
  ];

  it.each(CASES)('$name: the decoders get the same packets', async ({ tshark, linkType, frame }) => {
    const source = (await loadPackets(SOURCES[0]!)).filter((p) => ethernetParts(p.data).etherType === IPV4);
    const direct = inventoryOf(source);
    const converted: CapturedPacket[] = source.map((p) => ({
      ...p,
      linkType,
      data: frame(ethernetParts(p.data).payload),
    }));
    const carried = inventoryOf(converted);
    expect(carried.stats.malformed).toBe(direct.stats.malformed);
    expect(carried.stats.unsupportedLink).toBe(0);
    expect(carried.stats.decoded).toEqual(direct.stats.decoded);
    expect(Object.values(direct.stats.decoded).reduce((a, n) => a + n, 0)).toBeGreaterThan(100);
    if (!TSHARK) return;
    const file = join(tmp, `p2p-${linkType}-${tshark.replace(/:/g, '-')}.pcap`);
    writePcap(file, converted, linkType);
    for (const l of tsharkLayers(file)) expect(l).toContain(tshark);
  });

  it("Linux NFLOG (LINKTYPE_NFLOG): the same devices, the sender's MAC from NFULA_HWADDR", async () => {
    const source = (await loadPackets(SOURCES[0]!)).filter((p) => ethernetParts(p.data).etherType === IPV4);
    const tlv = (type: number, value: Buffer) => {
      const h = Buffer.alloc(4);
      h.writeUInt16LE(4 + value.length, 0); // host byte order: written on a little-endian host
      h.writeUInt16LE(type, 2);
      return Buffer.concat([h, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
    };
    const converted: CapturedPacket[] = source.map((p) => {
      const { src, payload } = ethernetParts(p.data);
      const hw = Buffer.concat([Buffer.from([0, 6, 0, 0]), src, Buffer.alloc(2)]);
      return {
        ...p,
        linkType: LinkType.NFLOG,
        data: Buffer.concat([
          Buffer.from([2, 0, 0, 1]), // AF_INET, version 0, resource id 1
          tlv(1, Buffer.from([0x08, 0x00, 1, 0])), // NFULA_PACKET_HDR: hw protocol, hook
          tlv(10, Buffer.from('hark\0')), // NFULA_PREFIX
          tlv(8, hw), // NFULA_HWADDR
          tlv(9, payload), // NFULA_PAYLOAD
        ]),
      };
    });
    const direct = inventoryOf(source);
    const carried = inventoryOf(converted);
    expect(carried.stats.malformed).toBe(direct.stats.malformed);
    expect(carried.stats.decoded).toEqual(direct.stats.decoded);
    expect(carried.devices).toEqual(direct.devices);
    if (!TSHARK) return;
    const file = join(tmp, 'nflog.pcap');
    writePcap(file, converted, LinkType.NFLOG);
    for (const l of tsharkLayers(file)) expect(l).toMatch(/^nflog:ip/);
  });

  it('damaged frames of every one of these link types are malformed, never thrown', async () => {
    const [first] = (await loadPackets(SOURCES[0]!)).filter((p) => ethernetParts(p.data).etherType === IPV4);
    const ip = ethernetParts(first!.data).payload;
    const wholes: [number, Buffer][] = [
      ...CASES.map((c): [number, Buffer] => [c.linkType, c.frame(ip)]),
      [LinkType.IEEE802_11_RADIOTAP, radiotap(wifiData(first!.data, true))],
      [LinkType.IEEE802_11, wifiData(first!.data, false)],
      [LinkType.IEEE802_11, wifiAmsdu(first!.data)],
    ];
    const { Pipeline } = await import('../src/pipeline.js');
    const pipeline = new Pipeline();
    for (const [linkType, whole] of wholes)
      for (let n = 0; n < whole.length; n++)
        expect(() => pipeline.process({ ...first!, linkType, data: whole.subarray(0, n) })).not.toThrow();
    expect(pipeline.stats.malformed).toBeGreaterThan(0);
  });
});
