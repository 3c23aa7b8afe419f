import { describe, expect, it } from 'vitest';
import { Pipeline } from '../src/pipeline.js';
import { ethernet, ipv4Udp } from '../src/simulate/encoders.js';
import { inventoryOf, packetOf, tsharkAvailable, tsharkOn } from './reframe.js';
import { mustFindMac } from './support.js';

const BROADCAST = Buffer.alloc(6, 0xff);
/** tshark 4.0 dissects UBDP only where told to (Decode As). */
const UBDP = ['-d', 'udp.port==10001,ubdp'];
const ROUTER = { mac: Buffer.from('4c5e0c112233', 'hex'), ip: '192.168.88.1' };
const SWITCH = { mac: Buffer.from('4c5e0c445566', 'hex'), ip: '192.168.88.2' };
const AP = { mac: Buffer.from('788a20aabbcc', 'hex'), ip: '192.168.1.20' };

/** An MNDP TLV: 16-bit type and length, big-endian. */
function mndpTlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(v.length, 2);
  return Buffer.concat([head, v]);
}
function mndp(host: typeof ROUTER, identity: string, board: string, seq: number): Buffer {
  const uptime = Buffer.alloc(4);
  uptime.writeUInt32LE(86_400 + seq, 0);
  const payload = Buffer.concat([
    Buffer.from([0, 0, seq >> 8, seq & 0xff]),
    mndpTlv(1, host.mac),
    mndpTlv(5, identity),
    mndpTlv(7, '6.49.7 (stable)'),
    mndpTlv(8, 'MikroTik'),
    mndpTlv(10, uptime),
    mndpTlv(11, 'X5LP-9RTQ'),
    mndpTlv(12, board),
    mndpTlv(14, Buffer.from([1])),
    mndpTlv(16, 'ether1'),
  ]);
  return ethernet(BROADCAST, host.mac, 0x0800, ipv4Udp(host.ip, '255.255.255.255', 5678, 5678, payload));
}

/** A Ubiquiti discovery TLV: 8-bit type, 16-bit length. */
function ubntTlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(v.length, 1);
  return Buffer.concat([head, v]);
}
/** A UniFi access point's answer to a discovery request (version 1). */
function ubntAnswer(): Buffer {
  const tlvs = Buffer.concat([
    ubntTlv(2, Buffer.concat([AP.mac, Buffer.from([192, 168, 1, 20])])),
    ubntTlv(1, AP.mac),
    ubntTlv(10, Buffer.from([0, 1, 0x51, 0x80])),
    ubntTlv(11, 'ap-lobby'),
    ubntTlv(12, 'U7PG2'),
    ubntTlv(13, 'corp-wifi'),
    ubntTlv(14, Buffer.from([2])),
    ubntTlv(3, 'UAP6MP.qca956x.v6.5.55.14277.230320.1234'),
    ubntTlv(16, Buffer.from([0xe5, 0x57])),
    ubntTlv(21, 'UAP-AC-Pro'),
    ubntTlv(22, '6.5.55'),
  ]);
  const head = Buffer.from([1, 0, 0, 0]);
  head.writeUInt16BE(tlvs.length, 2);
  return ethernet(
    Buffer.from('001122334455', 'hex'),
    AP.mac,
    0x0800,
    ipv4Udp(AP.ip, '192.168.1.5', 10001, 53124, Buffer.concat([head, tlvs])),
  );
}
/** The controller's request: a bare header. */
const ubntRequest = () =>
  ethernet(
    BROADCAST,
    Buffer.from('001122334455', 'hex'),
    0x0800,
    ipv4Udp('192.168.1.5', '255.255.255.255', 53124, 10001, Buffer.from([1, 0, 0, 0])),
  );

const packets = () => [
  packetOf(mndp(ROUTER, 'core-router', 'RB4011iGS+', 1), 1_700_000_000_000),
  packetOf(mndp(SWITCH, 'floor2-switch', 'CRS326-24G-2S+', 1), 1_700_000_000_100),
  packetOf(ubntRequest(), 1_700_000_000_200),
  packetOf(ubntAnswer(), 1_700_000_000_300),
  packetOf(mndp(ROUTER, 'core-router', 'RB4011iGS+', 2), 1_700_000_060_000),
];

