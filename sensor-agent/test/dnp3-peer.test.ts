// DNP3 from a real implementation: opendnp3, the reference DNP3 stack (in
// yadnp3, its maintained fork's Python binding, from PyPI at the version
// test/peers/requirements.txt pins; `make test` provides it). In a network
// namespace it runs an outstation at link address 10; from this side its
// master (link address 1) connects as a SCADA front end does: it disables
// unsolicited reporting, clears the restart bit, polls classes 1-3 and 0
// (the integrity poll), enables unsolicited reporting, polls again and asks
// for every device attribute (group 0, variation 254), which the outstation
// does not support and says so. tcpdump records the exchange; the agent's
// inventory is checked against tshark's reading of the same frames.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { readCapture } from '../src/capture/index.js';
import type { HintName } from '../src/decoders/index.js';
import { hintValues } from '../src/inventory/device.js';
import { formatMac } from '../src/packet/addresses.js';
import { Pipeline, type PipelineStats } from '../src/pipeline.js';
import { pythonPeer, recording, spawnInside, tsharkFields } from './peers.js';

const PYTHON = pythonPeer('DNP3', 'opendnp3', 'yadnp3');

const MASTER_IP = '10.99.1.1';
const OUTSTATION_IP = '10.99.1.2';
const MASTER_ADDRESS = 1;
const OUTSTATION_ADDRESS = 10;

const OUTSTATION = `
import sys, time, opendnp3 as o
class Commands(o.ICommandHandler):
    def Begin(self): pass
    def End(self): pass
    def Select(self, *args): return o.CommandStatus.SUCCESS
    def Operate(self, *args): return o.CommandStatus.SUCCESS
class Application(o.IOutstationApplication): pass
class Listener(o.IChannelListener):
    def OnStateChange(self, state): pass
ip, local, remote = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
manager = o.DNP3Manager(1)
channel = manager.AddTCPServer('server', o.levels.NOTHING, o.ServerAcceptMode.CloseExisting, o.IPEndpoint(ip, 20000), Listener())
config = o.OutstationStackConfig(o.DatabaseConfig(4))
config.link.LocalAddr = local
config.link.RemoteAddr = remote
commands, application = Commands(), Application()
outstation = channel.AddOutstation('outstation', commands, application, config)
outstation.Enable()
while True: time.sleep(1)
`;
const MASTER = `
import os, sys, time, opendnp3 as o
class Events(o.ISOEHandler):
    def BeginFragment(self, info): pass
    def EndFragment(self, info): pass
    def Process(self, *args): pass
class Application(o.IMasterApplication): pass
class Listener(o.IChannelListener):
    def OnStateChange(self, state): pass
ip, local, remote = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
manager = o.DNP3Manager(1)
channel = manager.AddTCPClient('client', o.levels.NOTHING, o.ChannelRetry.Default(), [o.IPEndpoint(ip, 20000)], '0.0.0.0', Listener())
config = o.MasterStackConfig()
config.link.LocalAddr = local
config.link.RemoteAddr = remote
events = Events()
master = channel.AddMaster('master', events, Application(), config)
master.Enable()
time.sleep(2)  # its start-up tasks: disable unsolicited, clear the restart bit, integrity poll, enable unsolicited
master.ScanClasses(o.ClassField.AllClasses(), events)
time.sleep(1)
master.ScanAllObjects(o.GroupVariationID(0, 254), events)
time.sleep(1)
os._exit(0)  # as a front end that drops its connection: nothing to wait for in the stack's threads
`;
const run = promisify(execFile);

describe.skipIf(!PYTHON)('DNP3 from opendnp3 (yadnp3), a real master and outstation', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let stats: PipelineStats;
  let devices: DeviceRecord[];
  let hints: (mac: string, name: HintName) => string[];
  let outstation: DeviceRecord;
  let master: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-dnp3-'));
    capture = join(dir, 'dnp3.pcap');
    writeFileSync(join(dir, 'outstation.py'), OUTSTATION);
    writeFileSync(join(dir, 'master.py'), MASTER);
    netns = VethNamespace.create('hkd');
    netns.address(MASTER_IP, OUTSTATION_IP);
    const server = spawnInside(netns, dir, PYTHON, [
      join(dir, 'outstation.py'),
      OUTSTATION_IP,
      String(OUTSTATION_ADDRESS),
      String(MASTER_ADDRESS),
    ]);
    try {
      await recording(netns, capture, 'tcp port 20000', () =>
        waitFor(
          'the master to poll the outstation',
          async () =>
            Boolean(
              await run(
                PYTHON,
                [join(dir, 'master.py'), OUTSTATION_IP, String(MASTER_ADDRESS), String(OUTSTATION_ADDRESS)],
                { timeout: 20_000 },
              ),
            ) && tsharkFields(capture, 'dnp3.al.func == 129', 'frame.number').length > 0,
          { timeoutMs: 40_000, intervalMs: 1000 },
        ),
      );
    } finally {
      await server.stop();
    }
    // Every packet decoded (repeat-cache.test.ts covers skipping the repeated polls).
    const pipeline = new Pipeline({ skipRepeats: false });
    for await (const p of readCapture(capture)) pipeline.process(p);
    pipeline.flush();
    stats = pipeline.stats;
    devices = pipeline.store.toRecords();
    const byMac = new Map(pipeline.store.devices().map((d) => [formatMac(d.mac), d]));
    hints = (mac, name) => [...hintValues(byMac.get(mac)!, name)].sort();
    outstation = devices.find((d) => d.macs.includes(netns.macs().far))!;
    master = devices.find((d) => d.macs.includes(netns.macs().near))!;
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('decodes every segment that carries a link frame, and finds nothing malformed', () => {
    // The exchange was what the description says: requests one way, responses the other.
    const functions = new Set(tsharkFields(capture, 'dnp3.al.func', 'dnp3.al.func'));
    for (const fn of ['21', '2', '1', '20', '129']) expect(functions).toContain(fn);
    expect(tsharkFields(capture, 'dnp3.al.obj == 0x00fe', 'frame.number').length).toBeGreaterThan(0);
    expect(stats.malformed).toBe(0);
    expect(stats.decodeErrors.dnp3).toBe(0);
    expect(stats.decoded.dnp3).toBe(tsharkFields(capture, 'dnp3', 'frame.number').length);
  });

  it('names each end by the DIR bit and source address of its frames, as tshark reads them', () => {
    const fromMaster = tsharkFields(capture, `dnp3 && ip.src == ${MASTER_IP}`, 'dnp3.ctl.dir');
    const fromOutstation = tsharkFields(capture, `dnp3 && ip.src == ${OUTSTATION_IP}`, 'dnp3.ctl.dir');
    expect(new Set(fromMaster)).toEqual(new Set(['1']));
    expect(new Set(fromOutstation)).toEqual(new Set(['0']));
    expect(hints(netns.macs().far, 'role')).toEqual(['dnp3:outstation']);
    expect(hints(netns.macs().near, 'role')).toEqual(['dnp3:master']);
    expect(hints(netns.macs().far, 'linkAddress')).toEqual([String(OUTSTATION_ADDRESS)]);
    expect(hints(netns.macs().near, 'linkAddress')).toEqual([String(MASTER_ADDRESS)]);
  });

  it('tells the outstation (an RTU) from the master (SCADA)', () => {
    expect(outstation.protocols).toEqual(['dnp3']);
    expect([outstation.category?.value, outstation.type?.value]).toEqual(['ot', 'rtu']);
    expect(master.protocols).toEqual(['dnp3']);
    expect([master.category?.value, master.type?.value]).toEqual(['ot', 'scada-server']);
  });
});
