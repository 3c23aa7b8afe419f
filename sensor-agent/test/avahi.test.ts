// mDNS and DNS-SD from a real implementation: Avahi, the responder of Linux
// hosts, NAS boxes and printers, runs in a network namespace under a
// hostname of its own and publishes a device-info record and a printer
// service (its own static service files, bound over /etc/avahi/services in
// a mount namespace of its own). tcpdump records what it announces; the
// agent's inventory of it is checked against what Avahi was given and
// tshark's reading of the same answers.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { startProcess, waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, tsharkFields } from './peers.js';

const AVAHI = '/usr/sbin/avahi-daemon';
const canRun = peerAvailable(
  'Avahi test skipped: needs root, iproute2, tcpdump, tshark, unshare and avahi-daemon (apt-get install avahi-daemon)',
  commandWorks(AVAHI, ['--version']),
  commandWorks('unshare', ['--version']),
);

const NEAR_IP = '10.88.1.1';
const FAR_IP = '10.88.1.2';
const HOSTNAME = `hark-printer-${process.pid}`;
const PRINTER = 'HP LaserJet Pro M404dn';

describe.skipIf(!canRun)('mDNS and DNS-SD from Avahi, a real responder', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let host: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-avahi-'));
    capture = join(dir, 'mdns.pcap');
    for (const sub of ['services', 'run']) mkdirSync(join(dir, sub));
    netns = VethNamespace.create('hka');
    netns.address(NEAR_IP, FAR_IP);
    writeFileSync(
      join(dir, 'avahi-daemon.conf'),
      [
        '[server]',
        'use-ipv4=yes',
        'use-ipv6=no',
        `allow-interfaces=${netns.pairs[0]!.far}`,
        'enable-dbus=no',
        '[publish]',
        '[reflector]',
        '[rlimits]',
        '',
      ].join('\n'),
    );
    // A printer as printers announce themselves (Bonjour Printing 1.2): IPP, with its make and model in ty and product.
    writeFileSync(
      join(dir, 'services', 'printer.service'),
      `<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name replace-wildcards="yes">%h</name>
  <service>
    <type>_ipp._tcp</type>
    <port>631</port>
    <txt-record>txtvers=1</txt-record>
    <txt-record>ty=${PRINTER}</txt-record>
    <txt-record>product=(${PRINTER})</txt-record>
  </service>
</service-group>
`,
    );
    // Its own mount namespace: its service files are bound over /etc/avahi/services, its pid file over /run.
    const script = [
      'mount --bind "$1" /etc/avahi/services',
      'mount --bind "$2" /run',
      'hostname "$0"',
      `exec ${AVAHI} -f "$3" --no-drop-root --no-chroot --no-rlimits`,
    ].join(' && ');
    const args = [HOSTNAME, join(dir, 'services'), join(dir, 'run'), join(dir, 'avahi-daemon.conf')];
    await recording(netns, capture, 'udp port 5353', async () => {
      const avahi = startProcess(
        'avahi-daemon',
        'ip',
        ['netns', 'exec', netns.name, 'unshare', '--uts', '--mount', 'sh', '-c', script, ...args],
        { logFile: join(dir, 'avahi-daemon.log') },
      );
      try {
        // Until it has announced the printer (probing and announcing take a few seconds).
        await waitFor(
          'Avahi to announce the printer',
          () => tsharkFields(capture, 'mdns && dns.txt', 'frame.number').length > 0,
          {
            timeoutMs: 20_000,
          },
        );
      } finally {
        await avahi.stop(); // it says goodbye (TTL 0) as it goes
      }
    });
    result = await buildInventory(capture);
    host = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
  }, 60_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads every announcement, goodbyes included, and finds nothing malformed', () => {
    expect(host).toBeDefined();
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decoded.mdns).toBe(tsharkFields(capture, 'mdns', 'frame.number').length);
  });

  it('names the host and its address as its A record gives them', () => {
    expect(tsharkFields(capture, 'dns.a', 'dns.resp.name').join(',')).toContain(`${HOSTNAME}.local`);
    expect(host.hostname?.value).toBe(HOSTNAME);
    expect(host.ipv4).toEqual([FAR_IP]);
  });

  it('reads the printer model from the TXT record and calls it a printer', () => {
    expect(tsharkFields(capture, 'dns.txt', 'dns.txt').join(',')).toContain(`ty=${PRINTER}`);
    expect(host.model?.value).toBe(PRINTER);
    expect(host.type?.value).toBe('printer');
  });
});
