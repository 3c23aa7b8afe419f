// Kerberos from a real implementation: MIT Kerberos's KDC runs a realm in a
// network namespace; from this side a computer's machine account ("WS1$",
// from a keytab, as a domain member logs itself on) and a user ("alice",
// with a password) ask it for tickets with kinit. tcpdump records the
// exchange; the agent's inventory of it is checked against who asked, and
// tshark's reading of the same messages.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

const KRB5KDC = '/usr/sbin/krb5kdc';
const canRun = peerAvailable(
  'Kerberos peer test skipped: needs root, iproute2, tcpdump, tshark and MIT Kerberos (apt-get install krb5-kdc krb5-admin-server krb5-user)',
  [KRB5KDC, '/usr/sbin/kdb5_util', '/usr/sbin/kadmin.local', '/usr/bin/kinit'].every((tool) =>
    existsSync(tool),
  ),
);

const CLIENT_IP = '10.89.1.1';
const KDC_IP = '10.89.1.2';
const REALM = 'PLANT.EXAMPLE';
const MACHINE = 'WS1';

describe.skipIf(!canRun)('Kerberos from MIT Kerberos, a real KDC and client', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let client: DeviceRecord;
  let kdc: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-kerberos-'));
    capture = join(dir, 'kerberos.pcap');
    netns = VethNamespace.create('hkk');
    netns.address(CLIENT_IP, KDC_IP);
    writeFileSync(
      join(dir, 'krb5.conf'),
      `[libdefaults]\n default_realm = ${REALM}\n dns_lookup_kdc = false\n[realms]\n ${REALM} = {\n  kdc = ${KDC_IP}\n }\n`,
    );
    writeFileSync(
      join(dir, 'kdc.conf'),
      [
        '[kdcdefaults]',
        ' kdc_ports = 88',
        ' kdc_tcp_ports = 88',
        '[realms]',
        ` ${REALM} = {`,
        `  database_name = ${join(dir, 'principal')}`,
        `  key_stash_file = ${join(dir, 'stash')}`,
        ' }',
        '',
      ].join('\n'),
    );
    const env = {
      ...process.env,
      KRB5_CONFIG: join(dir, 'krb5.conf'),
      KRB5_KDC_PROFILE: join(dir, 'kdc.conf'),
    };
    const admin = (query: string) =>
      execFileSync('kadmin.local', ['-r', REALM, '-q', query], { env, stdio: 'ignore' });
    execFileSync('kdb5_util', ['-r', REALM, 'create', '-s', '-P', 'master-key-of-the-test'], {
      env,
      stdio: 'ignore',
    });
    admin(`addprinc -randkey ${MACHINE}$`);
    admin(`ktadd -k ${join(dir, 'machine.keytab')} ${MACHINE}$`);
    admin('addprinc -pw a-password alice');
    const kdcProcess = spawnInside(netns, dir, 'env', [
      `KRB5_CONFIG=${env.KRB5_CONFIG}`,
      `KRB5_KDC_PROFILE=${env.KRB5_KDC_PROFILE}`,
      KRB5KDC,
      '-n',
    ]);
    try {
      await recording(netns, capture, 'port 88', async () => {
        const kinit = (args: string[], cache: string, input?: string) =>
          new Promise<void>((resolve, reject) => {
            const child = execFile(
              'kinit',
              args,
              { env: { ...env, KRB5CCNAME: join(dir, cache) }, timeout: 10_000 },
              (e) => (e ? reject(e) : resolve()),
            );
            child.stdin?.end(input ?? '');
          });
        // The computer logs on with its keytab, as a domain member does; then a user with her password.
        await waitFor(
          'the KDC to issue the machine its ticket',
          async () => {
            await kinit(['-k', '-t', join(dir, 'machine.keytab'), `${MACHINE}$@${REALM}`], 'machine.cc');
            return true;
          },
          { timeoutMs: 10_000 },
        );
        await kinit([`alice@${REALM}`], 'alice.cc', 'a-password\n');
      });
    } finally {
      await kdcProcess.stop();
    }
    result = await buildInventory(capture);
    const macs = netns.macs();
    client = result.devices.find((d) => d.macs.includes(macs.near))!;
    kdc = result.devices.find((d) => d.macs.includes(macs.far))!;
  }, 60_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads every request and reply, and finds nothing malformed', () => {
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decoded.kerberos).toBe(tsharkFields(capture, 'kerberos', 'frame.number').length);
  });

  it("names the computer by its machine account's AS-REQ, and never reports the user", () => {
    expect(tsharkFields(capture, 'kerberos.msg_type == 10', 'kerberos.CNameString')).toEqual(
      expect.arrayContaining([`${MACHINE}$`, 'alice']),
    );
    expect(client.hostname?.value).toBe(MACHINE);
    expect(JSON.stringify(result.devices)).not.toContain('alice');
  });

  it('calls the one that answers the KDC', () => {
    expect(tsharkFields(capture, 'kerberos.msg_type == 11', 'ip.src')).toContain(KDC_IP);
    expect(kdc.protocols).toContain('kerberos');
    expect(kdc.type?.value).toBe('domain-controller');
  });
});
