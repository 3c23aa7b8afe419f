// Syslog (src/decoders/syslog.ts) from real software: util-linux's logger
// sends RFC 5424 and RFC 3164 messages over UDP across a veth pair while the
// agent's live capture listens; tshark's syslog dissector reads the host
// name from the same capture. The corpus has no syslog, hence a live test.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, netnsAvailable, VethNamespace } from '../../test/support/netns.js';
import { syslogHostname } from '../src/decoders/syslog.js';
import { LiveCapture } from '../src/live/index.js';
import { Pipeline } from '../src/pipeline.js';
import { tsharkAvailable, tsharkFields } from './reframe.js';
import { RecordingStore } from './support.js';

const run = promisify(execFile);
const canRun = netnsAvailable('tcpdump') && commandWorks('logger', ['--version']);
if (!canRun) console.warn('syslog test skipped: needs root, iproute2, tcpdump and util-linux logger');

const NEAR_IP = '10.79.1.1';
const FAR_IP = '10.79.1.2';

describe.skipIf(!canRun)('syslog host names, from util-linux logger', () => {
  let netns: VethNamespace;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hark-syslog-'));
    netns = VethNamespace.create('hkl');
    netns.address(NEAR_IP, FAR_IP);
  });
  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the sender by the host name in its RFC 5424 and RFC 3164 headers, as tshark reads it', async () => {
    const store = new RecordingStore();
    const pipeline = new Pipeline({ store, skipRepeats: false });
    const file = join(dir, 'syslog.pcap');
    const tcpdump = execFile('tcpdump', ['-i', netns.pairs[0]!.near, '-U', '-w', file, 'udp port 514']);
    const live = new LiveCapture({
      interface: netns.pairs[0]!.near,
      filter: 'udp port 514',
      onFrames: (frames) => pipeline.processBatch(frames),
    });
    await live.start();
    try {
      const deadline = Date.now() + 8000;
      while (!live.listening && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500)); // tcpdump attaching
      for (const format of ['--rfc5424', '--rfc3164'])
        await run('logger', [
          format,
          '--udp',
          '-n',
          FAR_IP,
          '-P',
          '514',
          '-t',
          'hark-test',
          `a ${format} line`,
        ]);
      const near = Number.parseInt(netns.macs().near.replace(/:/g, ''), 16);
      const names = () => store.recorded.filter((o) => o.name === 'hostname' && o.mac === near);
      while (names().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(pipeline.stats.decoded.syslog).toBe(2);
      expect(pipeline.stats.decodeErrors.syslog).toBe(0);
      const stated = [...new Set(names().map((o) => o.value))];
      expect(stated.length).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 300));
      tcpdump.kill('SIGTERM');
      await new Promise((r) => tcpdump.once('exit', r));
      if (tsharkAvailable()) {
        const fromTshark = tsharkFields(file, ['syslog.hostname']).map((r) => r[0]!);
        expect(fromTshark).toHaveLength(2);
        expect([...new Set(fromTshark)].sort()).toEqual(stated.sort());
      }
    } finally {
      tcpdump.kill('SIGTERM');
      await live.stop();
    }
  }, 30_000);
});

describe('syslog headers', () => {
  it('reads the host name of both formats and refuses what is not one', () => {
    expect(syslogHostname('<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - msg')).toBe(
      'mymachine.example.com',
    ); // RFC 5424 §6.5 example 1
    expect(syslogHostname("<34>Oct 11 22:14:15 mymachine su: 'su root' failed")).toBe('mymachine'); // RFC 3164 §5.4
    expect(syslogHostname('<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!')).toBeUndefined(); // an address, no name
    expect(syslogHostname('<165>1 2003-08-24T05:14:15.000003-07:00 - myproc 8710 - - %% It')).toBeUndefined();
    // Cisco IOS: a sequence number and its own timestamp, no host name.
    expect(syslogHostname('<189>51: *Mar  1 00:12:34.567: %SYS-5-CONFIG_I: Configured')).toBeUndefined();
    expect(() => syslogHostname('<999>Oct 11 22:14:15 host x')).toThrow(RangeError);
    expect(() => syslogHostname('hello')).toThrow(RangeError);
  });
});
