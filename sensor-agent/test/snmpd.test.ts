// SNMP from a real agent: Net-SNMP's snmpd, the agent of Linux servers and
// of countless embedded devices and BMCs, runs in a network namespace under a
// hostname of its own and answers Net-SNMP's snmpget and snmpwalk from this
// side. tcpdump records the exchange; the agent's inventory of it is checked
// against what snmpd was configured with, what the host is, and tshark's
// reading of the same answers.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, netnsAvailable, VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { recording, spawnInside, tsharkFields } from './peers.js';
import { tsharkAvailable } from './reframe.js';

const SNMPD = '/usr/sbin/snmpd';
const canRun =
  netnsAvailable('tcpdump') &&
  commandWorks(SNMPD, ['-v']) &&
  commandWorks('snmpget', ['--version']) &&
  commandWorks('unshare', ['--version']) &&
  tsharkAvailable();
if (!canRun)
  console.warn(
    'snmpd test skipped: needs root, iproute2, tcpdump, tshark, unshare, snmpd and snmpget (apt-get install snmpd snmp)',
  );

const NEAR_IP = '10.80.1.1';
const FAR_IP = '10.80.1.2';
const UTS_NAME = `snmp-peer-${process.pid}`;
const SYS_NAME = 'plc-gateway-7';
/** MIB-II system group (RFC 3418), numerically: the test needs no MIB files. */
const SYS_DESCR = '.1.3.6.1.2.1.1.1.0';
const SYS_OBJECT_ID = '.1.3.6.1.2.1.1.2.0';
const SYS_NAME_OID = '.1.3.6.1.2.1.1.5.0';
const run = promisify(execFile);

describe.skipIf(!canRun)('SNMP from Net-SNMP, a real agent', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let agent: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-snmpd-'));
    capture = join(dir, 'snmp.pcap');
    netns = VethNamespace.create('hkn');
    netns.address(NEAR_IP, FAR_IP);
    netns.exec(['ip', 'link', 'set', 'lo', 'up']);
    const config = join(dir, 'snmpd.conf');
    writeFileSync(
      config,
      [
        `agentAddress udp:${FAR_IP}:161`,
        `rocommunity public ${NEAR_IP}/32`,
        `sysName ${SYS_NAME}`,
        'sysLocation Plant 3, rack 7',
        'sysContact ot-team@example.com',
        '',
      ].join('\n'),
    );
    // Its own UTS namespace: sysDescr names the host snmpd runs on, which is not this machine.
    const snmpd = spawnInside(
      netns,
      dir,
      SNMPD,
      ['-f', '-Lo', '-C', '-c', config, '-p', join(dir, 'snmpd.pid')],
      UTS_NAME,
    );
    try {
      await recording(netns, capture, 'udp port 161', async () => {
        const ask = (command: string, version: string, oids: string[]) =>
          run(command, [version, '-On', '-r', '1', '-t', '1', '-c', 'public', FAR_IP, ...oids]);
        await waitFor(
          'snmpd to answer',
          async () => Boolean(await ask('snmpget', '-v2c', [SYS_DESCR, SYS_OBJECT_ID, SYS_NAME_OID])),
          {
            timeoutMs: 10_000,
          },
        );
        await ask('snmpwalk', '-v1', ['.1.3.6.1.2.1.1']);
      });
    } finally {
      await snmpd.stop();
    }
    result = await buildInventory(capture);
    agent = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
  }, 60_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** tshark's reading of the value of `oid` (dotted, no leading dot) in every answer that carries it. */
  const answers = (oid: string, field: 'snmp.value.octets' | 'snmp.value.oid') =>
    tsharkFields(capture, `snmp.name == ${oid} && ip.src == ${FAR_IP}`, field);

  it('reads every answer, v1 and v2c, and finds nothing malformed', () => {
    expect(agent).toBeDefined();
    expect(agent.protocols).toContain('snmp');
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decoded.snmp).toBe(
      tsharkFields(capture, `snmp && ip.src == ${FAR_IP}`, 'frame.number').length,
    );
  });

  it('names the device by its sysName, as configured, not by the host name in sysDescr', () => {
    expect(agent.hostname?.value).toBe(SYS_NAME);
    expect(answers('1.3.6.1.2.1.1.1.0', 'snmp.value.octets')[0]).toBeDefined();
  });

  it("takes Linux from sysDescr and from Net-SNMP's Linux object id, and no maker from the agent's", () => {
    // Net-SNMP on Linux: "Linux <host> <release> #<build> ... <machine>", and netSnmpAgentOIDs.linux.
    expect(answers('1.3.6.1.2.1.1.2.0', 'snmp.value.oid')).toContain('1.3.6.1.4.1.8072.3.2.10');
    expect(agent.os?.value).toBe('Linux');
    expect(agent.os?.evidence.map((e) => e.field)).toEqual(
      expect.arrayContaining(['sysDescr', 'sysObjectID']),
    );
    // Net-SNMP is the agent software, not who made the device.
    expect(agent.manufacturer).toBeUndefined();
    // Nothing in the kernel release ("6.1.0-13-amd64", "6.18.44-fc-v1252") passes for firmware.
    expect(agent.firmwareVersion).toBeUndefined();
    expect(agent.model).toBeUndefined();
  });
});
