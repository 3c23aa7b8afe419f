// S7comm from a real implementation: Snap7 (its C library, through
// python-snap7 2.x from PyPI at the version test/peers/requirements.txt
// pins; `make test` provides it), the S7 stack PLC simulators, gateways and
// test benches use. In a network namespace its server plays an S7-300 CPU
// with the identity Snap7 gives it; from this side Snap7's client connects as
// an HMI does (COTP, Setup Communication), reads the component and module
// identification SZLs (0x001C, 0x0011), the CPU state, and a data block.
// tcpdump records the session; the agent's inventory is checked against
// tshark's reading of the same answers.
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

const PYTHON = pythonPeer('S7comm', 'snap7.server', 'python-snap7');

const HMI_IP = '10.97.1.1';
const PLC_IP = '10.97.1.2';

const SERVER = `
import sys, time, snap7
from snap7.type import SrvArea, WordLen
server = snap7.server.Server()
db = (WordLen.Byte.ctype * 100)()
server.register_area(SrvArea.DB, 1, db)
server.start_to(sys.argv[1], 102)
while True: time.sleep(1)
`;
const CLIENT = `
import sys, snap7
client = snap7.client.Client()
client.connect(sys.argv[1], 0, 2)
client.get_cpu_info()
client.get_order_code()
client.get_cpu_state()
client.db_read(1, 0, 10)
client.disconnect()
`;
const run = promisify(execFile);

describe.skipIf(!PYTHON)('S7comm from Snap7, a real S7 server and client', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let plc: DeviceRecord;
  let hmi: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-s7-'));
    capture = join(dir, 's7.pcap');
    writeFileSync(join(dir, 'server.py'), SERVER);
    writeFileSync(join(dir, 'client.py'), CLIENT);
    netns = VethNamespace.create('hk7');
    netns.address(HMI_IP, PLC_IP);
    const server = spawnInside(netns, dir, PYTHON, [join(dir, 'server.py'), PLC_IP]);
    try {
      await recording(netns, capture, 'tcp port 102', () =>
        waitFor(
          'the client to read the server',
          async () => Boolean(await run(PYTHON, [join(dir, 'client.py'), PLC_IP], { timeout: 20_000 })),
          { timeoutMs: 30_000, intervalMs: 1000 },
        ),
      );
    } finally {
      await server.stop();
    }
    result = await buildInventory(capture);
    plc = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
    hmi = result.devices.find((d) => d.macs.includes(netns.macs().near))!;
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** tshark's value of `field` in the server's answers. */
  const tshark = (field: string) => tsharkFields(capture, `s7comm && ip.src == ${PLC_IP}`, field)[0];

  it('reads the session and finds nothing malformed', () => {
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decodeErrors.s7comm).toBe(0);
    expect(plc.protocols).toEqual(['s7comm']);
    expect(hmi.protocols).toEqual(['s7comm']);
  });

  it('names the CPU from its component identification (SZL 0x001C), as tshark reads it', () => {
    const model = tshark('s7comm.szl.001c.0007.cputypname');
    const serial = tshark('s7comm.szl.001c.0005.serialn');
    expect(model).toMatch(/^CPU \d{3}/);
    expect(plc.model?.value).toBe(model);
    expect(plc.serialNumber?.value).toBe(serial);
    expect(tshark('s7comm.szl.001c.0004.copyright')).toBe('Original Siemens Equipment');
    expect(plc.manufacturer?.value).toBe('Siemens');
  });

  it('takes the firmware version from the module identification (SZL 0x0011)', () => {
    // The basic firmware's record (index 7): "V" and the major version, then minor and patch. (Snap7 also
    // answers index 0x81, the boot loader's, "A" and its version.)
    const records = (field: string) => tshark(`s7comm.szl.xy11.0001.${field}`)!.split(',');
    const firmware = records('index').findIndex((index) => Number(index) === 7);
    const ausbgFirmware = Number(records('ausbg')[firmware]);
    const ausbeFirmware = Number(records('ausbe')[firmware]);
    expect(String.fromCharCode(ausbgFirmware >> 8)).toBe('V');
    expect(plc.firmwareVersion?.value).toBe(
      `V${ausbgFirmware & 0xff}.${ausbeFirmware >> 8}.${ausbeFirmware & 0xff}`,
    );
  });

  it('classifies the server as a PLC and the client that reads its data as an HMI', () => {
    expect([plc.category?.value, plc.type?.value]).toEqual(['ot', 'plc']);
    expect([hmi.category?.value, hmi.type?.value]).toEqual(['ot', 'hmi']);
  });
});
