// IT identity decoders (HTTP, TLS/JA4, DNS, LLMNR, SIP, WS-Discovery, SNMP)
// on real captures, asserting what MANIFEST.md / tshark state per device.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/index.js';
import { type ClientHello, ja4, ja4Remembered, parseClientHello } from '../src/decoders/index.js';
import { snmpDecoder } from '../src/decoders/snmp.js';
import type { Observation } from '../src/decoders/types.js';
import { parsePacket } from '../src/packet/parse.js';
import { PacketView } from '../src/packet/view.js';
import { byId, MISSING, mustFindMac, pcap, run } from './support.js';

const exec = promisify(execFile);
const tshark = await exec('tshark', ['--version']).then(
  () => true,
  () => false,
);

describe.skipIf(MISSING)('HTTP User-Agent and Server', () => {
  it('zeek__wikipedia: the Ubuntu 10.04 Firefox workstation 141.142.220.118', async () => {
    const { devices, hints } = await run('zeek__wikipedia.pcap');
    const host = mustFindMac(devices, '00:24:7e:e0:1d:b5');
    expect(hints(host.id, 'userAgent')).toContain(
      'Mozilla/5.0 (X11; U; Linux x86_64; en-US; rv:1.9.2.15) Gecko/20110303 Ubuntu/10.04 (lucid) Firefox/3.6.15',
    );
    expect(host.os?.value).toBe('Linux (Ubuntu 10.04)');
    expect(host.os?.evidence[0]).toMatchObject({ protocol: 'http', field: 'request.user_agent' });
    // Remote web servers (public, behind the router) are not inventoried from their Server header.
    expect(devices.every((d) => d.id.startsWith('mac:'))).toBe(true);
  });

  it('iotsentinel D-LinkSwitch: Wget/1.13 (linux-uclibc) from the DSP-W215', async () => {
    const { devices, hints } = await run('iotsentinel__D-LinkSwitch__Setup-A-1-STA.pcap');
    const plug = mustFindMac(devices, '90:8d:78:a9:3d:6f');
    expect(hints(plug.id, 'userAgent')).toContain('Wget/1.13 (linux-uclibc)');
  });

  it('ndpi__ipp: HP printer 10.10.10.251 serves Virata-EmWeb/R6_2_1', async () => {
    const { devices, hints } = await run('ndpi__ipp.pcap');
    const hp = mustFindMac(devices, '00:12:79:80:69:60');
    expect(hints(hp.id, 'httpServer')).toContain('Virata-EmWeb/R6_2_1');
  });

  it('ndpi__xiaomi: the Redmi Note 9 Pro (Android 10) behind a Belkin-MAC router is keyed by IP', async () => {
    const { devices } = await run('ndpi__xiaomi.pcap');
    const phone = byId(devices, 'ip:192.168.2.100');
    expect(phone.os?.value).toBe('Android 10');
    expect(phone.model?.value).toBe('Redmi Note 9 Pro');
    expect(phone.macs).toEqual([]);
  });
});

