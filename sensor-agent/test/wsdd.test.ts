// WS-Discovery from a real implementation: wsdd, the daemon that makes a
// Linux or BSD machine (a Samba server, a NAS) appear in Windows's Network
// view, announces a host in a network namespace under a computer name and
// workgroup of its own; a second wsdd on this side, in discovery mode, finds
// it as Windows does: Probe and Resolve over multicast, then the host's
// metadata over HTTP from the address its answer gave. tcpdump records both;
// the agent's inventory is checked against what the host was given and
// tshark's reading of the same frames.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { startProcess, waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

const WSDD = '/usr/sbin/wsdd';
const canRun = peerAvailable(
  'wsdd test skipped: needs root, iproute2, tcpdump, tshark and wsdd (apt-get install wsdd)',
  commandWorks(WSDD, ['--version']),
);

const CLIENT_IP = '10.94.1.1';
const HOST_IP = '10.94.1.2';
const COMPUTER = 'NAS-OFFICE';
const WORKGROUP = 'ACME';

describe.skipIf(!canRun)('WS-Discovery from wsdd, a real host and a discovering client', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let host: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-wsdd-'));
    capture = join(dir, 'wsdd.pcap');
    netns = VethNamespace.create('hkw');
    netns.address(CLIENT_IP, HOST_IP);
    const { near, far } = netns.pairs[0]!;
    await recording(netns, capture, 'udp port 3702 or tcp port 5357', async () => {
      // -p keeps the name's case, as Windows shows it. Its Hello goes out as it starts.
      const announcing = spawnInside(netns, dir, WSDD, [
        '-4',
        '-p',
        '-i',
        far,
        '-n',
        COMPUTER,
        '-w',
        WORKGROUP,
      ]);
      try {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        // Discovery mode only (-o: it is no host itself); it probes on start and fetches what answers.
        const discovering = startProcess('wsdd-discovery', WSDD, ['-4', '-D', '-o', '-v', '-i', near], {
          logFile: join(dir, 'wsdd-discovery.log'),
        });
        try {
          await waitFor(
            'the discovering wsdd to fetch the host metadata',
            () => tsharkFields(capture, 'http.response.code == 200', 'frame.number').length > 0,
            { timeoutMs: 20_000, intervalMs: 500 },
          );
        } finally {
          await discovering.stop();
        }
      } finally {
        await announcing.stop();
      }
    });
    result = await buildInventory(capture);
    host = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
  }, 60_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads every message and finds nothing malformed', () => {
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decodeErrors.wsd).toBe(0);
    expect(host.protocols).toContain('wsd');
  });

  it('keeps the host whole: its link-scope multicast (TTL 1) is its own, not a routed address', () => {
    // wsdd sends its multicast with a hop limit of 1, as WS-Discovery's SOAP-over-UDP asks.
    expect(tsharkFields(capture, `ip.src == ${HOST_IP} && ip.dst == 239.255.255.250`, 'ip.ttl')).toContain(
      '1',
    );
    expect(host.ipv4).toEqual([HOST_IP]);
    expect(result.devices.filter((d) => d.ipv4.includes(HOST_IP))).toEqual([host]);
  });

  it('names the computer from the metadata the client fetched, not from the software', () => {
    const body = tsharkFields(capture, `http.response && ip.src == ${HOST_IP}`, 'http.file_data').join('');
    expect(body).toContain(`<pub:Computer>${COMPUTER}/Workgroup:${WORKGROUP}</pub:Computer>`);
    expect(body).toContain('<wsdp:Manufacturer>wsdd</wsdp:Manufacturer>');
    expect(host.hostname?.value).toBe(COMPUTER);
    expect(host.hostname?.evidence.map((e) => e.field)).toEqual(['metadata.Computer']);
    // wsdd writes its own name, firmware 1.0 and serial 1 for every machine that runs it: not identity.
    expect(host.manufacturer).toBeUndefined();
    expect(host.model).toBeUndefined();
    expect(host.serialNumber).toBeUndefined();
    expect(host.firmwareVersion).toBeUndefined();
    expect(host.category?.value).toBe('it');
  });
});
