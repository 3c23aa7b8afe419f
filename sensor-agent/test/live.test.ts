import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, netnsAvailable, VethNamespace } from '../../test/support/netns.js';
import { chooseBackend } from '../src/agent/live.js';
import { LibpcapCapture, LiveCapture, nativePcap, parseTcpdumpSummary } from '../src/live/index.js';
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
      onFrames: (frames) => pipeline.processBatch(frames),
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

// The in-process libpcap addon (native/pcap_capture.c) must be built wherever it can be: a
// silent fallback to tcpdump would leave it untested. Where the toolchain or the library is
// missing, the tests below skip and say so.
const toolchain = commandWorks('cc', ['--version']) && commandWorks('python3', ['--version']);
const libpcap = existsSync('/lib/x86_64-linux-gnu/libpcap.so.0.8') || existsSync('/usr/lib/libpcap.so.0.8');
const addon = nativePcap();
if (!addon.native) console.warn(`libpcap capture tests skipped: the addon is not available (${addon.error})`);

describe('capture backend', () => {
  it.skipIf(!toolchain || !libpcap)(
    'the libpcap addon was built, since a C toolchain and libpcap are here',
    () => {
      expect(addon.error).toBeUndefined();
      expect(addon.native).toBeDefined();
    },
  );

  it('prefers libpcap when it loads, honours HARK_CAPTURE_BACKEND, rejects anything else', () => {
    expect(chooseBackend('tcpdump').backend).toBe('tcpdump');
    expect(chooseBackend(undefined).backend).toBe(addon.native ? 'libpcap' : 'tcpdump');
    expect(chooseBackend('auto').backend).toBe(addon.native ? 'libpcap' : 'tcpdump');
    expect(() => chooseBackend('pfring')).toThrow(/must be auto, libpcap or tcpdump/);
    if (!addon.native) expect(() => chooseBackend('libpcap')).toThrow(/does not load/);
  });
});

describe.skipIf(!canNetns || !addon.native)('live capture through libpcap in-process', () => {
  it('captures with a kernel filter into the inventory, counts, and stops with a read in flight', async () => {
    const ns = VethNamespace.create('hkn');
    const pipeline = new Pipeline();
    // Only ARP passes the kernel filter: the DHCP request sendDiscovery also sends must not arrive.
    const live = new LibpcapCapture({
      interface: ns.pairs[0]!.near,
      filter: 'arp',
      onFrames: (frames) => pipeline.processBatch(frames),
    });
    try {
      await live.start();
      expect(live.listening).toBe(true);
      const probe = () => pipeline.store.toRecords().find((d) => d.macs.includes('02:00:00:00:bb:01'));
      expect(
        await until(
          () => probe() !== undefined,
          () => ns.sendDiscovery(ns.pairs[0]!.far, '02:00:00:00:bb:01', '10.98.0.1', 'pcap-probe'),
        ),
      ).toBe(true);
      expect(probe()!.ipv4).toContain('10.98.0.1');
      expect(probe()!.protocols).toEqual(['arp']);
      expect(pipeline.stats.decoded.dhcp).toBe(0);
      expect(
        await until(
          () => live.stats.receivedByFilter >= live.stats.captured && live.stats.captured > 0,
          () => {},
        ),
      ).toBe(true);
      expect(live.stats.droppedByKernel).toBe(0);
      // A read is always in flight while open: stop() ends it (no time bound asserted: that is for benchmarks).
      await live.stop();
      expect(live.listening).toBe(false);
    } finally {
      await live.stop();
      ns.destroy();
    }
  }, 30_000);

  it('names the interface or the filter when it cannot open, and keeps retrying', async () => {
    const events: string[] = [];
    const missing = new LibpcapCapture({
      interface: 'hark-nosuch0',
      backoff: { initialMs: 50, maxMs: 100 },
      onFrames: () => {},
      onEvent: (e) => events.push(e.kind),
    });
    await expect(missing.start()).rejects.toThrow(/hark-nosuch0/);
    expect(
      await until(
        () => missing.stats.restarts >= 2,
        () => {},
      ),
    ).toBe(true);
    await missing.stop();
    expect(events).toContain('restart');

    const ns = VethNamespace.create('hkf');
    try {
      const badFilter = new LibpcapCapture({
        interface: ns.pairs[0]!.near,
        filter: 'port ninety',
        onFrames: () => {},
      });
      await expect(badFilter.start()).rejects.toThrow(/BPF filter "port ninety"/);
      await badFilter.stop();
    } finally {
      ns.destroy();
    }
  });

  it('reopens with back-off when its interface goes away', async () => {
    const ns = VethNamespace.create('hkg');
    const events: string[] = [];
    const live = new LibpcapCapture({
      interface: ns.pairs[0]!.near,
      backoff: { initialMs: 50, maxMs: 200 },
      onFrames: () => {},
      onEvent: (e) => events.push(e.kind === 'error' ? `error: ${e.error.message}` : e.kind),
    });
    try {
      await live.start();
      ns.destroy(); // deletes the veth pair under the open capture
      expect(
        await until(
          () => live.stats.restarts >= 2 && !live.listening,
          () => {},
        ),
      ).toBe(true);
      expect(events.some((e) => e.startsWith('error:'))).toBe(true);
    } finally {
      await live.stop();
    }
  }, 30_000);
});
