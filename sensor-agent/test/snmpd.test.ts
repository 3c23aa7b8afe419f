// SNMP from a real agent: Net-SNMP's snmpd, the agent of Linux servers and
// of countless embedded devices and BMCs, runs in a network namespace under a
// hostname of its own and answers Net-SNMP's snmpget and snmpwalk from this
// side: v1 and v2c with a community, and v3 with a USM user, authenticated
// (in clear) and encrypted, its engine id made from its MAC address. tcpdump records the exchange; the agent's inventory of it is checked
// against what snmpd was configured with, what the host is, and tshark's
// reading of the same answers.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { readCapture } from '../src/capture/reader.js';
import { buildInventory, type InventoryResult, Pipeline } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';
import { RecordingStore } from './support.js';

const SNMPD = '/usr/sbin/snmpd';
const canRun = peerAvailable(
  'snmpd test skipped: needs root, iproute2, tcpdump, tshark, unshare, snmpd and snmpget (apt-get install snmpd snmp)',
  commandWorks(SNMPD, ['-v']),
  commandWorks('snmpget', ['--version']),
  commandWorks('unshare', ['--version']),
);

const NEAR_IP = '10.80.1.1';
const FAR_IP = '10.80.1.2';
const UTS_NAME = `snmp-peer-${process.pid}`;
const SYS_NAME = 'plc-gateway-7';
/** MIB-II system group (RFC 3418), numerically: the test needs no MIB files. */
const SYS_DESCR = '.1.3.6.1.2.1.1.1.0';
const SYS_OBJECT_ID = '.1.3.6.1.2.1.1.2.0';
const SYS_NAME_OID = '.1.3.6.1.2.1.1.5.0';
/** A USM user (RFC 3414) allowed to read at authNoPriv and above. */
const V3_USER = ['-u', 'hark', '-a', 'SHA', '-A', 'hark-auth-pass'];
const V3_PRIVACY = ['-x', 'AES', '-X', 'hark-priv-pass'];
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
        'createUser hark SHA "hark-auth-pass" AES "hark-priv-pass"',
        'rouser hark authnopriv',
        // RFC 3411 format 3: the engine id is Net-SNMP's enterprise number and this interface's MAC.
        'engineIDType 3',
        `engineIDNic ${netns.pairs[0]!.far}`,
        '',
      ].join('\n'),
    );
    // Its own UTS namespace: sysDescr names the host snmpd runs on, which is not this machine.
    // Its persistent state (engine boots, the USM user's keys) in the test's directory, not /var/lib/snmp.
    const snmpd = spawnInside(
      netns,
      dir,
      'env',
      [`SNMP_PERSISTENT_DIR=${dir}`, SNMPD, '-f', '-Lo', '-C', '-c', config, '-p', join(dir, 'snmpd.pid')],
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
        const v3 = (level: string, extra: string[]) =>
          run('snmpget', [
            '-v3',
            '-On',
            '-r',
            '1',
            '-t',
            '1',
            '-l',
            level,
            ...V3_USER,
            ...extra,
            FAR_IP,
            SYS_NAME_OID,
          ]);
        await v3('authPriv', V3_PRIVACY); // engine id discovery (a Report), then an encrypted response
        await v3('authNoPriv', []); // authenticated, in clear
      });
    } finally {
      await snmpd.stop();
    }
    result = await buildInventory(capture);
    agent = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
    const store = new RecordingStore();
    const pipeline = new Pipeline({ store, skipRepeats: false });
    for await (const p of readCapture(capture)) pipeline.process(p);
    engineIds = [...new Set(store.recorded.filter((o) => o.name === 'snmpEngineId').map((o) => o.value))];
    sysNamesRead = store.recorded.filter((o) => o.name === 'hostname' && o.field === 'sysName').length;
  }, 60_000);
  let engineIds: string[];
  /** sysName values the decoder read, one per answer that carried one. */
  let sysNamesRead: number;

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

  it('SNMPv3: reads the engine id every answer carries, and an answer in clear as v2c is read', () => {
    const v3 = tsharkFields(
      capture,
      `snmp.msgVersion == 3 && ip.src == ${FAR_IP}`,
      'snmp.msgAuthoritativeEngineID',
    );
    expect(v3.length).toBeGreaterThanOrEqual(3); // the Report, the encrypted answer, the authenticated one
    // 80001f88 (Net-SNMP's enterprise 8072, the RFC 3411 form), format 03 (a MAC), the interface's MAC.
    const mac = netns.macs().far.replace(/:/g, '');
    expect(new Set(v3.map((id) => id.replace(/:/g, '')))).toEqual(new Set([`80001f8803${mac}`]));
    expect(engineIds).toEqual([`80001f8803${mac}`]);
    // Every answer in clear that carries sysName, v3's authenticated one among them, is read; the encrypted
    // one is read by neither tshark nor the agent.
    const withSysName = `snmp.name == 1.3.6.1.2.1.1.5.0 && ip.src == ${FAR_IP}`;
    expect(tsharkFields(capture, `${withSysName} && snmp.msgVersion == 3`, 'frame.number')).toHaveLength(1);
    expect(sysNamesRead).toBe(tsharkFields(capture, withSysName, 'frame.number').length);
    expect(result.stats.decodeErrors.snmp).toBe(0);
    // Net-SNMP's enterprise names the agent software, not a maker.
    expect(agent.manufacturer).toBeUndefined();
  });
});
