import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsAvailable, VethNamespace } from '../../test/support/netns.js';
import { LiveCapture, parseTcpdumpSummary } from '../src/live/index.js';
import { Pipeline } from '../src/pipeline.js';

const canNetns = netnsAvailable('tcpdump', 'python3');
if (!canNetns)
  console.warn('live capture test skipped: needs root, iproute2 (ip netns), tcpdump and python3');

let netns: VethNamespace;
let NEAR: string;
const send = (mac: string, ip: string, hostname: string) =>
  netns.sendDiscovery(netns.pairs[0]!.far, mac, ip, hostname);

async function until(check: () => boolean, resend: () => void, ms = 8000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    resend();
    await new Promise((r) => setTimeout(r, 300));
  }
  return check();
}

describe('tcpdump summary', () => {
  it('parses the drop counters tcpdump prints on exit', () => {
    const s = parseTcpdumpSummary(
      'listening on eth0, link-type EN10MB\n12 packets captured\n14 packets received by filter\n2 packets dropped by kernel\n1 packet dropped by interface\n',
    );
    expect(s).toEqual({ captured: 12, receivedByFilter: 14, droppedByKernel: 2, droppedByInterface: 1 });
    // The SIGUSR1 form: one line, tcpdump keeps running; the latest summary wins.
    expect(
      parseTcpdumpSummary(
        'tcpdump: 3 packets captured, 3 packets received by filter, 0 packets dropped by kernel\ntcpdump: 9 packets captured, 10 packets received by filter, 1 packet dropped by kernel, 0 packets dropped by interface\n',
      ),
    ).toEqual({ captured: 9, receivedByFilter: 10, droppedByKernel: 1, droppedByInterface: 0 });
  });
});

describe.skipIf(!canNetns)('live capture in a network namespace', () => {
  beforeAll(() => {
    netns = VethNamespace.create('hkl');
    NEAR = netns.pairs[0]!.near;
  });
  afterAll(() => netns?.destroy());

  it('captures ARP/DHCP frames into the inventory, restarts a killed tcpdump, reports drop counters', async () => {
    const pipeline = new Pipeline();
    const live = new LiveCapture({
      interface: NEAR,
      filter: 'arp or udp port 67 or udp port 68',
      backoff: { initialMs: 100, maxMs: 1000 },
      onPacket: (p) => pipeline.process(p),
    });
    await live.start();
    try {
      const first = () =>
        pipeline.store
          .toRecords()
          .find((d) => d.macs.includes('02:00:00:00:aa:01') && d.hostname?.value === 'hark-netns-probe');
      expect(
        await until(
          () => first() !== undefined,
          () => send('02:00:00:00:aa:01', '10.99.0.1', 'hark-netns-probe'),
        ),
      ).toBe(true);
      expect(first()!.ipv4).toContain('10.99.0.1');
      expect(first()!.protocols).toEqual(expect.arrayContaining(['arp', 'dhcp']));

      // SIGUSR1: the running tcpdump prints its counters and keeps capturing.
      expect(
        await until(
          () => live.stats.captured >= 2 && live.listening,
          () => live.requestStats(),
        ),
      ).toBe(true);
      expect(live.stats.droppedByKernel).toBe(0);

      // Kill our tcpdump child: the supervisor restarts it and capture goes on.
      const pid = live.pid!;
      process.kill(pid, 'SIGKILL');
      expect(
        await until(
          () => live.stats.restarts === 1 && live.pid !== undefined && live.pid !== pid,
          () => {},
        ),
      ).toBe(true);
      const second = () => pipeline.store.toRecords().find((d) => d.macs.includes('02:00:00:00:aa:02'));
      expect(
        await until(
          () => second() !== undefined,
          () => send('02:00:00:00:aa:02', '10.99.0.2', 'second-probe'),
        ),
      ).toBe(true);
      expect(second()!.ipv4).toContain('10.99.0.2');
    } finally {
      await live.stop();
    }
    // tcpdump's exit summary of the last run was read: it captured what we sent.
    expect(live.stats.captured).toBeGreaterThan(0);
    expect(live.stats.droppedByKernel).toBeGreaterThanOrEqual(0);
    expect(live.stats.packets).toBeGreaterThanOrEqual(4);
    expect(pipeline.stats.malformed).toBe(0);
  }, 30_000);
});
