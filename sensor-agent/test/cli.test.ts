// The CLI as a user runs it: a child process on the compiled dist/cli.js.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, MISSING, pcap, REPO_ROOT } from './support.js';

const run = promisify(execFile);
const CLI = join(REPO_ROOT, 'sensor-agent', 'dist', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'hark-cli-'));

// The CLI test runs the build output: make sure it is current.
beforeAll(() => buildOnce(), 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(MISSING)('hark-agent inventory', () => {
  it('--json prints devices and stats for a real capture', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'inventory', pcap('zeek__cdp-v1.pcap'), '--json']);
    const out = JSON.parse(stdout) as {
      devices: DeviceRecord[];
      stats: { packets: number; decoded: Record<string, number> };
    };
    expect(out.stats.packets).toBe(1);
    expect(out.stats.decoded.cdp).toBe(1);
    expect(out.devices).toHaveLength(1);
    expect(out.devices[0]!.hostname?.value).toBe('R1');
    expect(out.devices[0]!.ipv4).toEqual(['192.168.10.1']);
  });

  it("runs from the repo root as `npx hark-agent` (the README's command), without fetching anything", async () => {
    // npm links a workspace's bin only when its target exists at install time: one pointing into
    // dist/ was skipped on a fresh clone, where `npm ci` runs before the build.
    // npx runs on the Node first on PATH: this one.
    const bin = dirname(process.execPath);
    const { stdout } = await run(
      'npx',
      ['--no-install', 'hark-agent', 'inventory', pcap('zeek__cdp-v1.pcap'), '--json'],
      { cwd: REPO_ROOT, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
    );
    expect((JSON.parse(stdout) as { devices: DeviceRecord[] }).devices[0]!.hostname?.value).toBe('R1');
  });

  it('reads the capture from standard input when it is given as -', async () => {
    const args = [CLI, 'inventory', '--json'];
    const { stdout: fromFile } = await run(process.execPath, [...args, pcap('zeek__lldp.pcap')]);
    const input = openSync(pcap('zeek__lldp.pcap'), 'r');
    const child = spawn(process.execPath, [...args, '-'], { stdio: [input, 'pipe', 'inherit'] });
    closeSync(input); // the child has its own copy
    let fromStdin = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      fromStdin += chunk;
    });
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    expect(JSON.parse(fromStdin)).toEqual(JSON.parse(fromFile));
    expect((JSON.parse(fromStdin) as { devices: DeviceRecord[] }).devices.length).toBeGreaterThan(0);
  });

  it('prints a table by default', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'inventory', pcap('zeek__lldp.pcap')]);
    expect(stdout).toMatch(/^MAC\s+IPv4\s+Vendor/);
    expect(stdout).toContain('00:22:2d:81:db:10');
    expect(stdout).toContain('SMCGS8P-Smart');
  });

  it('the table has an OS column', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'inventory', pcap('ndpi__iphone.pcap')]);
    const header = stdout.split('\n')[0]!;
    const iphone = stdout.split('\n').find((l) => l.startsWith('c4:61:8b:35:82:a9'))!;
    // The iPhone's DHCP parameter request list names iOS (inventory.test.ts).
    expect(iphone.slice(header.indexOf('OS'), header.indexOf('Type')).trim()).toBe('iOS');
  });

  it('fails with exit code 1 and the offset on a file that is not a capture', async () => {
    const error = await run(process.execPath, [CLI, 'inventory', pcap('MANIFEST.md')]).catch(
      (e: unknown) => e,
    );
    expect((error as { code: number }).code).toBe(1);
    expect((error as { stderr: string }).stderr).toMatch(/not a pcap or pcapng capture.*byte offset 0/);
  });
});

describe('hark-agent simulate', () => {
  it('writes a deterministic site that the inventory reads back', async () => {
    const a = join(tmp, 'a.pcap');
    const b = join(tmp, 'b.pcap');
    await run(process.execPath, [
      CLI,
      'simulate',
      '--devices',
      '10',
      '--out',
      a,
      '--seed',
      '7',
      '--duration',
      '60',
    ]);
    await run(process.execPath, [
      CLI,
      'simulate',
      '--devices',
      '10',
      '--out',
      b,
      '--seed',
      '7',
      '--duration',
      '60',
    ]);
    expect(existsSync(a)).toBe(true);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    const { stdout } = await run(process.execPath, [CLI, 'inventory', a, '--json']);
    const out = JSON.parse(stdout) as { devices: DeviceRecord[]; stats: { malformed: number } };
    expect(out.stats.malformed).toBe(0);
    // 10 simulated devices, the DHCP server and gateway, and the VRRP virtual router it answers for
    expect(out.devices).toHaveLength(12);
    const types = new Set(out.devices.map((d) => d.type?.value));
    for (const t of ['printer', 'switch', 'workstation', 'camera', 'router']) expect(types).toContain(t);
    const protocols = new Set(out.devices.flatMap((d) => d.protocols));
    for (const p of ['browser', 'stp', 'vrrp', 'lldp', 'mdns', 'ssdp']) expect(protocols).toContain(p);
  });
});

describe('hark-agent inventory | head', () => {
  it('leaves quietly when its reader stops early', async () => {
    // A few MB of JSON (a simulated 3000-device site), one chunk read and the pipe closed: exit 0, nothing on stderr.
    const site = join(tmp, 'pipe-site.pcap');
    await run(process.execPath, [CLI, 'simulate', '--devices', '3000', '--duration', '30', '--out', site]);
    const child = spawn(process.execPath, [CLI, 'inventory', site, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
