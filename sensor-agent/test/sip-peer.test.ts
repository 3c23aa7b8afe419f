// SIP from a real implementation: baresip, the SIP user agent many
// softphones, door phones and intercoms are built on (its re library), runs
// in a network namespace as a callee that answers by itself; a second
// baresip on this side calls it, hears it ring, hangs up, and both quit.
// tcpdump records the dialog; the agent's inventory is checked against
// tshark's reading of the same messages.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

// baresip has no option that exits 0 without starting (its -h exits 254): is it installed?
const canRun = peerAvailable(
  'SIP peer test skipped: needs root, iproute2, tcpdump, tshark and baresip (apt-get install baresip)',
  commandWorks('sh', ['-c', 'command -v baresip']),
);

const CALLER_IP = '10.96.1.1';
const CALLEE_IP = '10.96.1.2';
const run = promisify(execFile);

/** A configuration directory for baresip: no sound card (a sine wave in, a file out), SIP on `ip`. */
function configure(dir: string, ip: string, account: string): string {
  mkdirSync(dir);
  const modules = ['stdio', 'g711', 'ausine', 'aufile', 'account', 'menu'];
  writeFileSync(
    join(dir, 'config'),
    [
      'module_path /usr/lib/baresip/modules',
      ...modules.map((m) => `module ${m}.so`),
      'audio_player aufile,/dev/null',
      'audio_source ausine,440',
      `sip_listen ${ip}:5060`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'accounts'), `${account}\n`);
  return dir;
}

describe.skipIf(!canRun)('SIP from baresip, a real caller and callee', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let caller: DeviceRecord;
  let callee: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-sip-'));
    capture = join(dir, 'sip.pcap');
    netns = VethNamespace.create('hks');
    netns.address(CALLER_IP, CALLEE_IP);
    const calleeConfig = configure(
      join(dir, 'callee'),
      CALLEE_IP,
      `<sip:alice@${CALLEE_IP}>;regint=0;answermode=auto`,
    );
    const callerConfig = configure(join(dir, 'caller'), CALLER_IP, `<sip:bob@${CALLER_IP}>;regint=0`);
    const baresip = spawnInside(netns, dir, 'baresip', ['-4', '-f', calleeConfig, '-t', '30']);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000)); // listening
      await recording(netns, capture, 'udp port 5060', () =>
        // Dials, rings for two seconds, and quits (cancelling the call) when -t runs out.
        run('baresip', ['-4', '-f', callerConfig, '-e', `/dial sip:alice@${CALLEE_IP}`, '-t', '2'], {
          timeout: 15_000,
        }),
      );
    } finally {
      await baresip.stop();
    }
    result = await buildInventory(capture);
    caller = result.devices.find((d) => d.macs.includes(netns.macs().near))!;
    callee = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
  }, 60_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the whole dialog and finds nothing malformed', () => {
    const methods = tsharkFields(capture, 'sip.Request-Line', 'sip.Method');
    expect(methods).toEqual(expect.arrayContaining(['INVITE', 'CANCEL', 'ACK']));
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decodeErrors.sip).toBe(0);
    expect(result.stats.decoded.sip).toBe(tsharkFields(capture, 'sip', 'frame.number').length);
  });

  // The caller's requests carry User-Agent; the callee's responses, Server (RFC 3261 §20.35, §20.41).
  it.each([
    ['caller', CALLER_IP, 'sip.User-Agent', 'user_agent'],
    ['callee', CALLEE_IP, 'sip.Server', 'server'],
  ])(
    '%s: its product token names the software, and the OS in its platform token',
    (role, ip, field, header) => {
      const device = role === 'caller' ? caller : callee;
      const agents = tsharkFields(capture, `ip.src == ${ip} && ${field}`, field);
      expect(agents[0]).toMatch(/^baresip v[\d.]+ \(\w+\/linux\)$/);
      expect(device.protocols).toEqual(['sip']);
      expect(device.os?.value).toBe('Linux');
      expect(device.os?.evidence.map((e) => e.field)).toEqual([header]);
    },
  );
});
