// Kerberos AS-REQ (src/decoders/kerberos.ts). The corpus has no Kerberos: the
// requests here are built from RFC 4120 §5.4.1 as Windows sends them at a
// computer's logon, carried in a real host's frames, and tshark reads them
// back as the same request.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../src/capture/index.js';
import { ethernet, ipv4Udp } from '../src/simulate/encoders.js';
import {
  inventoryOf,
  loadPackets,
  packetOf,
  tsharkAvailable,
  tsharkFields,
  withTcpPayload,
  writePcap,
} from './reframe.js';
import { MISSING, mustFindMac } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-krb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A DER element (X.690 §8.1): tag, definite length, content. */
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const ctx = (n: number, ...content: Buffer[]) => der(0xa0 | n, ...content);
const seq = (...content: Buffer[]) => der(0x30, ...content);
const int = (v: number) => der(0x02, Buffer.from(v < 0x80 ? [v] : [v >> 8, v & 0xff]));
const kstring = (s: string) => der(0x1b, Buffer.from(s)); // GeneralString
const principal = (type: number, ...names: string[]) =>
  seq(ctx(0, int(type)), ctx(1, seq(...names.map(kstring))));

/** An AS-REQ for `client` in CORP.EXAMPLE, with a NetBIOS address when given (RFC 4120 §5.4.1, §7.5.3). */
function asReq(client: string, netbios?: string): Buffer {
  const body = seq(
    ctx(0, der(0x03, Buffer.from([0x00, 0x40, 0x81, 0x00, 0x10]))), // kdc-options: forwardable, renewable, canonicalize
    ctx(1, principal(1, client)), // NT-PRINCIPAL
    ctx(2, kstring('CORP.EXAMPLE')),
    ctx(3, principal(2, 'krbtgt', 'CORP.EXAMPLE')), // NT-SRV-INST
    ctx(5, der(0x18, Buffer.from('20370913024805Z'))),
    ctx(7, der(0x02, Buffer.from([0x12, 0x34, 0x56, 0x78]))),
    ctx(8, seq(int(18), int(17), int(23))),
    ...(netbios
      ? [ctx(9, seq(seq(ctx(0, int(20)), ctx(1, der(0x04, Buffer.from(netbios.padEnd(16, ' ')))))))]
      : []),
  );
  const paPacRequest = seq(ctx(1, int(128)), ctx(2, der(0x04, seq(ctx(0, der(0x01, Buffer.from([0xff])))))));
  return der(0x6a, seq(ctx(1, int(5)), ctx(2, int(10)), ctx(3, seq(paPacRequest)), ctx(4, body)));
}

const CLIENT_MAC = Buffer.from('0019b9c0ffee', 'hex');
function udpFrame(message: Buffer): CapturedPacket {
  const data = ethernet(
    Buffer.from('00155d000001', 'hex'),
    CLIENT_MAC,
    0x0800,
    ipv4Udp('10.1.0.50', '10.1.0.10', 51000, 88, message, 128),
  );
  return packetOf(data);
}

describe('Kerberos AS-REQ', () => {
  it('a computer logging on names itself by its machine account and its NetBIOS address', () => {
    const packet = udpFrame(asReq('WKS-ACCT-01$', 'WKS-ACCT-01'));
    const { devices, stats } = inventoryOf([packet]);
    expect(stats.decodeErrors.kerberos).toBe(0);
    const d = mustFindMac(devices, '00:19:b9:c0:ff:ee');
    expect(d.hostname?.value).toBe('WKS-ACCT-01');
    expect(d.hostname?.evidence.map((e) => e.field).sort()).toEqual([
      'as_req.addresses.netbios',
      'as_req.cname',
    ]);
    expect(d.protocols).toEqual(['kerberos']);
    if (!tsharkAvailable()) return;
    const file = join(tmp, 'as-req.pcap');
    writePcap(file, [packet]);
    const [[type, cname, realm] = []] = tsharkFields(file, [
      'kerberos.msg_type',
      'kerberos.CNameString',
      'kerberos.realm',
    ]);
    expect([type, cname, realm]).toEqual(['10', 'WKS-ACCT-01$', 'CORP.EXAMPLE']);
  });

  it('a user logging on is not reported: a user name is no device name', () => {
    const { devices } = inventoryOf([udpFrame(asReq('alice'))]);
    expect(mustFindMac(devices, '00:19:b9:c0:ff:ee').hostname).toBeUndefined();
  });

  it('damaged requests are malformed, never thrown', () => {
    const whole = udpFrame(asReq('WKS-ACCT-01$', 'WKS-ACCT-01'));
    const payload = 14 + 20 + 8;
    let rejected = 0;
    for (let n = payload + 1; n < whole.data.length; n++) {
      const cut = Buffer.from(whole.data.subarray(0, n));
      cut.writeUInt16BE(n - 14, 16); // the IP length says where the message ends
      let stats: ReturnType<typeof inventoryOf>['stats'] | undefined;
      expect(() => {
        stats = inventoryOf([{ ...whole, data: cut }]).stats;
      }).not.toThrow();
      rejected += stats!.decodeErrors.kerberos ?? 0;
    }
    // Every cut inside the message's DER overruns an element: all of them but a handful are rejected.
    expect(rejected).toBeGreaterThan((whole.data.length - payload) / 2);
  });
});

describe.skipIf(MISSING)('Kerberos over TCP', () => {
  it('reads the request after its record mark (RFC 4120 §7.2.2)', async () => {
    // WIN2K3LAB022's TCP frame (iti__EIP-IPAddressChangeAttempt.pcap, frame 383) carries the request to port 88.
    const original = (await loadPackets('iti__EIP-IPAddressChangeAttempt.pcap'))[382]!;
    const message = asReq('WIN2K3LAB022$');
    const mark = Buffer.alloc(4);
    mark.writeUInt32BE(message.length);
    const packet = { ...original, data: withTcpPayload(original.data, Buffer.concat([mark, message]), 88) };
    const d = mustFindMac(inventoryOf([packet]).devices, '00:0c:29:e8:32:7a');
    expect(d.hostname?.value).toBe('WIN2K3LAB022');
    if (!tsharkAvailable()) return;
    const file = join(tmp, 'as-req-tcp.pcap');
    writePcap(file, [packet]);
    expect(tsharkFields(file, ['kerberos.CNameString'])).toEqual([['WIN2K3LAB022$']]);
  });
});
