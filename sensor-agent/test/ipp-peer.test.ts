// IPP from a real implementation: CUPS's ippeveprinter, the IPP Everywhere
// printer the PWG's self-certification tests are run against, serves in a
// network namespace as an HP LaserJet, published by Avahi (through a system
// D-Bus of the namespace's own) as printers announce themselves; from this
// side CUPS's ipptool asks it for its attributes (Get-Printer-Attributes:
// several kilobytes, over several segments) and an mDNS query browses for
// IPP printers, as a client adding a printer does. tcpdump records these and
// Avahi's own probes and announcements as the printer starts; the
// agent's inventory is checked against what the printer was given and
// tshark's reading of the same messages.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

const canRun = peerAvailable(
  'IPP peer test skipped: needs root, iproute2, tcpdump, tshark, ippeveprinter and ipptool, D-Bus and Avahi (apt-get install cups-ipp-utils dbus-daemon avahi-daemon)',
  commandWorks('ippeveprinter', ['--version']),
  commandWorks('ipptool', ['--version']),
  commandWorks('dbus-daemon', ['--version']),
  commandWorks('avahi-daemon', ['--version']),
);

const CLIENT_IP = '10.95.1.1';
const PRINTER_IP = '10.95.1.2';
const HOSTNAME = 'office-printer';
const MAKE = 'HP';
const MODEL = 'LaserJet Pro M404dn';
const NAME = 'Office Printer';
/**
 * ippeveprinter registers with Avahi over the system D-Bus, so the namespace gets both, on a /run of its
 * own; in a PID namespace of its own too, so that stopping it stops them (--kill-child).
 */
const INSIDE = `mount -t tmpfs tmpfs /run && mkdir -p /run/dbus /run/avahi-daemon &&
dbus-daemon --system --nofork --nopidfile &
sleep 0.5
avahi-daemon --no-drop-root --no-chroot --no-rlimits &
sleep 1
exec ippeveprinter "$@"`;
const run = promisify(execFile);

/** An mDNS query (RFC 6762) for IPP printers' PTR records, sent from `from`. */
async function browseForPrinters(from: string): Promise<void> {
  const name = Buffer.concat(
    ['_ipp', '_tcp', 'local'].map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
  );
  const query = Buffer.concat([
    Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    name,
    Buffer.from([0, 0, 12, 0, 1]),
  ]);
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, from, resolve));
  socket.setMulticastInterface(from);
  await new Promise<void>((resolve, reject) =>
    socket.send(query, 5353, '224.0.0.251', (err) => (err ? reject(err) : resolve())),
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  socket.close();
}

describe.skipIf(!canRun)('IPP from ippeveprinter, a real IPP Everywhere printer, and ipptool', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let printer: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-ipp-'));
    capture = join(dir, 'ipp.pcap');
    mkdirSync(join(dir, 'spool'));
    netns = VethNamespace.create('hkp');
    netns.address(CLIENT_IP, PRINTER_IP);
    const ippeveprinter = spawnInside(
      netns,
      dir,
      'unshare',
      [
        '--mount',
        '--pid',
        '--fork',
        '--kill-child',
        'sh',
        '-c',
        INSIDE,
        'sh',
        '-M',
        MAKE,
        '-m',
        MODEL,
        '-p',
        '631',
        '-d',
        join(dir, 'spool'),
        NAME,
      ],
      HOSTNAME,
    );
    try {
      await recording(netns, capture, 'tcp port 631 or udp port 5353', async () => {
        await waitFor(
          'ipptool to read the printer attributes',
          async () =>
            Boolean(
              await run(
                'ipptool',
                ['-t', `ipp://${PRINTER_IP}:631/ipp/print`, 'get-printer-attributes.test'],
                {
                  timeout: 10_000,
                },
              ),
            ),
          { timeoutMs: 30_000, intervalMs: 1000 },
        );
        await browseForPrinters(CLIENT_IP);
      });
    } finally {
      await ippeveprinter.stop();
    }
    result = await buildInventory(capture);
    printer = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the attributes across the segments they span, and finds nothing malformed', () => {
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decodeErrors.http).toBe(0);
    expect(printer.protocols).toEqual(expect.arrayContaining(['ipp', 'mdns']));
    // The answer spans several segments: tshark reassembles one IPP response from them.
    const segments = tsharkFields(capture, `tcp.srcport == 631 && tcp.len > 0`, 'frame.number').length;
    expect(segments).toBeGreaterThan(2);
    expect(tsharkFields(capture, 'ipp.response_to', 'frame.number').length).toBeGreaterThan(0);
  });

  it('names maker and model from the IEEE 1284 device id the printer gave', () => {
    // tshark 4.0 names the attributes of the response (their values are not fields of its).
    const names = tsharkFields(capture, `ipp && ip.src == ${PRINTER_IP}`, 'ipp.name').join(',').split(',');
    expect(names).toEqual(expect.arrayContaining(['printer-device-id', 'printer-make-and-model']));
    expect(printer.manufacturer?.value).toBe(MAKE);
    expect(printer.model?.value).toBe(MODEL);
  });

  it("names the client's OS from the User-Agent libcups gives its requests", () => {
    const agents = tsharkFields(capture, `http.request && ip.src == ${CLIENT_IP}`, 'http.user_agent');
    // cupsSetUserAgent: "CUPS/<version> (<uname -s> <uname -r>; <uname -m>) IPP/2.0".
    expect(agents[0]).toMatch(/^CUPS\/\S+ \(Linux [^;]+; \w+\) IPP\/2\.\d$/);
    const client = result.devices.find((d) => d.macs.includes(netns.macs().near))!;
    expect(client.os?.value).toBe('Linux');
    expect(client.os?.evidence.map((e) => e.protocol)).toContain('http');
  });

  it('is a printer, named by the host name its mDNS answer gives', () => {
    const targets = tsharkFields(capture, 'mdns && dns.flags.response == 1', 'dns.srv.target');
    expect(targets.join(',').split(',')).toContain(`${HOSTNAME}.local`);
    expect(printer.hostname?.value).toBe(HOSTNAME);
    expect([printer.category?.value, printer.type?.value]).toEqual(['it', 'printer']);
  });
});
