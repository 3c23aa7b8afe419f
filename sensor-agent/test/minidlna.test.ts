// SSDP and a UPnP device description from a real implementation: MiniDLNA,
// the media server of countless NAS boxes and routers, runs in a network
// namespace and announces itself; a control point on this side fetches the
// description its LOCATION names, on a port configured for it that no port
// list holds (the agent learns it from the LOCATION). tcpdump records
// it all; the agent's inventory of it is checked against MiniDLNA's
// configuration and tshark's reading of the same messages.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

const MINIDLNA = '/usr/sbin/minidlnad';
const canRun = peerAvailable(
  'MiniDLNA test skipped: needs root, iproute2, tcpdump, tshark and minidlna (apt-get install minidlna)',
  commandWorks(MINIDLNA, ['-V']),
);

const CONTROL_POINT_IP = '10.86.1.1';
const SERVER_IP = '10.86.1.2';
/** Not MiniDLNA's default (8200, which the agent's HTTP port list holds): what the LOCATION names, and only it. */
const PORT = 8212;
const CONFIG = {
  friendlyName: 'Basement NAS',
  modelName: 'ReadyNAS Media',
  modelNumber: '6.10.8',
  serial: 'HARK-0001',
};

describe.skipIf(!canRun)('SSDP and UPnP from MiniDLNA, a real media server', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let server: DeviceRecord;
  let location: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-minidlna-'));
    capture = join(dir, 'upnp.pcap');
    for (const sub of ['media', 'db', 'log']) mkdirSync(join(dir, sub));
    netns = VethNamespace.create('hkm');
    netns.address(CONTROL_POINT_IP, SERVER_IP);
    writeFileSync(
      join(dir, 'minidlna.conf'),
      [
        `port=${PORT}`,
        `network_interface=${netns.pairs[0]!.far}`,
        `media_dir=${join(dir, 'media')}`,
        `db_dir=${join(dir, 'db')}`,
        `log_dir=${join(dir, 'log')}`,
        `friendly_name=${CONFIG.friendlyName}`,
        `model_name=${CONFIG.modelName}`,
        `model_number=${CONFIG.modelNumber}`,
        `serial=${CONFIG.serial}`,
        'inotify=no',
        '',
      ].join('\n'),
    );
    location = `http://${SERVER_IP}:${PORT}/rootDesc.xml`;
    await recording(netns, capture, `udp port 1900 or tcp port ${PORT}`, async () => {
      const minidlna = spawnInside(netns, dir, MINIDLNA, [
        '-d',
        '-f',
        join(dir, 'minidlna.conf'),
        '-P',
        join(dir, 'pid'),
      ]);
      try {
        await waitFor(
          `${location} to be served`,
          async () => {
            const response = await fetch(location, { signal: AbortSignal.timeout(2000) });
            await response.text();
            return response.ok;
          },
          { timeoutMs: 15_000 },
        );
      } finally {
        await minidlna.stop(); // it says ssdp:byebye as it goes
      }
    });
    result = await buildInventory(capture);
    server = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
  }, 60_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const tshark = (filter: string, field: string) => tsharkFields(capture, filter, field);

  it('reads every announcement and the description, and finds nothing malformed', () => {
    expect(server).toBeDefined();
    expect(result.stats.malformed).toBe(0);
    expect(tshark('ssdp', 'http.location')).toContain(location);
    expect(server.protocols).toEqual(expect.arrayContaining(['ssdp', 'upnp']));
  });

  it('names it, its model and serial number from the description fetched where its LOCATION said', () => {
    expect(tshark(`tcp.srcport == ${PORT} && xml`, 'frame.number').length).toBeGreaterThan(0);
    expect(server.hostname?.value).toBe(CONFIG.friendlyName);
    expect(server.model?.value).toBe(`${CONFIG.modelName} ${CONFIG.modelNumber}`);
    expect(server.serialNumber?.value).toBe(CONFIG.serial);
  });

  it('takes no maker from the author MiniDLNA writes into every description', () => {
    expect(server.manufacturer).toBeUndefined();
  });

  it("reads the OS from the SERVER header's first token, a distribution's name where Debian built it", () => {
    const servers = [...new Set(tshark('ssdp', 'http.server'))];
    expect(servers.length).toBeGreaterThan(0);
    // MiniDLNA puts the distribution that built it first ("Debian DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0").
    const distribution = servers[0]!.split(' ')[0]!;
    expect(['Debian', 'Ubuntu', 'Raspbian', 'Fedora', 'CentOS', 'OpenWrt', 'Alpine']).toContain(distribution);
    expect(server.os?.value).toBe(`Linux (${distribution})`);
  });
});
