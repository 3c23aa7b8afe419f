// LLDP (with LLDP-MED), CDP, FDP and EDP from a real implementation: lldpd,
// the daemon Linux servers and network operating systems (Cumulus, SONiC,
// VyOS) announce themselves with, run in a network namespace under a
// hostname of its own. tcpdump records what it sends; the agent's inventory
// of that capture is checked against what lldpd was told and what the host
// is, and against tshark's reading of the same frames.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { readCapture } from '../src/capture/index.js';
import { parseSystemDescription } from '../src/decoders/sysdescr.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

const canRun = peerAvailable(
  'lldpd test skipped: needs root, iproute2, tcpdump, tshark, unshare and lldpd (apt-get install lldpd)',
  commandWorks('lldpd', ['-v']),
  commandWorks('unshare', ['--version']),
);

const NEAR_IP = '10.91.1.1';
const FAR_IP = '10.91.1.2';
const HOSTNAME = `hark-peer-${process.pid}`;
/** What each run waits for in the capture: frames to these destinations (LLDP; CDP; FDP; EDP). */
const LLDP_DST = '01:80:c2:00:00:0e';
const CDP_DST = '01:00:0c:cc:cc:cc';
const FDP_DST = '01:e0:52:cc:cc:cc';
const EDP_DST = '00:e0:2b:00:00:00';

describe.skipIf(!canRun)('discovery protocols from lldpd, a real implementation', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let peer: DeviceRecord;
  let far: string;

  /** Destination MACs of the frames captured so far from the far end. */
  async function destinations(): Promise<Set<string>> {
    const seen = new Set<string>();
    try {
      for await (const p of readCapture(capture)) {
        const hex = p.data.subarray(0, 6).toString('hex');
        if (p.data.subarray(6, 12).toString('hex') === far.replace(/:/g, ''))
          seen.add(hex.replace(/(..)(?!$)/g, '$1:'));
      }
    } catch {} // the last record may still be being written
    return seen;
  }

  /** Runs lldpd with `flags` in the namespace until frames to every one of `wanted` are captured, then stops it. */
  async function lldpd(flags: string[], wanted: string[]): Promise<void> {
    const args = ['-d', '-O', '/dev/null', '-L', '', ...flags, '-m', FAR_IP, '-u', join(dir, 'lldpd.socket')];
    const child = spawnInside(netns, dir, 'lldpd', [...args, '-I', netns.pairs[0]!.far], HOSTNAME);
    try {
      await waitFor(
        `lldpd ${flags.join(' ')} to send frames to ${wanted}`,
        async () => {
          const seen = await destinations();
          return wanted.every((d) => seen.has(d));
        },
        { timeoutMs: 15_000 },
      );
    } finally {
      await child.stop(); // it sends a shutdown LLDPDU (TTL 0) as it goes
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-lldpd-'));
    capture = join(dir, 'lldpd.pcap');
    netns = VethNamespace.create('hkl');
    netns.address(NEAR_IP, FAR_IP);
    far = netns.macs().far;
    await recording(netns, capture, 'not ip6', async () => {
      // LLDP with LLDP-MED (class I endpoint) first; lldpd sends LLDP only alone (or to LLDP peers).
      await lldpd(['-M', '1'], [LLDP_DST]);
      // Then the other vendors' protocols, sent without waiting for a peer of theirs: CDPv1 and v2, EDP, FDP, SONMP.
      await lldpd(['-ccc', '-ee', '-ff', '-ss'], [CDP_DST, FDP_DST, EDP_DST]);
    });
    result = await buildInventory(capture);
    peer = result.devices.find((d) => d.macs.includes(far))!;
  }, 60_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** tshark's values of `field` in the capture, one per frame that has it. */
  const tshark = (field: string) => tsharkFields(capture, field, field);

  const evidence = (name: keyof DeviceRecord) =>
    ((peer[name] as DeviceRecord['hostname'])?.evidence ?? []).map((e) => `${e.protocol}:${e.value}`);

  it('decodes every frame lldpd sent, its shutdown LLDPDU included, and finds nothing malformed', () => {
    expect(peer).toBeDefined();
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decoded.lldp).toBe(tshark('lldp.tlv.system.name').length + 1); // + TTL 0, nameless
    expect(result.stats.decoded.cdp).toBe(tshark('cdp.deviceid').length);
    expect(result.stats.decoded.fdp).toBe(tshark('fdp.deviceid').length);
    expect(result.stats.decoded.edp).toBe(tshark('edp.display.string').length);
    expect(peer.protocols).toEqual(expect.arrayContaining(['lldp', 'cdp', 'fdp', 'edp']));
  });

  it('names the host by what each protocol says, the name set in its namespace', () => {
    expect(tshark('lldp.tlv.system.name')).toContain(HOSTNAME);
    expect(peer.hostname?.value).toBe(HOSTNAME);
    expect(evidence('hostname')).toEqual(
      expect.arrayContaining([`lldp:${HOSTNAME}`, `cdp:${HOSTNAME}`, `fdp:${HOSTNAME}`, `edp:${HOSTNAME}`]),
    );
  });

  it('takes the management address it was given, and the OS its description names', () => {
    expect(tshark('lldp.mgn.addr.ip4')).toContain(FAR_IP);
    expect(peer.ipv4).toEqual([FAR_IP]);
    // lldpd describes a host as its distribution's name and `uname -srvm`.
    const description = tshark('lldp.tlv.system.desc')[0]!;
    expect(description).toContain(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    const os = parseSystemDescription(description).os;
    expect(os).toMatch(/^Linux/);
    expect(peer.os?.value).toBe(os);
  });

  it('reads the firmware from LLDP-MED, not out of the kernel release in the description', () => {
    // LLDP-MED's software revision is the kernel release; the description holds it too, where a
    // "-v<digits>" inside a release must not pass for a version of its own.
    const release = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
    expect(tshark('lldp.media.software')).toContain(release);
    expect(peer.firmwareVersion?.value).toBe(release);
    expect(evidence('firmwareVersion')).toEqual([`lldp:${release}`]);
  });

  it('gives no model for a platform that names a kernel (CDP and FDP say "Linux")', () => {
    expect(tshark('cdp.platform')).toContain('Linux');
    expect(peer.model).toBeUndefined();
  });
});