describe.skipIf(MISSING)('TLS ClientHello: SNI and JA4', () => {
  it('iotsentinel WeMoSwitch: SNI api.xbcs.net from the WeMo', async () => {
    const { devices, hints } = await run('iotsentinel__WeMoSwitch__Setup-A-1-STA.pcap');
    const wemo = mustFindMac(devices, '94:10:3e:35:01:c1');
    expect(hints(wemo.id, 'tlsSni')).toContain('api.xbcs.net');
    expect(hints(wemo.id, 'ja4')[0]).toMatch(/^t1[0-3][di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/);
  });

  it.skipIf(!tshark)(
    'suricata-verify ja4-tls and ndpi__chrome: JA4 equals the one computed from tshark fields',
    async () => {
      for (const file of ['suricata-verify__ja4-tls__input.pcap', 'ndpi__chrome.pcap']) {
        const ours: string[] = [];
        const snis: string[] = [];
        const v = new PacketView();
        for await (const p of readCapture(pcap(file))) {
          v.reset(p.data, p.linkType, p.interfaceId, p.timestampMs);
          parsePacket(v);
          const o = v.payloadOffset;
          if (v.ipProto !== 6 || v.payloadEnd - o < 9 || p.data[o] !== 0x16 || p.data[o + 5] !== 1) continue;
          const hello = parseClientHello(p.data, o + 5, v.payloadEnd);
          ours.push(ja4(hello));
          snis.push(hello.sni ?? '');
        }
        const { stdout } = await exec('tshark', [
          '-r',
          pcap(file),
          '-Y',
          'tls.handshake.type==1',
          '-T',
          'fields',
          '-E',
          'separator=|',
          '-e',
          'tls.handshake.ciphersuite',
          '-e',
          'tls.handshake.extension.type',
          '-e',
          'tls.handshake.sig_hash_alg',
          '-e',
          'tls.handshake.extensions_server_name',
          '-e',
          'tls.handshake.extensions_alpn_str',
          '-e',
          'tls.handshake.extensions.supported_version',
          '-e',
          'tls.handshake.version',
        ]);
        const theirs = stdout
          .trim()
          .split('\n')
          .map((line) => ja4FromTshark(line));
        expect(ours.length).toBeGreaterThan(0);
        expect(ours).toEqual(theirs.map((t) => t.ja4));
        expect(snis).toEqual(theirs.map((t) => t.sni));
      }
      // The JA4 test capture: TLS 1.2, no SNI, 18 ciphers, 10 extensions, ALPN spdy/3.1 -> "s1".
      const { hints } = await run('suricata-verify__ja4-tls__input.pcap');
      expect(hints('mac:0a:00:27:00:00:00', 'ja4')[0]).toMatch(/^t12i1810s1_[0-9a-f]{12}_[0-9a-f]{12}$/);
    },
  );

  it('a remembered JA4 is the JA4 of the hello asked about, whichever of its inputs differs', async () => {
    let hello: ClientHello | undefined;
    const v = new PacketView();
    for await (const p of readCapture(pcap('ndpi__chrome.pcap'))) {
      v.reset(p.data, p.linkType, p.interfaceId, p.timestampMs);
      parsePacket(v);
      const o = v.payloadOffset;
      if (v.ipProto !== 6 || v.payloadEnd - o < 9 || p.data[o] !== 0x16 || p.data[o + 5] !== 1) continue;
      hello = parseClientHello(Buffer.from(p.data), o + 5, v.payloadEnd);
      if (hello.complete && hello.alpn && hello.sni) break;
    }
    expect(hello?.alpn).toBeDefined();
    const base = hello!;
    const without = <T>(list: readonly T[]) => list.slice(0, -1);
    // Each differs from the hello before it in one input of JA4.
    const variants: ClientHello[] = [
      base,
      { ...base },
      { ...base, version: 0x0301, supportedVersions: [] },
      { ...base, supportedVersions: [0x0303] },
      { ...base, ciphers: without(base.ciphers) },
      { ...base, ciphers: [...base.ciphers].reverse() },
      { ...base, extensions: without(base.extensions) },
      { ...base, signatureAlgorithms: without(base.signatureAlgorithms) },
      { ...base, sni: undefined },
      { ...base, alpn: Buffer.from('h2') },
      { ...base, alpn: Buffer.from('hx') },
      { ...base, alpn: undefined },
      base,
    ];
    const seen = new Set<string>();
    for (const hello of variants) {
      expect(ja4Remembered(hello)).toBe(ja4(hello));
      seen.add(ja4(hello));
    }
    // The inputs changed what JA4 says, so a remembered answer for the wrong hello would be caught.
    expect(seen.size).toBeGreaterThan(8);
  });
});

/** An independent JA4 from tshark's decoded fields (FoxIO spec), to cross-check our parser. */
function ja4FromTshark(line: string): { ja4: string; sni: string } {
  const [ciphers, exts, sigs, sni, alpn, versions, version] = line.split('|').map((f) => f ?? '');
  const nums = (s: string | undefined) => (s ? s.split(',').map((x) => Number(x)) : []);
  const hello: ClientHello = {
    version: Number(version),
    ciphers: nums(ciphers),
    extensions: nums(exts),
    signatureAlgorithms: nums(sigs),
    supportedVersions: nums(versions),
    complete: true,
  };
  if (exts && nums(exts).includes(0)) hello.sni = sni ?? '';
  if (alpn) hello.alpn = Buffer.from(alpn.split(',')[0]!);
  // Re-derive the hashes here too rather than trusting ja4() for both sides.
  const hex4 = (v: number) => v.toString(16).padStart(4, '0');
  const grease = (v: number) => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
  const h = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
  const c = hello.ciphers.filter((x) => !grease(x));
  const e = hello.extensions.filter((x) => !grease(x));
  const ext = e
    .filter((x) => x !== 0 && x !== 16)
    .sort((a, b) => a - b)
    .map(hex4)
    .join(',');
  const sig = hello.signatureAlgorithms.map(hex4).join(',');
  const ours = ja4(hello);
  const b = h(
    [...c]
      .sort((x, y) => x - y)
      .map(hex4)
      .join(','),
  );
  const cc = h(sig ? `${ext}_${sig}` : ext);
  expect(ours.split('_').slice(1)).toEqual([b, cc]);
  return { ja4: ours, sni: hello.sni ?? '' };
}

describe.skipIf(MISSING)('DNS queries and LLMNR', () => {
  it('iotsentinel TP-LinkPlugHS110 and D-LinkSwitch: the names each device resolves', async () => {
    const { devices, hints } = await run('iotsentinel__D-LinkSwitch__Setup-A-1-STA.pcap');
    const plug = mustFindMac(devices, '90:8d:78:a9:3d:6f');
    expect(hints(plug.id, 'dnsQuery').length).toBeGreaterThan(0);
    expect(plug.protocols).toContain('dns');
  });

  it('zeek__wikipedia: the BRW… printer that is only asked for (NBNS/LLMNR queries) is not inventoried', async () => {
    const { devices } = await run('zeek__wikipedia.pcap');
    expect(devices.some((d) => /BRWC0CB383D1F42/i.test(d.hostname?.value ?? ''))).toBe(false);
  });
});

describe.skipIf(MISSING)('SIP', () => {
  it('suricata-verify sip-method: Nero SIPPS softphone on the Windows PC; remote proxies are not assets', async () => {
    const { devices, hints } = await run('suricata-verify__sip-method__sip.pcap');
    const pc = mustFindMac(devices, '00:e0:ed:01:6e:bd');
    expect(hints(pc.id, 'sipUserAgent')).toEqual(['Nero SIPPS IP Phone Version 2.0.51.16']);
    expect(pc.hostname?.value).toBe('d002465');
    for (const ip of ['212.242.33.35', '200.68.120.81'])
      expect(devices.some((d) => d.ipv4.includes(ip) || d.id === `ip:${ip}`)).toBe(false);
  });
});

describe.skipIf(MISSING)('WS-Discovery', () => {
  it('ndpi__gnutella: MSEDGEWIN10 says Hello with Types wsdp:Device pub:Computer and XAddrs on :5357', async () => {
    const { devices, hints } = await run('ndpi__gnutella.pcap');
    const vm = mustFindMac(devices, '08:00:27:e6:e5:59');
    expect(hints(vm.id, 'wsdTypes')).toEqual(['wsdp:Device pub:Computer']);
    expect(hints(vm.id, 'wsdXAddrs').some((x) => /:5357\//.test(x))).toBe(true);
    expect(vm.protocols).toContain('wsd');
  });

  it('ndpi__upnp: Resolve messages (searches) describe nobody', async () => {
    const { devices } = await run('ndpi__upnp.pcap');
    expect(devices.some((d) => d.protocols.includes('wsd'))).toBe(false);
  });
});

describe('SNMP GetResponse (no SNMP in the shared corpus: a packet built from RFC 1157/3418 by hand)', () => {
  it('reads sysDescr, sysObjectID and sysName from a v2c GetResponse', () => {
    const tlv = (tag: number, ...parts: Buffer[]) => {
      const body = Buffer.concat(parts);
      const len = body.length < 128 ? [body.length] : [0x81, body.length];
      return Buffer.concat([Buffer.from([tag, ...len]), body]);
    };
    const oid = (bytes: number[]) => tlv(0x06, Buffer.from(bytes));
    const str = (s: string) => tlv(0x04, Buffer.from(s));
    const int = (n: number) => tlv(0x02, Buffer.from([n]));
    const sys = (n: number) => [0x2b, 6, 1, 2, 1, 1, n, 0];
    const message = tlv(
      0x30,
      int(1),
      str('public'),
      tlv(
        0xa2,
        int(7),
        int(0),
        int(0),
        tlv(
          0x30,
          tlv(
            0x30,
            oid(sys(1)),
            str('Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 12.2(55)SE'),
          ),
          tlv(0x30, oid(sys(2)), oid([0x2b, 6, 1, 4, 1, 9, 1, 0x86, 0x3c])),
          tlv(0x30, oid(sys(5)), str('core-sw1')),
        ),
      ),
    );
    const v = new PacketView();
    v.reset(message, 1, 0, 0);
    v.ipVersion = 4;
    v.ttl = 64;
    v.srcMac = 0x001122334455;
    v.srcIp4 = 0x0a000001;
    v.srcPort = 161;
    v.payloadOffset = 0;
    v.payloadEnd = message.length;
    const seen: Observation[] = [];
    expect(snmpDecoder.match(v)).toBe(true);
    snmpDecoder.decode(v, { observe: (o) => seen.push(o) });
    const get = (name: string) => seen.filter((o) => o.name === name).map((o) => o.value);
    expect(get('hostname')).toEqual(['core-sw1']);
    expect(get('snmpSysObjectId')).toEqual(['1.3.6.1.4.1.9.1.828']);
    expect(get('manufacturer')).toEqual(['Cisco']);
    expect(get('os')).toEqual(['Cisco IOS']);
    expect(get('firmwareVersion')).toEqual(['12.2(55)SE']);
  });
});
