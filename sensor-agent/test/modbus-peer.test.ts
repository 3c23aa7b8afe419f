// Modbus/TCP from a real implementation: pymodbus (Debian's python3-pymodbus)
// serves holding registers and Read Device Identification (function 43/14)
// in a network namespace, with the identity a Modicon M340 gives, and its
// client polls and asks for the identity from this side. tcpdump records the
// exchange; the agent's inventory of it is checked against the identity the
// server was given and tshark's reading of the same answers.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

/** Debian's interpreter, which Debian's python3-pymodbus installs into. */
const PYTHON = '/usr/bin/python3';
const canRun = peerAvailable(
  'Modbus peer test skipped: needs root, iproute2, tcpdump, tshark and pymodbus (apt-get install python3-pymodbus)',
  commandWorks(PYTHON, ['-c', 'import pymodbus.server']),
);

const CLIENT_IP = '10.83.1.1';
const SERVER_IP = '10.83.1.2';
/** What a Modicon M340 CPU answers (Modbus Application Protocol §6.21 objects 0-6). */
const IDENTITY = {
  VendorName: 'Schneider Electric',
  ProductCode: 'BMX P34 2020',
  MajorMinorRevision: 'v3.20',
  VendorUrl: 'http://www.schneider-electric.com',
  ProductName: 'Modicon M340',
  ModelName: 'BMX P34 2020',
  UserApplicationName: 'Line 4 filler',
};

const SERVER = `
import json, sys
from pymodbus.server import StartTcpServer
from pymodbus.device import ModbusDeviceIdentification
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
store = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, list(range(100))))
identity = ModbusDeviceIdentification(info_name=json.loads(sys.argv[2]))
StartTcpServer(context=ModbusServerContext(slaves=store, single=True), identity=identity, address=(sys.argv[1], 502))
`;
const CLIENT = `
import sys
from pymodbus.client import ModbusTcpClient
from pymodbus.mei_message import ReadDeviceInformationRequest
client = ModbusTcpClient(sys.argv[1], port=502)
if not client.connect(): sys.exit(1)
for _ in range(3): client.read_holding_registers(0, 10, slave=1)
for code in (1, 2):  # basic, then regular identification
    client.execute(ReadDeviceInformationRequest(read_code=code, object_id=0, slave=1))
client.close()
`;
const run = promisify(execFile);

describe.skipIf(!canRun)('Modbus/TCP from pymodbus, a real server and client', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let server: DeviceRecord;
  let client: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-modbus-'));
    capture = join(dir, 'modbus.pcap');
    writeFileSync(join(dir, 'server.py'), SERVER);
    writeFileSync(join(dir, 'client.py'), CLIENT);
    netns = VethNamespace.create('hkb');
    netns.address(CLIENT_IP, SERVER_IP);
    const pymodbus = spawnInside(netns, dir, PYTHON, [
      join(dir, 'server.py'),
      SERVER_IP,
      JSON.stringify(IDENTITY),
    ]);
    try {
      await recording(netns, capture, 'tcp port 502', () =>
        waitFor(
          'the client to poll the server',
          async () => Boolean(await run(PYTHON, [join(dir, 'client.py'), SERVER_IP])),
          {
            timeoutMs: 15_000,
          },
        ),
      );
    } finally {
      await pymodbus.stop();
    }
    result = await buildInventory(capture);
    const macs = netns.macs();
    server = result.devices.find((d) => d.macs.includes(macs.far))!;
    client = result.devices.find((d) => d.macs.includes(macs.near))!;
  }, 60_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** tshark's values of `field` in the server's answers. */
  const answers = (field: string) => tsharkFields(capture, `mbtcp && ip.src == ${SERVER_IP}`, field);

  it('reads the identity the server answers with, as tshark reads it', () => {
    expect(result.stats.malformed).toBe(0);
    expect(answers('modbus.object_str_value').join(',')).toContain(IDENTITY.VendorName);
    expect(server.manufacturer?.value).toBe(IDENTITY.VendorName);
    expect(server.model?.value).toBe(IDENTITY.ModelName);
    expect(server.firmwareVersion?.value).toBe(IDENTITY.MajorMinorRevision);
    expect(server.manufacturer?.evidence.map((e) => e.field)).toEqual(['mei.vendor_name']);
  });

  it('calls the server a PLC by its Modicon part number, and the poller the SCADA side', () => {
    expect(server.category?.value).toBe('ot');
    expect(server.type?.value).toBe('plc');
    expect(client.protocols).toContain('modbus');
    expect(client.type?.value).toBe('hmi');
  });
});
