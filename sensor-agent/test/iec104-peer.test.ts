// IEC 60870-5-104 from a real implementation: c104 (from PyPI, at the version
// test/peers/requirements.txt pins; `make test` provides it), the Python
// binding of lib60870-C, the IEC 104 stack many RTUs and gateways embed. In a
// network namespace it runs a controlled station (common address 47) with a
// cyclic measurand, a status point and a command point; from this side its
// client connects as a SCADA front end does: STARTDT, the interrogation and
// clock synchronization c104 sends every station (address 65535) as it
// starts, in most runs, then an interrogation, a read of the status point and
// a command to station 47. tcpdump records
// the exchange; the agent's inventory of it is checked against tshark's
// reading of the same frames.
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

const PYTHON = pythonPeer('IEC 104', 'c104', 'c104');

const SCADA_IP = '10.93.1.1';
const RTU_IP = '10.93.1.2';
const COMMON_ADDRESS = 47;

const SERVER = `
import sys, time, c104
server = c104.Server(ip=sys.argv[1], port=2404)
station = server.add_station(common_address=int(sys.argv[2]))
voltage = station.add_point(io_address=11, type=c104.Type.M_ME_TF_1, report_ms=500)
voltage.value = 230.4
breaker = station.add_point(io_address=12, type=c104.Type.M_SP_TB_1)
breaker.value = True
station.add_point(io_address=21, type=c104.Type.C_SC_NA_1)
server.start()
while True: time.sleep(1)
`;
const CLIENT = `
import os, sys, time, c104
# A command whose confirmation c104 misses (see below) costs a second, not its default ten.
client = c104.Client(command_timeout_ms=1000)
connection = client.add_connection(ip=sys.argv[1], port=2404, init=c104.Init.ALL)
station = connection.add_station(common_address=int(sys.argv[2]))
voltage = station.add_point(io_address=11, type=c104.Type.M_ME_TF_1)
breaker = station.add_point(io_address=12, type=c104.Type.M_SP_TB_1)
command = station.add_point(io_address=21, type=c104.Type.C_SC_NA_1)
client.start()
for _ in range(100):
    if connection.is_connected: break
    time.sleep(0.1)
else:
    sys.stderr.write("not connected\\n")
    os._exit(1)  # not sys.exit: c104's threads would keep the process
time.sleep(1.2)  # two cyclic transmissions of the measurand
# The read and the command wait for the station's confirmation. c104 now and then sends neither (its
# connection not started yet, by its own reckoning) or misses the confirmation the station sent (tshark
# shows it): each is asked again, a few times, until the station has confirmed both once. The
# interrogation does not wait: its answers are in before the read's.
connection.interrogation(
    common_address=int(sys.argv[2]), cause=c104.Cot.ACTIVATION, qualifier=c104.Qoi.STATION, wait_for_response=False)
time.sleep(0.3)
command.value = True
for _ in range(5):
    if breaker.read() and command.transmit(cause=c104.Cot.ACTIVATION): break
    time.sleep(0.5)
else:
    sys.stderr.write("the station confirmed no read and command in 5 tries\\n")
    os._exit(1)
# Gone at once, as a SCADA front end that drops its connection: nothing left to wait for in client.stop().
os._exit(0)
`;
const run = promisify(execFile);

describe.skipIf(!PYTHON)('IEC 104 from lib60870 (c104), a real controlled and controlling station', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let rtu: DeviceRecord;
  let scada: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-iec104-'));
    capture = join(dir, 'iec104.pcap');
    writeFileSync(join(dir, 'server.py'), SERVER);
    writeFileSync(join(dir, 'client.py'), CLIENT);
    netns = VethNamespace.create('hki');
    netns.address(SCADA_IP, RTU_IP);
    const server = spawnInside(netns, dir, PYTHON, [join(dir, 'server.py'), RTU_IP, String(COMMON_ADDRESS)]);
    try {
      await recording(netns, capture, 'tcp port 2404', () =>
        waitFor(
          'the SCADA client to read and command the RTU',
          async () =>
            Boolean(
              await run(PYTHON, [join(dir, 'client.py'), RTU_IP, String(COMMON_ADDRESS)], {
                timeout: 20_000,
              }),
            ),
          { timeoutMs: 40_000, intervalMs: 500 },
        ),
      );
    } finally {
      await server.stop();
    }
    result = await buildInventory(capture);
    rtu = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
    scada = result.devices.find((d) => d.macs.includes(netns.macs().near))!;
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('decodes every APDU tshark reads, and finds nothing malformed', () => {
    // The exchange was what the description says: the broadcast station's and station 47's ASDUs, both ways.
    // Station 47's ASDUs, and those c104 sends every station (65535) as it starts, when it does (not every run).
    const addresses = new Set(tsharkFields(capture, 'iec60870_asdu', 'iec60870_asdu.addr'));
    expect(addresses).toContain(String(COMMON_ADDRESS));
    for (const address of addresses) expect([String(COMMON_ADDRESS), '65535']).toContain(address);
    const types = new Set(tsharkFields(capture, 'iec60870_asdu', 'iec60870_asdu.typeid'));
    // Interrogation, read, command, the cyclic measurand, the status point (clock sync comes with c104's start-up).
    for (const type of ['100', '102', '45', '36', '30']) expect(types).toContain(type);
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decodeErrors.iec104).toBe(0);
    expect(result.stats.decoded.iec104).toBe(tsharkFields(capture, '104apci', 'frame.number').length);
  });

  it('tells the controlled station (an RTU) from the controlling one (SCADA)', () => {
    expect(rtu.protocols).toEqual(['iec104']);
    expect(rtu.category?.value).toBe('ot');
    expect(rtu.type?.value).toBe('rtu');
    expect(scada.protocols).toEqual(['iec104']);
    expect(scada.category?.value).toBe('ot');
    expect(scada.type?.value).toBe('scada-server');
  });
});
