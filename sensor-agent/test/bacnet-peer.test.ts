// BACnet/IP from a real implementation: bacpypes3 (from PyPI, at the version
// test/peers/requirements.txt pins; `make test` provides it) runs a device in
// a network namespace whose device object names its maker, model and
// firmware, and a bacpypes3 workstation on this side finds it by Who-Is and
// reads those properties, as a BMS front end does. tcpdump records the
// exchange; the agent's inventory of it is checked against what the device
// was given and tshark's reading of the same answers.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { pythonPeer, recording, spawnInside, tsharkFields } from './peers.js';

const PYTHON = pythonPeer('BACnet', 'bacpypes3', 'bacpypes3');

const WORKSTATION_IP = '10.85.1.1';
const DEVICE_IP = '10.85.1.2';
/** A Johnson Controls field equipment controller's device object (ASHRAE 135 §12.11). */
const DEVICE = {
  name: 'AHU-3',
  vendor: 'Johnson Controls',
  model: 'MS-FEC2611-0',
  firmware: '10.1.0.1234',
  application: 'FEC 10.1',
};

const DEVICE_APP = `
import asyncio, json, sys
from bacpypes3.argparse import SimpleArgumentParser
from bacpypes3.app import Application
async def main():
    device = json.loads(sys.argv[2])
    # 999 is the vendor identifier bacpypes3 knows its own objects by; the names are the device's.
    args = SimpleArgumentParser().parse_args(
        ['--name', device['name'], '--instance', '3003', '--address', sys.argv[1], '--vendoridentifier', '999'])
    app = Application.from_args(args)
    d = app.device_object
    d.vendorName = device['vendor']
    d.modelName = device['model']
    d.firmwareRevision = device['firmware']
    d.applicationSoftwareVersion = device['application']
    await asyncio.Future()
asyncio.run(main())
`;
const WORKSTATION = `
import asyncio, sys
from bacpypes3.argparse import SimpleArgumentParser
from bacpypes3.app import Application
from bacpypes3.pdu import Address
async def main():
    args = SimpleArgumentParser().parse_args(
        ['--name', 'workstation', '--instance', '999', '--address', sys.argv[1], '--vendoridentifier', '999'])
    app = Application.from_args(args)
    if not await app.who_is(timeout=3): sys.exit(1)
    for prop in ('object-name', 'vendor-name', 'model-name', 'firmware-revision', 'application-software-version'):
        await app.read_property(Address(sys.argv[2]), 'device,3003', prop)
    app.close()
asyncio.run(main())
`;
const run = promisify(execFile);

describe.skipIf(!PYTHON)('BACnet/IP from bacpypes3, a real device and workstation', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let device: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-bacnet-'));
    capture = join(dir, 'bacnet.pcap');
    writeFileSync(join(dir, 'device.py'), DEVICE_APP);
    writeFileSync(join(dir, 'workstation.py'), WORKSTATION);
    netns = VethNamespace.create('hkc');
    netns.address(WORKSTATION_IP, DEVICE_IP);
    const bacpypes = spawnInside(netns, dir, PYTHON, [
      join(dir, 'device.py'),
      `${DEVICE_IP}/24`,
      JSON.stringify(DEVICE),
    ]);
    try {
      await recording(netns, capture, 'udp port 47808', () =>
        waitFor(
          'the workstation to read the device',
          async () =>
            Boolean(
              await run(PYTHON, [join(dir, 'workstation.py'), `${WORKSTATION_IP}/24`, DEVICE_IP], {
                timeout: 20_000,
              }),
            ),
          { timeoutMs: 30_000, intervalMs: 1000 },
        ),
      );
    } finally {
      await bacpypes.stop();
    }
    result = await buildInventory(capture);
    device = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** tshark's dissection of the device's answers (its fields name no character string but a present value's). */
  function answers(): string {
    return execFileSync('tshark', ['-r', capture, '-Y', `bacapp && ip.src == ${DEVICE_IP}`, '-V'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  }

  it('reads the I-Am and every ReadProperty answer, and finds nothing malformed', () => {
    expect(device).toBeDefined();
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decodeErrors.bacnet).toBe(0);
    const fromDevice = tsharkFields(capture, `bacapp && ip.src == ${DEVICE_IP}`, 'frame.number');
    expect(fromDevice.length).toBe(6); // the I-Am and five answers
    expect(device.protocols).toContain('bacnet');
  });

  it("names the device by its object name, its maker, model and firmware by the device object's properties", () => {
    for (const value of [DEVICE.name, DEVICE.vendor, DEVICE.model, DEVICE.firmware])
      expect(answers()).toContain(value);
    expect(device.hostname?.value).toBe(DEVICE.name);
    expect(device.manufacturer?.value).toBe(DEVICE.vendor);
    expect(device.model?.value).toBe(DEVICE.model);
    expect(device.firmwareVersion?.value).toBe(DEVICE.firmware);
    expect(device.category?.value).toBe('bms');
  });

  it('classifies the workstation, which reads the device and answers as none, as a BMS workstation', () => {
    const requests = tsharkFields(capture, `bacapp.type == 0 && ip.src == ${WORKSTATION_IP}`, 'frame.number');
    expect(requests.length).toBe(5); // the five ReadProperty requests
    const workstation = result.devices.find((d) => d.ipv4.includes(WORKSTATION_IP))!;
    expect([workstation.category?.value, workstation.type?.value]).toEqual(['bms', 'bms-workstation']);
  });
});
