// NetBIOS, the browser protocol and SMB from a real implementation: Samba's
// nmbd and smbd serve a workgroup and a share in a network namespace, under
// a hostname of their own, and Samba's smbclient reads the share from this
// side. tcpdump records it all; the agent's inventory of it is
// checked against Samba's configuration and tshark's reading. Samba imitates
// Windows in what it announces (a Windows version in its browser
// announcements and NTLM messages): the inventory must still say Samba.

import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { type ManagedProcess, waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

const SMBD = '/usr/sbin/smbd';
const NMBD = '/usr/sbin/nmbd';
const canRun = peerAvailable(
  'Samba test skipped: needs root, iproute2, tcpdump, tshark, unshare, smbd, nmbd and smbclient (apt-get install samba smbclient)',
  existsSync(SMBD),
  existsSync(NMBD),
  commandWorks('smbclient', ['--version']),
  commandWorks('unshare', ['--version']),
);

const CLIENT_IP = '10.87.1.1';
const SERVER_IP = '10.87.1.2';
const NETBIOS_NAME = 'HARK-FILER';
const run = promisify(execFile);

describe.skipIf(!canRun)('NetBIOS, browser and SMB from Samba, a real server and client', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let server: DeviceRecord;
  let client: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-samba-'));
    capture = join(dir, 'samba.pcap');
    for (const sub of ['lock', 'state', 'cache', 'private', 'pid', 'log', 'share']) mkdirSync(join(dir, sub));
    netns = VethNamespace.create('hkw');
    netns.address(CLIENT_IP, SERVER_IP);
    const config = join(dir, 'smb.conf');
    // Samba's own defaults but for where it keeps its files; its server string stays "Samba <version>".
    writeFileSync(
      config,
      [
        '[global]',
        'workgroup = PLANT',
        `netbios name = ${NETBIOS_NAME}`,
        `interfaces = ${SERVER_IP}/24`,
        'bind interfaces only = yes',
        ...['lock', 'state', 'cache', 'pid'].map((d) => `${d} directory = ${join(dir, d)}`),
        `private dir = ${join(dir, 'private')}`,
        `log file = ${join(dir, 'log', '%m.log')}`,
        'preferred master = yes',
        'map to guest = bad user',
        'load printers = no',
        '[share]',
        `path = ${join(dir, 'share')}`,
        'guest ok = yes',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'share', 'batch-report.txt'), 'line 4\n');
    // Guests are nobody: the share (and the private directory above it) must be theirs to read.
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'share'), 0o755);
    const daemons: ManagedProcess[] = [];
    try {
      await recording(netns, capture, 'not ip6', async () => {
        // Each in its own process group (no --no-process-group): smbd, stopping, signals its group, which would
        // otherwise be this test's.
        for (const daemon of [NMBD, SMBD])
          daemons.push(spawnInside(netns, dir, daemon, ['-F', '-s', config], NETBIOS_NAME.toLowerCase()));
        // Reads the share: no RPC (listing shares would start smbd's RPC helpers, samba-dcerpcd).
        const ls = () =>
          run('smbclient', ['-N', '-s', config, `//${SERVER_IP}/share`, '-c', 'ls'], { timeout: 10_000 });
        await waitFor('smbd to serve the share', async () => Boolean(await ls()), { timeoutMs: 15_000 });
        await ls();
        // nmbd's first host announcement comes once it has registered its names.
        await waitFor(
          "nmbd's host announcement",
          () => tsharkFields(capture, 'browser.command == 0x01', 'frame.number').length > 0,
          { timeoutMs: 30_000 },
        );
      });
    } finally {
      for (const daemon of daemons) await daemon.stop();
    }
    result = await buildInventory(capture);
    const macs = netns.macs();
    server = result.devices.find((d) => d.macs.includes(macs.far))!;
    client = result.devices.find((d) => d.macs.includes(macs.near))!;
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads every message, SMB2 tree disconnects (a 4-byte body) included, and finds nothing malformed', () => {
    expect(server).toBeDefined();
    expect(tsharkFields(capture, 'smb2.cmd == 4', 'frame.number').length).toBeGreaterThan(0); // tree disconnect
    expect(result.stats.malformed).toBe(0);
    expect(server.protocols).toEqual(expect.arrayContaining(['nbns', 'browser', 'smb']));
  });

  it('names the server as it registers itself, and says it runs Samba, whatever Windows version it imitates', () => {
    // What Samba imitates: Windows 6.1 in its host announcement and in its NTLM challenge.
    expect(tsharkFields(capture, 'browser.command == 0x01', 'browser.os_major')).toContain('6');
    expect(tsharkFields(capture, 'ntlmssp.messagetype == 2', 'ntlmssp.version.build_number')).toContain('0');
    expect(server.hostname?.value.toUpperCase()).toBe(NETBIOS_NAME);
    expect(server.os?.value).toMatch(/^Linux\/Unix \(Samba\b/);
    expect(server.os?.value).not.toMatch(/Windows/);
    expect(server.type?.value).toBe('server'); // not the print server its default server type claims
  });

  it('says the client speaks through Samba too', () => {
    expect(client.os?.value).toBe('Linux/Unix (Samba client)');
  });
});