describe('neighbour discovery broadcasts', () => {
  it.skipIf(!tsharkAvailable())('MNDP: identity, version and board, read as tshark reads them', () => {
    const all = packets();
    const rows = tsharkOn(all, [
      'eth.src',
      'mndp.identity',
      'mndp.version',
      'mndp.platform',
      'mndp.board',
    ]).filter((r) => r[1]);
    expect(rows).toEqual([
      ['4c:5e:0c:11:22:33', 'core-router', '6.49.7 (stable)', 'MikroTik', 'RB4011iGS+'],
      ['4c:5e:0c:44:55:66', 'floor2-switch', '6.49.7 (stable)', 'MikroTik', 'CRS326-24G-2S+'],
      ['4c:5e:0c:11:22:33', 'core-router', '6.49.7 (stable)', 'MikroTik', 'RB4011iGS+'],
    ]);
    const { devices, stats } = inventoryOf(all);
    expect(stats.decodeErrors.mndp).toBe(0);
    const router = mustFindMac(devices, '4c:5e:0c:11:22:33');
    expect([router.hostname?.value, router.model?.value, router.os?.value, router.type?.value]).toEqual([
      'core-router',
      'RB4011iGS+',
      'RouterOS 6.49.7',
      'router',
    ]);
    const sw = mustFindMac(devices, '4c:5e:0c:44:55:66');
    expect([sw.hostname?.value, sw.type?.value, sw.category?.value]).toEqual([
      'floor2-switch',
      'switch',
      'network',
    ]);
  });

  it.skipIf(!tsharkAvailable())(
    'Ubiquiti: host name, model and firmware of the answer; nothing of the request',
    () => {
      const all = packets();
      const rows = tsharkOn(
        all,
        ['eth.src', 'ubdp.hostname', 'ubdp.model', 'ubdp.firmware', 'ubdp.ssid'],
        UBDP,
      ).filter((r) => r[1]);
      expect(rows).toEqual([['78:8a:20:aa:bb:cc', 'ap-lobby', 'UAP-AC-Pro', '6.5.55', 'corp-wifi']]);
      const { devices, stats } = inventoryOf(all);
      expect(stats.decodeErrors.ubiquiti).toBe(0);
      const ap = mustFindMac(devices, '78:8a:20:aa:bb:cc');
      expect([
        ap.manufacturer?.value,
        ap.hostname?.value,
        ap.model?.value,
        ap.firmwareVersion?.value,
      ]).toEqual(['Ubiquiti', 'ap-lobby', 'UAP-AC-Pro', '6.5.55']);
      expect([ap.category?.value, ap.type?.value]).toEqual(['network', 'access-point']);
      const controller = mustFindMac(devices, '00:11:22:33:44:55');
      expect(controller.protocols).not.toContain('ubiquiti');
    },
  );

  it('counts a TLV that overruns its datagram as malformed, and takes other uses of the ports for none', () => {
    const damaged = ubntAnswer();
    damaged[14 + 20 + 8 + 4 + 1] = 0x7f; // the first TLV's length, after the Ethernet, IPv4, UDP and UBNT headers
    const other = ethernet(
      Buffer.from('001122334455', 'hex'),
      AP.mac,
      0x0800,
      ipv4Udp(AP.ip, '192.168.1.5', 10001, 40000, Buffer.from('GET / HTTP/1.1\r\n\r\n', 'latin1')),
    );
    const pipeline = new Pipeline({ skipRepeats: false });
    for (const frame of [damaged, other, ubntAnswer()]) pipeline.process(packetOf(frame));
    expect(pipeline.stats.decodeErrors.ubiquiti).toBe(1);
    expect(pipeline.store.toRecords().some((d) => d.hostname?.value === 'ap-lobby')).toBe(true);
  });
});
