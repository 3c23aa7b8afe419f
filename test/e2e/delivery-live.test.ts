// Live capture end to end: `runAgent` with two capture.interfaces and a
// BPF filter captures on two veth pairs whose far ends sit in a network
// namespace this test creates; a script in the namespace sends ARP and DHCP
// frames out of each far end. The devices travel agent -> real Mosquitto
// (mutual TLS, hark's generated ACL) -> aggregator -> HTTP API; heartbeats
// carry the capture counters, /metrics the drop counters, and /readyz turns
// 503 when an interface's capture dies. Only this test's own veths are ever
// written to. Needs root, iproute2 (ip netns), tcpdump, python3 and Mosquitto;
// skipped otherwise.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningAggregator } from '@hark/aggregator';
import { parseAgentConfig } from '@hark/contracts/agent-config';
import { type AgentHandle, resolveInterfaces, runAgent } from '@hark/sensor-agent';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCentral } from '../support/central.js';
import { type MosquittoInstance, mosquittoAvailable } from '../support/mosquitto.js';
import { netnsAvailable, VethNamespace, type VethPair } from '../support/netns.js';
import { sensorCertificate, writeAgentTls } from '../support/site-pki.js';

const canNetns = netnsAvailable('tcpdump', 'python3');
const available = canNetns && mosquittoAvailable();
if (!available)
  console.warn('live delivery test skipped: needs root, ip netns, tcpdump, python3 and Mosquitto');

const _DAY = 86_400_000;
const log = pino({ level: process.env.HARK_TEST_LOG ?? 'silent' });
async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  tick: () => void = () => {},
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    tick();
    await new Promise((r) => setTimeout(r, 300));
  }
}

interface ApiDevice {
  macs: string[];
  ipv4: string[];
  hostname?: { value: string };
  sensors: string[];
}

describe.skipIf(!available)('live capture delivered: veth -> agent -> Mosquitto -> aggregator', () => {
  const work = mkdtempSync(join(tmpdir(), 'hark-live-delivery-'));
  let broker: MosquittoInstance | undefined;
  let aggregator: RunningAggregator | undefined;
  let agent: AgentHandle | undefined;

  let netns: VethNamespace;
  let PAIRS: VethPair[];

  beforeAll(() => {
    netns = VethNamespace.create('hkd', 2);
    PAIRS = netns.pairs;
  });
  afterAll(async () => {
    await agent?.stop();
    await aggregator?.stop();
    await broker?.stop();
    netns?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('inventories devices seen on several interfaces, reports drop counters, readiness follows capture health', async () => {
    const central = await startCentral(work, 'live CA', log);
    ({ broker, aggregator } = central);
    const tls = writeAgentTls(work, central.ca, await sensorCertificate(central.ca, 'site-live', 'edge'));

    const config = parseAgentConfig({
      site: 'site-live',
      sensor: 'edge',
      node: 'node-1',
      // Named, not "auto": "auto" would also capture other tests' interfaces, which may vanish
      // mid-run and make readiness flap. "auto" itself is checked against the real sysfs below.
      capture: { interfaces: PAIRS.map((p) => p.near), bpfFilter: 'arp or udp port 67 or udp port 68' },
      reporting: { brokerUrl: broker.url, snapshotIntervalSeconds: 2, heartbeatIntervalSeconds: 1 },
      tls,
      spoolDir: join(work, 'spool'),
      http: { port: 0 },
    });
    agent = await runAgent(config, {
      logger: log,
      deltaIntervalMs: 300,
      live: { backoff: { initialMs: 200, maxMs: 1000 } },
    });
    expect(agent.interfaces).toEqual(PAIRS.map((p) => p.near));
    // "auto": every up, non-loopback interface, so both of our veths and never lo.
    const auto = resolveInterfaces(['auto']);
    for (const { near } of PAIRS) expect(auto).toContain(near);
    expect(auto).not.toContain('lo');
    const base = `http://127.0.0.1:${agent.httpPort}`;
    await until('agent ready', async () => (await fetch(`${base}/readyz`)).status === 200);

    const probes = [
      { pair: PAIRS[0]!, mac: '02:00:00:00:d1:01', ip: '10.98.0.1', hostname: 'live-probe-one' },
      { pair: PAIRS[1]!, mac: '02:00:00:00:d1:02', ip: '10.98.1.1', hostname: 'live-probe-two' },
    ];
    const api = async (): Promise<ApiDevice[]> => {
      const res = await fetch(`${aggregator!.httpUrl}/api/v1/devices?site=site-live&limit=100`);
      return ((await res.json()) as { items: ApiDevice[] }).items;
    };
    for (const p of probes) {
      await until(
        `${p.hostname} visible in the aggregator API`,
        async () => (await api()).some((d) => d.macs.includes(p.mac) && d.hostname?.value === p.hostname),
        () => netns.sendDiscovery(p.pair.far, p.mac, p.ip, p.hostname),
      );
    }
    const devices = await api();
    for (const p of probes) {
      const d = devices.find((x) => x.macs.includes(p.mac))!;
      expect(d.ipv4).toContain(p.ip);
      expect(d.sensors).toEqual(['edge']);
    }
    // The BPF filter kept the UDP/5000 frames (and their source MAC) out.
    expect(devices.some((d) => d.macs.includes('02:00:00:ff:ff:01'))).toBe(false);

    // Heartbeats carry the live capture counters into the fleet API.
    await until('heartbeat with capture counters', async () => {
      const res = await fetch(`${aggregator!.httpUrl}/api/v1/sensors?site=site-live`);
      const items = ((await res.json()) as { items: { capture: { packets: number; kernelDrops: number } }[] })
        .items;
      return (items[0]?.capture.packets ?? 0) >= 4 && items[0]!.capture.kernelDrops === 0;
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^hark_agent_kernel_drops_total 0$/m);
    expect(metrics).toMatch(/^hark_agent_agent_drops_total 0$/m);
    for (const { near } of PAIRS)
      expect(metrics).toMatch(new RegExp(`^hark_agent_capture_up\\{interface="${near}"\\} 1$`, 'm'));
    expect(metrics).toMatch(
      new RegExp(`^hark_agent_interface_packets_total\\{interface="${PAIRS[1]!.near}"\\} [1-9]`, 'm'),
    );

    // One interface goes away: its tcpdump exits and cannot come back, so the agent is not ready.
    execFileSync('ip', ['link', 'del', PAIRS[1]!.near]);
    await until('readyz 503', async () => (await fetch(`${base}/readyz`)).status === 503);
    const after = await (await fetch(`${base}/metrics`)).text();
    expect(after).toMatch(new RegExp(`^hark_agent_capture_up\\{interface="${PAIRS[1]!.near}"\\} 0$`, 'm'));
    expect(after).toMatch(new RegExp(`^hark_agent_capture_up\\{interface="${PAIRS[0]!.near}"\\} 1$`, 'm'));
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  }, 90_000);
});
