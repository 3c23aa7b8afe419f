// DHCP from real clients and a real server: ISC dhclient with the
// configuration Debian ships, BusyBox's udhcpc (the client of embedded
// Linux) and dhcpcd (Raspberry Pi OS's, Arch's and NetBSD's), the last both
// with Debian's dhcpcd.conf and with its own defaults, each in a network
// namespace under a hostname and MAC of its own, lease an address from
// dnsmasq on this side. tcpdump records the exchanges;
// the agent's inventory of them is checked against what each client is and
// was told, and against tshark's reading of the same messages.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { startProcess, waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

const DHCLIENT = '/usr/sbin/dhclient';
const UDHCPC = '/usr/sbin/udhcpc';
const DNSMASQ = '/usr/sbin/dnsmasq';
const DHCPCD = '/usr/sbin/dhcpcd';
const canRun = peerAvailable(
  'DHCP client test skipped: needs root, iproute2, tcpdump, tshark, unshare, dnsmasq, dhclient, udhcpc and dhcpcd (apt-get install dnsmasq-base isc-dhcp-client udhcpc dhcpcd-base)',
  commandWorks(DNSMASQ, ['--version']),
  commandWorks(DHCLIENT, ['--version']),
  commandWorks(UDHCPC, ['--help']),
  commandWorks(DHCPCD, ['--version']),
  commandWorks('unshare', ['--version']),
);

const SERVER_IP = '10.82.1.1';
const SERVER_IP6 = 'fd00:82::1';
const CLIENTS = {
  dhclient: { mac: '02:48:4b:00:0d:01', hostname: `hark-dhclient-${process.pid}` },
  udhcpc: { mac: '02:48:4b:00:0d:02', hostname: `hark-udhcpc-${process.pid}` },
} as const;
/** dhcpcd with Debian's /etc/dhcpcd.conf (no vendor class, no host name) and with its built-in defaults. */
const DHCPCD_CLIENTS = {
  debian: { mac: '02:48:4b:00:0d:03', config: '/etc/dhcpcd.conf' },
  defaults: { mac: '02:48:4b:00:0d:04', config: '/dev/null' },
} as const;

