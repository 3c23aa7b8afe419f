// Certificates in TLS 1.2 handshakes (src/decoders/tls-certificate.ts), on
// the real captures, against the subject tshark's X.509 dissector reads;
// and the server's flight cut into segments, as a smaller MSS would send it.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { flightLength } from '../src/decoders/tls-certificate.js';
import { inventoryOf, loadPackets, splitSegment, tsharkAvailable } from './reframe.js';
import { MISSING, mustFindMac, pcap, run } from './support.js';

const SELKS = 'suricata-verify__ja4-tls__input.pcap';
const ANYCONNECT = 'ndpi__anyconnect-vpn.pcap';

/** The common name of each certificate's subject, by the frame's sender, as tshark reads it. */
function tsharkSubjectNames(file: string): Map<string, string[]> {
  // On 443: the capture also holds a backup client's certificate on its own port (4287), not a TLS port here.
  const filter = 'tls.handshake.type == 11 && tcp.port == 443';
  const detail = execFileSync('tshark', ['-r', pcap(file), '-Y', filter, '-V'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const names = new Map<string, string[]>();
  for (const frame of detail.split(/\n(?=Frame \d+:)/)) {
    const src = /Internet Protocol Version 4, Src: ([\d.]+)/.exec(frame)?.[1];
    // The first certificate's subject: the first "subject: rdnSequence" and the item list under it.
    const subject = /subject: rdnSequence \(0\)\n\s+rdnSequence: \d+ items? \(([^)\n]*)\)/.exec(frame)?.[1];
    const cn = subject && /id-at-commonName=([^,]+)/.exec(subject)?.[1];
    if (src && cn) names.set(src, [...(names.get(src) ?? []), cn]);
  }
  return names;
}

describe.skipIf(MISSING)('TLS certificates on the real captures', () => {
  it("SELKS: the appliance's server certificate names it, as tshark reads the subject", async () => {
    const { devices, hints } = await run(SELKS);
    const selks = mustFindMac(devices, '08:00:27:0b:cf:a3');
    expect(selks.hostname?.value).toBe('SELKS');
    expect(selks.hostname?.evidence[0]?.field).toBe('certificate.subject.cn');
    expect(hints(selks.id, 'certificateSubject')).toEqual(['C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS']);
    if (tsharkAvailable()) expect(tsharkSubjectNames(SELKS).get('192.168.56.101')).toEqual(['SELKS']);
  });

  it("AnyConnect: the Mac's machine certificate names it; the VPN gateways' certificates name no device", async () => {
    const { devices, observations, pipeline } = await run(ANYCONNECT);
    expect(pipeline.stats.decodeErrors.tls).toBe(0);
    const mac = mustFindMac(devices, '34:36:3b:cf:75:28');
    const named = observations.filter((o) => o.field === 'certificate.subject.cn').map((o) => o.value);
    expect(named).toEqual(['lp-rkerur-osx']);
    expect(observations.find((o) => o.field === 'certificate.subject.cn')?.mac).toBe(0x34363bcf7528);
    // Its own names (mDNS, NetBIOS) are surer than a certificate's: the certificate does not replace them.
    expect(mac.hostname?.evidence[0]?.field).not.toBe('certificate.subject.cn');
    expect(devices.some((d) => d.ipv4.some((ip) => ip.startsWith('8.37.')))).toBe(false);
    if (tsharkAvailable()) {
      const byTshark = tsharkSubjectNames(ANYCONNECT);
      expect(byTshark.get('10.0.0.227')).toEqual(named);
      expect([...byTshark.keys()].filter((ip) => ip !== '10.0.0.227').length).toBeGreaterThan(0);
    }
  });

  it('a server flight cut into segments gives the facts of the uncut one', async () => {
    const packets = await loadPackets(SELKS);
    const flight = packets.findIndex((p) => p.data.includes('Stamus'));
    const whole = inventoryOf(packets);
    for (const cuts of [[3], [5], [40, 600], [100, 300, 900, 1200]]) {
      const pieces = splitSegment(packets[flight]!.data, cuts).map((data) => ({ ...packets[flight]!, data }));
      const cut = inventoryOf([...packets.slice(0, flight), ...pieces, ...packets.slice(flight + 1)]);
      expect(cut.devices, `cut at ${cuts}`).toEqual(whole.devices);
      expect(cut.stats.reassembled, `cut at ${cuts}`).toBe(1);
    }
  });
});

describe('flightLength', () => {
  const record = (type: number, ...messages: Buffer[]) => {
    const body = Buffer.concat(messages);
    const h = Buffer.from([type, 3, 3, 0, 0]);
    h.writeUInt16BE(body.length, 3);
    return Buffer.concat([h, body]);
  };
  const message = (type: number, length: number) => {
    const m = Buffer.alloc(4 + length);
    m[0] = type;
    m.writeUIntBE(length, 1, 3);
    return m;
  };

  it('asks for the records up to the one that ends the Certificate, and stops at a TLS 1.3 server', () => {
    const hello = record(0x16, message(2, 70));
    const certificate = record(0x16, message(11, 2000));
    const flight = Buffer.concat([hello, certificate, record(0x16, message(14, 0))]);
    expect(flightLength(flight, 0, flight.length)).toBe(hello.length + certificate.length);
    // Only the ServerHello so far: the next record's header is asked for, then the record.
    expect(flightLength(flight, 0, hello.length)).toBe(hello.length + 5);
    expect(flightLength(flight, 0, hello.length + 5)).toBe(hello.length + certificate.length);
    // TLS 1.3: the ServerHello, then change_cipher_spec and encrypted records: nothing more to gather.
    const tls13 = Buffer.concat([hello, record(0x14, Buffer.from([1])), record(0x17, Buffer.alloc(900))]);
    expect(flightLength(tls13, 0, tls13.length)).toBe(hello.length);
    // Anonymous key exchange (no Certificate): the segment as it is.
    const anon = record(0x16, message(2, 70), message(12, 300));
    expect(flightLength(anon, 0, anon.length)).toBeLessThanOrEqual(anon.length);
  });
});
