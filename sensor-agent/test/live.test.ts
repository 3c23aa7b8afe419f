// Live capture for real: a veth pair whose far end sits in a network
// namespace this test creates; a small script in that namespace sends
// ARP and DHCP frames out of its end, and LiveCapture (tcpdump) on the near
// end feeds them to the pipeline. Only this test's own veth is ever
// written to. Needs root, iproute2, tcpdump and python3; skipped otherwise.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveCapture, parseTcpdumpSummary } from '../src/live/index.js';
import { Pipeline } from '../src/pipeline.js';

function has(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const isRoot = process.getuid?.() === 0;
const tools = has('ip', ['-V']) && has('tcpdump', ['--version']) && has('python3', ['--version']);
const canNetns = isRoot && tools && has('ip', ['netns', 'list']);
if (!canNetns)
  console.warn('live capture test skipped: needs root, iproute2 (ip netns), tcpdump and python3');

const NS = `hark-live-${process.pid}`;
const NEAR = `hkl${process.pid % 100000}a`;
const FAR = `hkl${process.pid % 100000}b`;

/** Sends an ARP announcement and a DHCPDISCOVER (option 12 hostname) from `mac`/`ip` out of `FAR`. */
const SENDER = `
import socket, struct, sys
iface, mac_text, ip_text, hostname = sys.argv[1:5]
mac = bytes.fromhex(mac_text.replace(':', ''))
ip = socket.inet_aton(ip_text)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
bcast = b'\\xff' * 6
arp = bcast + mac + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + ip + b'\\x00' * 6 + ip
s.send(arp + b'\\x00' * 18)
opts = b'\\x63\\x82\\x53\\x63' + b'\\x35\\x01\\x01' + bytes([12, len(hostname)]) + hostname.encode() + b'\\x3c\\x0cudhcp 1.30.1' + b'\\xff'
bootp = struct.pack('!BBBBIHH4s4s4s4s', 1, 1, 6, 0, 0x1234, 0, 0, b'\\0'*4, b'\\0'*4, b'\\0'*4, b'\\0'*4) + mac + b'\\0' * 10 + b'\\0' * 192 + opts
udp = struct.pack('!HHHH', 68, 67, 8 + len(bootp), 0) + bootp
iph = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, b'\\0'*4, b'\\xff'*4)
s.send(bcast + mac + b'\\x08\\x00' + iph + udp)
`;

function send(mac: string, ip: string, hostname: string): void {
  execFileSync('ip', ['netns', 'exec', NS, 'python3', '-c', SENDER, FAR, mac, ip, hostname]);
}

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
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['link', 'add', NEAR, 'type', 'veth', 'peer', 'name', FAR]);
    execFileSync('ip', ['link', 'set', FAR, 'netns', NS]);
    execFileSync('ip', ['link', 'set', NEAR, 'up']);
    execFileSync('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', FAR, 'up']);
  });
  afterAll(() => {
    try {
      execFileSync('ip', ['link', 'del', NEAR], { stdio: 'ignore' });
    } catch {}
    try {
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    } catch {}
  });

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
