// KNXnet/IP from real implementations: knxd (the open-source KNX daemon,
// Debian's package) runs in a network namespace as a KNX IP router and
// interface (discovery, routing and tunnelling on, individual address
// 1.1.128, a friendly name of its own); from this side xknx (the client Home
// Assistant's KNX integration uses, from PyPI at the version
// test/peers/requirements.txt pins) multicasts its searches to 224.0.23.12
// as ETS does, then opens a tunnel to the gateway it found, writes a group
// address through it (which knxd routes onto the backbone) and closes it.
// tcpdump records the exchange; the agent's inventory of it is checked
// against tshark's reading of the same frames.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { readCapture } from '../src/capture/index.js';
import type { HintName } from '../src/decoders/index.js';
import { hintValues } from '../src/inventory/device.js';
import { formatMac } from '../src/packet/addresses.js';
import { Pipeline, type PipelineStats } from '../src/pipeline.js';
import { pythonPeer, recording, spawnInside, tsharkFields } from './peers.js';

const KNXD = '/usr/bin/knxd';
const PYTHON = pythonPeer('KNXnet/IP', 'xknx', 'xknx', {
  needs: 'knxd (apt-get install knxd)',
  present: commandWorks(KNXD, ['--help']),
});

const CLIENT_IP = '10.77.1.1';
const GATEWAY_IP = '10.77.1.2';
const NAME = 'HARK-KNX-GW';
const ADDRESS = '1.1.128';

const SCANNER = `
import asyncio, sys
from xknx import XKNX
from xknx.dpt import DPTBinary
from xknx.io import ConnectionConfig, ConnectionType, GatewayScanner
from xknx.telegram import GroupAddress, Telegram
from xknx.telegram.apci import GroupValueWrite
async def main():
    gateways = await GatewayScanner(XKNX(), local_ip=sys.argv[1], timeout_in_seconds=2).scan()
    for g in gateways: print(g)
    if not gateways: sys.exit(1)
    # Then a tunnel to the gateway found, opened and closed, as a visualisation connects to the bus.
    tunnel = ConnectionConfig(connection_type=ConnectionType.TUNNELING, gateway_ip=gateways[0].ip_addr, local_ip=sys.argv[1])
    xknx = XKNX(connection_config=tunnel)
    await xknx.start()
    # A group write through the tunnel, which knxd routes onto the IP backbone (a ROUTING_INDICATION).
    await xknx.telegrams.put(Telegram(destination_address=GroupAddress('1/2/3'), payload=GroupValueWrite(DPTBinary(1))))
    await asyncio.sleep(1)
    await xknx.stop()
asyncio.run(main())
`;
const run = promisify(execFile);

