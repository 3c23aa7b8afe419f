// The OS a DHCP client's vendor class names, for the shapes real clients
// send that the shared captures and the test peers (dhcp-clients.test.ts,
// on Linux) do not show. dhcpcd 5 and later send
// "dhcpcd-<version>:<uname -s>-<uname -r>:<uname -m>:<platform>" (dhcpcd's
// dhcp.c); earlier ones, Android KitKat's among them, the version alone.
// Frames from our own encoder (src/simulate/encoders.ts, RFC 2131/2132).
import { describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../src/capture/types.js';
import { Pipeline } from '../src/pipeline.js';
import { dhcpClient } from '../src/simulate/encoders.js';

function osOf(vendorClass: string): string | undefined {
  const data = dhcpClient({
    mac: Buffer.from('020000000001', 'hex'),
    xid: 1,
    messageType: 1,
    vendorClass,
  });
  const pipeline = new Pipeline();
  const packet: CapturedPacket = {
    data,
    timestampMs: 0,
    seconds: 0,
    nanos: 0,
    linkType: 1,
    interfaceId: 0,
    originalLength: data.length,
  };
  pipeline.process(packet);
  return pipeline.store.toRecords()[0]?.os?.value;
}

describe('the OS named by a DHCP vendor class', () => {
  it.each([
    ['dhcpcd-9.4.1:Linux-6.1.0-18-amd64:x86_64:GenuineIntel', 'Linux'],
    ['dhcpcd-10.0.6:NetBSD-10.0:amd64:x86_64', 'NetBSD'],
    ['dhcpcd-9.4.1:FreeBSD-14.1-RELEASE:amd64:', 'FreeBSD'],
    ['dhcpcd-5.5.6', 'Linux'],
    ['udhcp 1.36.1', 'Linux (embedded, BusyBox udhcpc)'],
    ['MSFT 5.0', 'Windows'],
    ['android-dhcp-13', 'Android 13'],
  ])('%s: %s', (vendorClass, os) => {
    expect(osOf(vendorClass)).toBe(os);
  });
});
