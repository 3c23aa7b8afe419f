// Randomized (locally administered) MACs stitched to one device through their
// DHCP identity. None of the shared real captures shows a device changing its
// MAC, so these frames are built by our own encoders
// (src/simulate/encoders.ts: Ethernet II, IPv4/UDP per RFC 791/768, DHCP
// client messages per RFC 2131/2132) and, where the encoder cannot express
// the option (a client id other than type 1 + the frame's MAC), by the
// DHCP layout of RFC 2131 section 2 / RFC 2132 / RFC 4361 below. They are
// synthetic frames that follow the RFCs, not captured traffic.
import { describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../src/capture/types.js';
import { formatMac } from '../src/packet/addresses.js';
import { buildInventory, Pipeline } from '../src/pipeline.js';
import { arpAnnouncement, BROADCAST, dhcpClient, ethernet, ipv4Udp } from '../src/simulate/encoders.js';
import { byMac, MISSING, pcap } from './support.js';

const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;

function mac(hex: string): Buffer {
  return Buffer.from(hex.replace(/:/g, ''), 'hex');
}

/** A DHCPREQUEST (RFC 2131) from `src` with the given options (RFC 2132 code/length/value). */
function dhcpRequest(src: Buffer, options: [number, Buffer][]): Buffer {
  const fixed = Buffer.alloc(240);
  fixed[0] = 1; // BOOTREQUEST
  fixed[1] = 1; // htype Ethernet
  fixed[2] = 6; // hlen
  fixed.writeUInt32BE(0x1234abcd, 4);
  src.copy(fixed, 28); // chaddr
  fixed.writeUInt32BE(0x63825363, 236); // magic cookie
  const opts: Buffer[] = [Buffer.from([53, 1, 3])];
  for (const [code, value] of options) opts.push(Buffer.from([code, value.length]), value);
  opts.push(Buffer.from([255]));
  return ethernet(
    BROADCAST,
    src,
    0x0800,
    ipv4Udp('0.0.0.0', '255.255.255.255', 68, 67, Buffer.concat([fixed, ...opts])),
  );
}

function packet(data: Buffer, timestampMs: number): CapturedPacket {
  return {
    data,
    timestampMs,
    seconds: Math.floor(timestampMs / 1000),
    nanos: 0,
    linkType: 1,
    interfaceId: 0,
    originalLength: data.length,
  };
}

function inventory(frames: [Buffer, number][]) {
  const p = new Pipeline();
  for (const [data, ts] of frames) p.process(packet(data, ts));
  return p.store.toRecords();
}

/** RFC 4361 client id: type 255, IAID (4 bytes), DUID-EN (type 2, enterprise 311, identifier). */
const RFC4361_ID = Buffer.from('ff0000000a000200000137' + '0102030405060708', 'hex');

describe('randomized MACs are stitched to one device', () => {
  it('by the DHCP client identifier (RFC 4361 IAID + DUID) across two randomized MACs', () => {
    const a = mac('da:a1:19:00:00:01'); // locally administered (bit 0x02 of the first octet)
    const b = mac('7a:11:22:33:44:55');
    const devices = inventory([
      [
        dhcpRequest(a, [
          [12, Buffer.from('meeting-room-ipad')],
          [61, RFC4361_ID],
        ]),
        T0,
      ],
      [
        dhcpRequest(b, [
          [12, Buffer.from('meeting-room-ipad')],
          [61, RFC4361_ID],
        ]),
        T0 + 60 * MINUTE,
      ],
    ]);
    expect(devices).toHaveLength(1);
    const d = devices[0]!;
    expect(d.macs).toEqual(['da:a1:19:00:00:01', '7a:11:22:33:44:55']);
    const stitch = d.hostname!.evidence.find((e) => e.protocol === 'stitch');
    expect(stitch).toMatchObject({
      field: 'randomized-mac.duid',
      value: expect.stringContaining('7a:11:22:33:44:55'),
    });
  });

  it('by a client id that still names the hardware MAC after the frame MAC was randomized', () => {
    const real = mac('f0:18:98:12:34:56'); // Apple, globally unique
    const random = mac('ae:3c:01:02:03:04');
    const devices = inventory([
      [dhcpRequest(real, [[61, Buffer.concat([Buffer.from([1]), real])]]), T0],
      [dhcpRequest(random, [[61, Buffer.concat([Buffer.from([1]), real])]]), T0 + MINUTE],
    ]);
    expect(devices).toHaveLength(1);
    expect(devices[0]!.id).toBe('mac:f0:18:98:12:34:56');
    expect(devices[0]!.macs).toContain('ae:3c:01:02:03:04');
  });

  it('by hostname + option-55 order + vendor class when the old MAC fell silent first', () => {
    const before = mac('02:aa:bb:cc:dd:01');
    const after = mac('06:aa:bb:cc:dd:02');
    const o = {
      hostname: 'Lucas-Galaxy-S21',
      vendorClass: 'android-dhcp-13',
      parameterList: [1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114],
    };
    const devices = inventory([
      [dhcpClient({ mac: before, xid: 1, messageType: 1, ...o }), T0],
      [dhcpClient({ mac: after, xid: 2, messageType: 1, ...o }), T0 + 24 * 60 * MINUTE],
    ]);
    expect(devices).toHaveLength(1);
    expect(devices[0]!.macs.map((m) => m)).toEqual([formatMac(0x02aabbccdd01), formatMac(0x06aabbccdd02)]);
    expect(
      devices[0]!.hostname!.evidence.some((e) => e.field === 'randomized-mac.hostname+fingerprint'),
    ).toBe(true);
  });

  it('keeps two devices when both MACs are active at once, the hostname is generic, or both MACs are global', () => {
    const o = { hostname: 'Lucas-Galaxy-S21', vendorClass: 'android-dhcp-13', parameterList: [1, 3, 6, 15] };
    const x = mac('02:00:00:00:00:0a');
    const y = mac('02:00:00:00:00:0b');
    // x is still talking after y appeared (y announces itself before its DHCP): two phones with the same name and stack.
    expect(
      inventory([
        [dhcpClient({ mac: x, xid: 1, messageType: 1, ...o }), T0],
        [arpAnnouncement(y, '10.0.0.11'), T0 + MINUTE],
        [arpAnnouncement(x, '10.0.0.10'), T0 + 2 * MINUTE],
        [dhcpClient({ mac: y, xid: 2, messageType: 1, ...o }), T0 + 3 * MINUTE],
      ]),
    ).toHaveLength(2);
    const generic = { ...o, hostname: 'android-dhcp-13' };
    expect(
      inventory([
        [dhcpClient({ mac: x, xid: 1, messageType: 1, ...generic }), T0],
        [dhcpClient({ mac: y, xid: 2, messageType: 1, ...generic }), T0 + 60 * MINUTE],
      ]),
    ).toHaveLength(2);
    // Cloned VMs share a DUID: two globally unique MACs are two NICs, never stitched.
    expect(
      inventory([
        [dhcpRequest(mac('00:0c:29:00:00:01'), [[61, RFC4361_ID]]), T0],
        [dhcpRequest(mac('00:0c:29:00:00:02'), [[61, RFC4361_ID]]), T0 + 60 * MINUTE],
      ]),
    ).toHaveLength(2);
  });
});

describe.skipIf(MISSING)('DHCPv6 DUID on a real capture', () => {
  it('arkime__wireshark-dhcpv6.pcap: the client presents its DUID-LLT as its identity', async () => {
    const { devices } = await buildInventory(pcap('arkime__wireshark-dhcpv6.pcap'));
    // MANIFEST: client 08:00:27:d4:10:bb, DUID-LLT with link-layer address; still one device.
    expect(byMac(devices, '08:00:27:d4:10:bb')).toBeDefined();
    expect(devices.filter((d) => d.macs.includes('08:00:27:d4:10:bb'))).toHaveLength(1);
  });
});