describe.skipIf(!PYTHON)('KNXnet/IP from knxd, a real IP router, and xknx, a real client', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let stats: PipelineStats;
  let hints: (mac: string, name: HintName) => string[];
  let gateway: DeviceRecord;
  let client: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-knx-'));
    capture = join(dir, 'knx.pcap');
    writeFileSync(join(dir, 'scanner.py'), SCANNER);
    netns = VethNamespace.create('hkx');
    netns.address(CLIENT_IP, GATEWAY_IP);
    const far = netns.pairs[0]!.far;
    // knxd joins the KNXnet/IP multicast group on its interface: the namespace needs a route for it.
    netns.exec(['ip', 'route', 'add', '224.0.0.0/4', 'dev', far]);
    const knxd = spawnInside(netns, dir, KNXD, [
      '-e',
      ADDRESS,
      '-E',
      '1.1.129:8',
      '-n',
      NAME,
      '-D',
      '-T',
      '-R',
      '-S',
      '-I',
      far,
      '-b',
      'dummy:',
    ]);
    try {
      await recording(netns, capture, 'udp port 3671', () =>
        waitFor(
          'xknx to find knxd',
          async () =>
            Boolean(
              await run(PYTHON, [join(dir, 'scanner.py'), CLIENT_IP], { timeout: 15_000 }).catch(() => false),
            ),
          { timeoutMs: 40_000, intervalMs: 1000 },
        ),
      );
    } finally {
      await knxd.stop();
    }
    const pipeline = new Pipeline();
    for await (const p of readCapture(capture)) pipeline.process(p);
    pipeline.flush();
    stats = pipeline.stats;
    const devices = pipeline.store.toRecords();
    const byMac = new Map(pipeline.store.devices().map((d) => [formatMac(d.mac), d]));
    hints = (mac, name) => [...hintValues(byMac.get(mac)!, name)].sort();
    gateway = devices.find((d) => d.macs.includes(netns.macs().far))!;
    client = devices.find((d) => d.macs.includes(netns.macs().near))!;
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads every search, response and tunnel request tshark reads, and finds nothing malformed', () => {
    const services = new Set(tsharkFields(capture, 'kip', 'knxip.service.type'));
    // The search (0x0201) and its response (0x0202); xknx also sends the extended search (0x020b), which knxd
    // does not answer.
    // The tunnel: connect (0x0205, 0x0206), a tunnelled telegram (0x0420) routed to the backbone (0x0530),
    // disconnect (0x0209, 0x020a).
    for (const service of ['0x0201', '0x0202', '0x0205', '0x0206', '0x0420', '0x0530', '0x0209', '0x020a'])
      expect(services).toContain(service);
    expect(stats.malformed).toBe(0);
    expect(stats.decodeErrors.knxnetip).toBe(0);
    expect(stats.decoded.knxnetip).toBeGreaterThan(0);
  });

  it('names the gateway by the friendly name and individual address of its device information, as tshark reads them', () => {
    expect(tsharkFields(capture, 'knxip.service.type == 0x0202', 'knxip.device.name')[0]).toBe(NAME);
    expect(gateway.hostname?.value).toBe(NAME);
    expect(tsharkFields(capture, 'knxip.service.type == 0x0202', 'knxip.knxaddr')[0]).toBe('0x1180');
    expect(hints(netns.macs().far, 'linkAddress')).toEqual([ADDRESS]);
    expect(gateway.hostname?.evidence[0]).toMatchObject({
      protocol: 'knxnetip',
      field: 'dib.device_info.friendly_name',
    });
    // knxd answers with the serial number 01:02:03:04:05:06 whatever it runs on: not the device's.
    expect(tsharkFields(capture, 'knxip.service.type == 0x0202', 'knxip.sernr')[0]).toMatch(
      /^0x0*10203040506$/,
    );
    expect(gateway.serialNumber).toBeUndefined();
  });

  it('names a router from the telegrams it routes alone, with no search heard', async () => {
    const routed = new Pipeline();
    for await (const p of readCapture(capture)) {
      // UDP payload at 14 + 20 + 8: the service type is its third and fourth octets.
      if (p.data.length > 46 && p.data.readUInt16BE(44) === 0x0530) routed.process(p);
    }
    routed.flush();
    const router = routed.store.toRecords().find((d) => d.macs.includes(netns.macs().far))!;
    expect([router.category?.value, router.type?.value]).toEqual(['bms', 'knx-gateway']);
    expect(router.type?.evidence.map((e) => e.field)).toEqual(['role.knx:routing']);
  });

  it('tells the gateway (routing, tunnelling) from the client that searched for it', () => {
    const families = tsharkFields(capture, 'knxip.service.type == 0x0202', 'knxip.service.family')[0]!;
    // The header's family (core), then the supported families' DIB: core, tunnelling, routing.
    expect(families.split(',')).toEqual(expect.arrayContaining(['0x04', '0x05']));
    expect(gateway.protocols).toEqual(['knxnetip']);
    expect([gateway.category?.value, gateway.type?.value]).toEqual(['bms', 'knx-gateway']);
    expect(client.protocols).toEqual(['knxnetip']);
    expect([client.category?.value, client.type?.value]).toEqual(['bms', 'bms-workstation']);
  });
});
