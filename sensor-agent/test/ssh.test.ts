// SSH identification strings (src/decoders/ssh.ts) from real software: the
// Debian OpenSSH client here connects to a real sshd in a network namespace
// while the agent's live capture listens between them. The truth is what
// each program says it is: `ssh -V`, and the line the server sends.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, netnsAvailable, VethNamespace } from '../../test/support/netns.js';
import { sshOs } from '../src/decoders/ssh.js';
import { LiveCapture } from '../src/live/index.js';
import { Pipeline } from '../src/pipeline.js';
import { RecordingStore } from './support.js';

const SSHD = '/usr/sbin/sshd';
const canRun = netnsAvailable('tcpdump') && commandWorks('ssh', ['-V']) && existsSync(SSHD);
if (!canRun)
  console.warn(
    'SSH identification test skipped: needs root, iproute2, tcpdump, the OpenSSH client and server (apt-get install openssh-server)',
  );

const NEAR_IP = '10.78.1.1';
const FAR_IP = '10.78.1.2';

/** The first line a TCP server sends. */
function firstLine(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let text = '';
    socket.setTimeout(3000, () => socket.destroy(new Error(`no line from ${host}:${port}`)));
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end >= 0) {
        resolve(text.slice(0, end));
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

describe.skipIf(!canRun)('SSH identification strings, from a real client and server', () => {
  let netns: VethNamespace;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-ssh-'));
    netns = VethNamespace.create('hks');
    netns.address(NEAR_IP, FAR_IP);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege separation directory
    // The server, in the namespace: it is the far end's host.
    execFile('ip', [
      'netns',
      'exec',
      netns.name,
      SSHD,
      '-D',
      '-e',
      '-f',
      '/dev/null',
      '-h',
      join(dir, 'host_key'),
      '-o',
      `ListenAddress=${FAR_IP}`,
      '-o',
      'PidFile=none',
      '-o',
      'UsePAM=no',
    ]);
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await firstLine(FAR_IP, 22);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  afterAll(() => {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', netns.name], { encoding: 'utf8' });
      for (const pid of pids.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGTERM');
    } catch {}
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names each end by its SSH software, and its OS where the distribution put it in the line', async () => {
    const store = new RecordingStore();
    const pipeline = new Pipeline({ store });
    const live = new LiveCapture({
      interface: netns.pairs[0]!.near,
      filter: 'tcp port 22',
      onFrames: (frames) => pipeline.processBatch(frames),
    });
    await live.start();
    const macs = netns.macs();
    const facts = (mac: string, name: string) =>
      store.recorded
        .filter((o) => o.name === name && o.mac === Number.parseInt(mac.replace(/:/g, ''), 16))
        .map((o) => o.value);
    try {
      const deadline = Date.now() + 8000;
      while (!live.listening && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      // "OpenSSH_9.2p1 Debian-2+deb12u6": what the client puts after "SSH-2.0-".
      const clientSoftware = clientVersion();
      const server = (await firstLine(FAR_IP, 22)).replace(/^SSH-2\.0-/, '');
      await promisify(execFile)('ssh', [
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=3',
        `hark@${FAR_IP}`,
        'true',
      ]).catch(() => {}); // no account: the identification strings are exchanged all the same
      while (facts(macs.near, 'sshSoftware').length === 0 || facts(macs.far, 'sshSoftware').length === 0) {
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(facts(macs.near, 'sshSoftware')).toContain(clientSoftware);
      expect(facts(macs.far, 'sshSoftware')).toContain(server);
      for (const [mac, line] of [
        [macs.near, clientSoftware],
        [macs.far, server],
      ] as const) {
        const [software, ...comments] = line.split(' ');
        const os = sshOs(software!, comments.join(' '));
        if (/\+deb\d+u\d+/.test(line)) expect(os?.os).toMatch(/^Linux \(Debian \d+\)$/);
        if (os) expect(facts(mac, 'os')).toContain(os.os);
      }
      // The server answers on 22: a Debian host that does is a server; the client is not called one.
      expect(facts(macs.far, 'role')).toContain('ssh:server');
      expect(facts(macs.near, 'role')).not.toContain('ssh:server');
      const records = store.toRecords();
      const far = records.find((d) => d.macs.includes(macs.far));
      if (/^(Debian|Ubuntu)/.test(far?.os?.value ?? '')) expect(far?.type?.value).toBe('server');
      expect(pipeline.stats.decoded.ssh).toBeGreaterThanOrEqual(2);
      expect(pipeline.stats.decodeErrors.ssh).toBe(0);
    } finally {
      await live.stop();
    }
  }, 30_000);
});

/** The OpenSSH client's version as it sends it: `ssh -V` prints it (to stderr) before ", OpenSSL". */
function clientVersion(): string {
  const out = execFileSync('sh', ['-c', 'ssh -V 2>&1'], { encoding: 'utf8' });
  return out.split(',')[0]!.trim();
}
