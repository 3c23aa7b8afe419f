// EtherNet/IP from real implementations: cpppo (from PyPI, at the version
// test/peers/requirements.txt pins; `make test` provides it) runs, in a
// network namespace, a Logix controller's EtherNet/IP target with the
// identity a CompactLogix 5380 gives; pycomm3, the client many HMIs and
// historians are built on, finds it by a broadcast ListIdentity over UDP, asks
// it again over TCP, then reads its identity object with Get_Attributes_All
// through the Connection Manager's Unconnected Send. tcpdump records the
// exchanges; the agent's inventory of them is checked against the identity
// the target was given and tshark's reading of the same answers.
import { execFile } from 'node:child_process';
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

const PYTHON = pythonPeer('EtherNet/IP', 'cpppo.server.enip, pycomm3', 'cpppo and pycomm3');

const CLIENT_IP = '10.92.1.1';
const TARGET_IP = '10.92.1.2';
/** A CompactLogix 5380 (1769-L33ER) at firmware 30.10, as its identity object says it (CIP Vol. 1 §5A-2). */
const IDENTITY = {
  vendorId: 1, // Rockwell Automation/Allen-Bradley
  deviceType: 14, // Programmable Logic Controller
  productCode: 166,
  major: 30,
  minor: 10,
  serial: 0x60c27f3b,
  productName: '1769-L33ER/A LOGIX5333ER',
};
/** cpppo reads the identity object's attributes from its configuration's [Identity] section, in decimal. */
const CONFIG = `[Identity]
Vendor Number = ${IDENTITY.vendorId}
Device Type = ${IDENTITY.deviceType}
Product Code Number = ${IDENTITY.productCode}
Product Revision = ${IDENTITY.minor * 256 + IDENTITY.major}
Serial Number = ${IDENTITY.serial}
Product Name = ${IDENTITY.productName}
`;
const CLIENT = `
import sys
from pycomm3 import CIPDriver
found = CIPDriver.discover(sys.argv[2])
if not any(d.get("product_name") for d in found): sys.exit("no answer to the broadcast ListIdentity")
if not CIPDriver.list_identity(sys.argv[1]): sys.exit("no answer to ListIdentity over TCP")
with CIPDriver(sys.argv[1]) as driver:
    if not driver.get_module_info(0): sys.exit("no identity from Get_Attributes_All")
`;
const run = promisify(execFile);

describe.skipIf(!PYTHON)('EtherNet/IP from cpppo and pycomm3, a real target and client', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let target: DeviceRecord;
  let client: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-enip-'));
    capture = join(dir, 'enip.pcap');
    writeFileSync(join(dir, 'identity.cfg'), CONFIG);
    writeFileSync(join(dir, 'client.py'), CLIENT);
    netns = VethNamespace.create('hke');
    netns.address(CLIENT_IP, TARGET_IP);
    // Bound to every address, as a controller is: it answers the broadcast ListIdentity too.
    const cpppo = spawnInside(netns, dir, PYTHON, [
      '-m',
      'cpppo.server.enip',
      '--address',
      '0.0.0.0',
      '--udp',
      '--config',
      join(dir, 'identity.cfg'),
      'SCADA=INT[10]',
    ]);
    try {
      await recording(netns, capture, 'port 44818', () =>
        waitFor(
          'the client to find and read the target',
          async () =>
            Boolean(
              await run(PYTHON, [join(dir, 'client.py'), TARGET_IP, '10.92.1.255'], { timeout: 20_000 }),
            ),
          { timeoutMs: 30_000, intervalMs: 1000 },
        ),
      );
    } finally {
      await cpppo.stop();
    }
    result = await buildInventory(capture);
    target = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
    client = result.devices.find((d) => d.macs.includes(netns.macs().near))!;
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** tshark's values of `field` in the target's answers of `filter`. */
  const tshark = (filter: string, field: string) =>
    tsharkFields(capture, `${filter} && ip.src == ${TARGET_IP}`, field);

  it('reads every exchange and finds nothing malformed', () => {
    expect(target).toBeDefined();
    expect(client).toBeDefined();
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decodeErrors.enip).toBe(0);
    expect(target.protocols).toContain('enip');
    expect(target.ipv4).toEqual([TARGET_IP]);
  });

  it('names the controller from ListIdentity, over UDP and over TCP', () => {
    // Both transports answered: tshark reads the product name in a UDP and a TCP reply.
    expect(tshark('udp && enip.command == 0x0063', 'enip.lir.name')).toEqual([IDENTITY.productName]);
    expect(tshark('tcp && enip.command == 0x0063', 'enip.lir.name')).toEqual([IDENTITY.productName]);
    expect(target.model?.value).toBe(IDENTITY.productName);
    expect(target.manufacturer?.value).toBe('Rockwell Automation/Allen-Bradley');
    expect(target.serialNumber?.value).toBe(`0x${IDENTITY.serial.toString(16).padStart(8, '0')}`);
    expect(target.firmwareVersion?.value).toBe(`${IDENTITY.major}.${IDENTITY.minor}`);
    expect(tshark('enip.command == 0x0063', 'enip.lir.serial')).toContain(
      `0x${IDENTITY.serial.toString(16).padStart(8, '0')}`,
    );
  });

  it('takes the product name from the identity object the client read', () => {
    expect(tshark('cip.sc == 0x01', 'cip.id.product_name')).toEqual([IDENTITY.productName]);
    expect(target.model?.evidence.map((e) => e.field)).toContain('cip.identity.product_name');
  });

  it('classifies the target as a PLC and the client as what polls one', () => {
    expect(target.category?.value).toBe('ot');
    expect(target.type?.value).toBe('plc');
    // The client's only evidence is that it opens sessions to a controller.
    expect(client.category?.value).toBe('ot');
    expect(client.model).toBeUndefined();
  });
});