describe.skipIf(!canRun)('DHCP from dhclient, udhcpc and dhcpcd, leasing from dnsmasq', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  const device = (mac: string): DeviceRecord => result.devices.find((d) => d.macs.includes(mac))!;

  /**
   * Runs `command` in a UTS namespace of its own inside the test's network
   * namespace, named `hostname`, with the far end at `mac`, until `leased()`
   * (or the command's own end).
   */
  async function lease(
    mac: string,
    hostname: string,
    command: string[],
    leased: () => boolean,
  ): Promise<void> {
    const far = netns.pairs[0]!.far;
    netns.exec(['ip', 'link', 'set', far, 'down']);
    netns.exec(['ip', 'link', 'set', far, 'address', mac]);
    netns.exec(['ip', 'link', 'set', far, 'up']);
    const [program, ...args] = command;
    const client = spawnInside(netns, dir, program!, args, hostname);
    try {
      await waitFor(`a lease for ${hostname}`, () => leased() || client.child.exitCode !== null, {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
    } finally {
      await client.stop();
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-dhcp-'));
    capture = join(dir, 'dhcp.pcap');
    netns = VethNamespace.create('hkd');
    const near = netns.pairs[0]!.near;
    const far = netns.pairs[0]!.far;
    execFileSync('ip', ['addr', 'add', `${SERVER_IP}/24`, 'dev', near]);
    // DHCPv6 too: the namespace's helper turns IPv6 off on the near end; the server needs its link there. No
    // duplicate address detection on either end: a link-local address still tentative cannot send.
    execFileSync('sysctl', ['-qw', `net.ipv6.conf.${near}.accept_dad=0`]);
    execFileSync('sysctl', ['-qw', `net.ipv6.conf.${near}.disable_ipv6=0`]);
    netns.exec(['sysctl', '-qw', `net.ipv6.conf.${far}.accept_dad=0`]);
    execFileSync('ip', ['-6', 'addr', 'add', `${SERVER_IP6}/64`, 'dev', near, 'nodad']);
    // No DNS (port 0), no configuration but these flags, leases in the test's directory.
    const dnsmasq = startProcess(
      'dnsmasq',
      DNSMASQ,
      [
        '--no-daemon',
        '--conf-file=/dev/null',
        '--port=0',
        `--interface=${near}`,
        '--bind-interfaces',
        '--dhcp-range=10.82.1.50,10.82.1.99,1h',
        '--dhcp-range=fd00:82::100,fd00:82::1ff,64,1h',
        `--dhcp-leasefile=${join(dir, 'leases')}`,
        '--no-resolv',
        '--no-hosts',
        '--no-ping', // offers at once, instead of after a second's ping of the address
      ],
      { logFile: join(dir, 'dnsmasq.log') },
    );
    try {
      await recording(
        netns,
        capture,
        'udp port 67 or udp port 68 or udp port 546 or udp port 547',
        async () => {
          // dhclient with Debian's /etc/dhcp/dhclient.conf (it sends gethostname()); no script touches the namespace.
          // In the foreground (-d) until its lease file holds the lease.
          const leases = join(dir, 'dhclient.leases');
          await lease(
            CLIENTS.dhclient.mac,
            CLIENTS.dhclient.hostname,
            [DHCLIENT, '-1', '-d', '-sf', '/bin/true', '-lf', leases, '-pf', join(dir, 'dhclient.pid'), far],
            () => existsSync(leases) && readFileSync(leases, 'utf8').includes('fixed-address'),
          );
          // And an address by DHCPv6 (-6), on the same MAC: its link-local address comes up with the link.
          const leases6 = join(dir, 'dhclient6.leases');
          await lease(
            CLIENTS.dhclient.mac,
            CLIENTS.dhclient.hostname,
            [
              DHCLIENT,
              '-6',
              '-1',
              '-d',
              '-sf',
              '/bin/true',
              '-lf',
              leases6,
              '-pf',
              join(dir, 'dhclient6.pid'),
              far,
            ],
            () => existsSync(leases6) && readFileSync(leases6, 'utf8').includes('iaaddr'),
          );
          // -q: it quits once leased.
          await lease(
            CLIENTS.udhcpc.mac,
            CLIENTS.udhcpc.hostname,
            [
              UDHCPC,
              '-i',
              far,
              '-n',
              '-q',
              '-f',
              '-s',
              '/bin/true',
              '-x',
              `hostname:${CLIENTS.udhcpc.hostname}`,
            ],
            () => false,
          );
          // One shot (-1), IPv4 only, no hooks; its lease and DUID files and control socket on a tmpfs of its own.
          for (const [name, client] of Object.entries(DHCPCD_CLIENTS))
            await lease(
              client.mac,
              `hark-dhcpcd-${name}`,
              [
                'unshare',
                '--mount',
                'sh',
                '-c',
                'mount -t tmpfs tmpfs /var/lib/dhcpcd && mount -t tmpfs tmpfs /run && exec "$@"',
                'sh',
                DHCPCD,
                '-B',
                '-1',
                '-4',
                '--noipv4ll',
                '--noarp', // no probe of the offered address: seconds of waiting, and not DHCP
                '-c',
                '/bin/true',
                '-f',
                client.config,
                far,
              ],
              () => false,
            );
        },
      );
    } finally {
      await dnsmasq.stop();
    }
    result = await buildInventory(capture);
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** tshark's values of `field` in the messages of `mac` (requests from it, and answers to it). */
  const tshark = (mac: string, field: string) => tsharkFields(capture, `dhcp.hw.mac_addr == ${mac}`, field);

  it('reads every message of every lease and finds nothing malformed', () => {
    expect(result.stats.malformed).toBe(0);
    const macs = [...Object.values(CLIENTS), ...Object.values(DHCPCD_CLIENTS)].map((c) => c.mac);
    const messages = macs.reduce((n, mac) => n + tshark(mac, 'frame.number').length, 0);
    expect(messages).toBeGreaterThanOrEqual(16); // discover, offer, request, ack for each
    expect(result.stats.decoded.dhcp).toBe(messages);
  });

  it.each(Object.entries(CLIENTS))(
    '%s: named by the host name it sent, at the address it was leased',
    (_, client) => {
      const d = device(client.mac);
      expect(tshark(client.mac, 'dhcp.option.hostname')).toContain(client.hostname);
      expect(d.hostname?.value).toBe(client.hostname);
      // The address of the ACK (yiaddr), as tshark reads it.
      const leased = tsharkFields(
        capture,
        `dhcp.hw.mac_addr == ${client.mac} && dhcp.option.dhcp == 5`,
        'dhcp.ip.your',
      );
      expect(d.ipv4).toEqual(leased);
    },
  );

  it('dhclient -6: the address a DHCPv6 Reply leases it is its own, and the server is known as one', () => {
    const leased = tsharkFields(
      capture,
      `dhcpv6.msgtype == 7 && eth.dst == ${CLIENTS.dhclient.mac}`,
      'dhcpv6.iaaddr.ip',
    );
    expect(leased.length).toBeGreaterThan(0);
    expect(device(CLIENTS.dhclient.mac).ipv6).toContain(leased[0]);
    const server = result.devices.find((d) => d.ipv4.includes(SERVER_IP));
    expect(server?.protocols).toContain('dhcpv6');
  });

  it("dhclient: Debian's configuration names Debian or Ubuntu Linux by the options it asks for", () => {
    expect(tshark(CLIENTS.dhclient.mac, 'dhcp.option.request_list_item')[0]).toBe(
      '1,28,2,3,15,6,119,12,44,47,26,121,42',
    );
    const os = device(CLIENTS.dhclient.mac).os;
    expect(os?.value).toBe('Linux (Debian or Ubuntu)');
    expect(os?.evidence.map((e) => e.field)).toContain('option55.parameter_request_list');
  });

  it('udhcpc: its vendor class names BusyBox on embedded Linux', () => {
    expect(tshark(CLIENTS.udhcpc.mac, 'dhcp.option.vendor_class_id')[0]).toMatch(/^udhcp \d/);
    expect(device(CLIENTS.udhcpc.mac).os?.value).toBe('Linux (embedded, BusyBox udhcpc)');
  });

  it('dhcpcd: its vendor class names the kernel it runs on', () => {
    const { mac } = DHCPCD_CLIENTS.defaults;
    expect(tshark(mac, 'dhcp.option.vendor_class_id')[0]).toMatch(/^dhcpcd-[\d.]+:Linux-/);
    const os = device(mac).os;
    expect(os?.value).toBe('Linux');
    expect(os?.evidence.map((e) => e.field)).toEqual(['option60.vendor_class']);
  });

  it("dhcpcd with Debian's configuration: no vendor class, but the Forcerenew it offers names it", () => {
    const { mac } = DHCPCD_CLIENTS.debian;
    expect(tshark(mac, 'dhcp.option.vendor_class_id')).toEqual([]);
    expect(tshark(mac, 'dhcp.option.forcerenew_nonce.algorithm').length).toBeGreaterThan(0);
    const os = device(mac).os;
    expect(os?.value).toBe('Linux');
    expect(os?.evidence.map((e) => e.field)).toEqual(['option145.forcerenew_nonce']);
    expect(os?.confidence).toBeLessThan(0.5);
  });

  it('dnsmasq: the address that hands out leases is known as the DHCP server', () => {
    const server = result.devices.find((d) => d.ipv4.includes(SERVER_IP));
    expect(server?.protocols).toContain('dhcp');
  });
});
