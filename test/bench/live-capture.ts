// Live capture at 1 Gbit/s: a veth pair whose far end sits in a network
// namespace of its own, where tcpreplay sends the mixed traffic of the
// throughput benchmark at 1000 Mbit/s; on the near end the agent's
// LiveCapture (a supervised `tcpdump -U -w -`) feeds the whole pipeline in
// this process. The figure is the packets the pipeline processed against the
// packets sent, and the kernel's drop counter, beside the peer measured the
// same way in the same run: tcpdump alone writing to /dev/null, which is the
// most any libpcap consumer keeps up with on this machine.
//
// Both tcpreplay and the capture side share this machine's cores; tcpreplay
// reports the rate it reached, which is printed with the result.
// Needs root, iproute2, tcpdump and tcpreplay (apt-get install tcpreplay).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LiveCapture, Pipeline } from '@hark/sensor-agent';
import { netnsAvailable, VethNamespace } from '../support/netns.js';
import { loadMixedTraffic, writePcap } from './mixed-traffic.js';
import type { Benchmark } from './registry.js';

const SECONDS = 10;
const MBPS = 1000;

interface Replay {
  sent: number;
  mbps: number;
  pps: number;
}

/** tcpreplay out of `iface` in namespace `ns`; resolves with what it says it sent. */
function replay(ns: string, iface: string, file: string, loops: number): Promise<Replay> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', [
      'netns',
      'exec',
      ns,
      'tcpreplay',
      '-i',
      iface,
      `--mbps=${MBPS}`,
      `--loop=${loops}`,
      '--preload-pcap',
      file,
    ]);
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c;
    });
    child.on('exit', (code) => {
      const actual = /Actual:\s+(\d+) packets/.exec(out);
      const rated = /Rated:\s+[\d.]+ Bps,\s+([\d.]+) Mbps,\s+([\d.]+) pps/.exec(out);
      if (code !== 0 || !actual || !rated) return reject(new Error(`tcpreplay failed (${code}):\n${out}`));
      resolve({ sent: Number(actual[1]), mbps: Number(rated[1]), pps: Number(rated[2]) });
    });
  });
}

/** The peer: tcpdump alone, to /dev/null, with its own counters. */
async function bareTcpdump(
  near: string,
  run: () => Promise<Replay>,
): Promise<{ captured: number; dropped: number; sent: Replay }> {
  const child = spawn('tcpdump', ['-U', '-w', '/dev/null', '-n', '-s', '65535', '-i', near]);
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c;
  });
  await new Promise((r) => setTimeout(r, 1000));
  const sent = await run();
  await new Promise((r) => setTimeout(r, 500));
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
  const captured = Number(/(\d+) packets? captured/.exec(err)?.[1] ?? Number.NaN);
  const dropped = Number(/(\d+) packets? dropped by kernel/.exec(err)?.[1] ?? Number.NaN);
  return { captured, dropped, sent };
}

export const liveCapture: Benchmark = {
  name: 'live-capture',
  description: `live capture of mixed traffic at ${MBPS} Mbit/s through tcpdump into the pipeline, beside bare tcpdump (goal: no drops)`,
  async run() {
    if (!netnsAvailable('tcpdump', 'tcpreplay')) {
      return ['skipped: needs root, iproute2, tcpdump and tcpreplay (apt-get install tcpreplay)'];
    }
    const packets = await loadMixedTraffic();
    const bytes = packets.reduce((a, p) => a + p.data.length, 0);
    const loops = Math.max(1, Math.round((MBPS * 1e6 * SECONDS) / 8 / bytes));
    const tmp = mkdtempSync(join(tmpdir(), 'hark-live-bench-'));
    const file = join(tmp, 'mix.pcap');
    writePcap(file, packets);
    const netns = VethNamespace.create('hkb');
    const ns = netns.name;
    const { near, far } = netns.pairs[0]!;
    try {
      const peer = await bareTcpdump(near, () => replay(ns, far, file, loops));

      const pipeline = new Pipeline();
      let processed = 0;
      const problems: string[] = [];
      const live = new LiveCapture({
        interface: near,
        onEvent: (e) => {
          if (e.kind === 'error') problems.push(e.error.message);
          if (e.kind === 'exit' && e.code !== 0) problems.push(`tcpdump exited ${e.code ?? e.signal}`);
        },
        onPacket: (p) => {
          processed++;
          pipeline.process(p);
        },
      });
      const cpuBefore = process.cpuUsage();
      await live.start();
      await new Promise((r) => setTimeout(r, 1000));
      const start = performance.now();
      const sent = await replay(ns, far, file, loops);
      // Let what is buffered in the pipe drain, then ask tcpdump for its counters.
      let last = -1;
      while (processed !== last) {
        last = processed;
        await new Promise((r) => setTimeout(r, 300));
      }
      const seconds = (performance.now() - start) / 1000;
      await live.stop();
      const cpu = process.cpuUsage(cpuBefore);
      const agentCpu = (cpu.user + cpu.system) / 1e6 / seconds;
      const stats = live.stats;
      const lost = sent.sent - processed;
      const ratio = (n: number) => (peer.captured > 0 ? (n / peer.captured).toFixed(2) : '?');
      return [
        `offered: ${sent.sent} packets, ${loops} loops of ${packets.length} (${(bytes / packets.length).toFixed(0)} B average), tcpreplay reached ${sent.mbps.toFixed(0)} Mbit/s, ${(sent.pps / 1e3).toFixed(0)}k pkt/s`,
        `hark (tcpdump -> pipeline): ${processed} processed, ${lost} not (${((lost / sent.sent) * 100).toFixed(2)}%), kernel drops ${stats.droppedByKernel}, tcpdump restarts ${stats.restarts}${problems.length ? ` (${[...new Set(problems)].join('; ')})` : ''}; agent process ${(agentCpu * 100).toFixed(0)}% of a core; ${pipeline.store.size} devices`,
        `peer (bare tcpdump -w /dev/null, offered ${(peer.sent.mbps).toFixed(0)} Mbit/s): ${peer.captured} captured of ${peer.sent.sent}, kernel drops ${peer.dropped}; hark/peer ${ratio(processed)}`,
        `goal no drops at ${MBPS} Mbit/s: ${lost === 0 && stats.droppedByKernel === 0 ? 'MET' : 'NOT MET'}${sent.mbps < MBPS * 0.95 ? ` (but tcpreplay reached only ${sent.mbps.toFixed(0)} Mbit/s on these shared cores)` : ''}`,
      ];
    } finally {
      netns.destroy();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
