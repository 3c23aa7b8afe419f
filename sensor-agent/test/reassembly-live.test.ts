// A real TLS client whose ClientHello the kernel cuts into segments, captured
// live: Python's ssl (OpenSSL) in a network namespace connects across a veth
// pair whose MTU is small, to a TCP listener here, while the agent's live
// capture listens on the near end. The agent must read the same JA4 from
// the cut hello as from the same client's hello in one segment.
import { execFile, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsAvailable, VethNamespace } from '../../test/support/netns.js';
import { LiveCapture } from '../src/live/index.js';
import { Pipeline } from '../src/pipeline.js';
import { RecordingStore } from './support.js';

const canNetns = netnsAvailable('tcpdump', 'python3');
if (!canNetns)
  console.warn('live reassembly test skipped: needs root, iproute2 (ip netns), tcpdump and python3');

const NEAR_IP = '10.78.0.1';
const FAR_IP = '10.78.0.2';
const PORT = 8443;
/** Sends one ClientHello for `name` (OpenSSL's own, as any Python client sends it) and gives up at the answer. */
const CLIENT = `
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
try:
    ctx.wrap_socket(s, server_hostname=sys.argv[3])
except Exception:
    pass
`;

describe.skipIf(!canNetns)('a ClientHello the kernel cuts into segments, captured live', () => {
  let netns: VethNamespace;
  let server: Server;
  const hellos: number[] = [];
  beforeAll(async () => {
    netns = VethNamespace.create('hkr');
    const { far } = netns.pairs[0]!;
    netns.address(NEAR_IP, FAR_IP);
    // The kernel sends nothing larger than one segment from the far end (no GSO super-packets on the veth).
    netns.exec(['ip', 'link', 'set', far, 'gso_max_segs', '1']);
    // Whatever arrives is the client's hello: note its size, then close (no TLS server is needed).
    server = createServer((socket) => {
      let bytes = 0;
      socket.on('data', (d) => {
        bytes += d.length;
      });
      socket.setTimeout(200, () => socket.destroy());
      socket.on('close', () => hellos.push(bytes));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(PORT, NEAR_IP, resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    netns?.destroy();
  });

  const hello = (name: string) =>
    promisify(execFile)('ip', [
      'netns',
      'exec',
      netns.name,
      'python3',
      '-c',
      CLIENT,
      NEAR_IP,
      String(PORT),
      name,
    ]);
  const setMtu = (mtu: number) => {
    const { near, far } = netns.pairs[0]!;
    execFileSync('ip', ['link', 'set', near, 'mtu', String(mtu)]);
    netns.exec(['ip', 'link', 'set', far, 'mtu', String(mtu)]);
  };

  it('gives the JA4 and SNI the same client gives in one segment', async () => {
    const store = new RecordingStore();
    const pipeline = new Pipeline({ store });
    const live = new LiveCapture({
      interface: netns.pairs[0]!.near,
      filter: `tcp port ${PORT}`,
      onFrames: (frames) => pipeline.processBatch(frames),
    });
    await live.start();
    const facts = (name: string) => [
      ...new Set(store.recorded.filter((o) => o.name === name).map((o) => o.value)),
    ];
    try {
      await waitFor(() => live.listening);
      // Segments of 148 bytes (an MTU of 200, less IP and TCP with timestamps): OpenSSL's hello (~500 bytes)
      // goes out in four.
      setMtu(200);
      await hello('cut.hark.test');
      await waitFor(() => facts('tlsSni').includes('cut.hark.test') && pipeline.stats.reassembled >= 1).catch(
        (e) => {
          console.log(
            JSON.stringify({
              s: pipeline.stats.packets,
              r: pipeline.stats.reassembled,
              i: pipeline.stats.reassemblyIncomplete,
              tls: pipeline.stats.decoded.tls,
              m: pipeline.stats.malformed,
              hellos,
              sni: facts('tlsSni'),
            }),
          );
          throw e;
        },
      );
      const cut = facts('ja4');
      expect(cut).toHaveLength(1);
      // The same client with the MTU of an Ethernet: one segment.
      setMtu(1500);
      await hello('whole.hark.test');
      await waitFor(() => facts('tlsSni').includes('whole.hark.test'));
      expect(facts('ja4')).toEqual(cut);
      expect(pipeline.stats.reassembled).toBe(1);
      expect(pipeline.stats.malformed).toBe(0);
    } finally {
      await live.stop();
    }
    // The listener saw both hellos, the first larger than one segment of the small MTU.
    expect(hellos.length).toBe(2);
    expect(hellos[0]).toBeGreaterThan(148);
  }, 30_000);
});

async function waitFor(check: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
