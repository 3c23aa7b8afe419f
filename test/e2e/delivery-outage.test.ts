// Broker outage while a sensor keeps observing: the agent's reporter spools
// every delta on disk while Mosquitto is down, re-sends on reconnect (with
// back-off), and the aggregator (journaled, de-duplicating by runId/seq)
// applies every observation exactly once. Scaled down: seconds, not minutes.
// And a snapshot many times larger than the agent's spool, started while the
// broker is down, waits for it instead of overrunning the spool.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningAggregator } from '@hark/aggregator';
import { parseAgentConfig } from '@hark/contracts/agent-config';
import { DeviceStore, InventoryReports, Reporter } from '@hark/sensor-agent';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startCentral } from '../support/central.js';
import { type MosquittoInstance, mosquittoAvailable } from '../support/mosquitto.js';
import { sensorCertificate, writeAgentTls } from '../support/site-pki.js';

const _DAY = 86_400_000;
const log = pino({ level: process.env.HARK_TEST_LOG ?? 'silent' });

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type SensorUnderTest = { site: string; sensor: string; runId: string };
type SpoolBounds = { maxBytes: number; segmentBytes: number };
type Running = { broker: MosquittoInstance; aggregator: RunningAggregator; reporter: Reporter };

/** Mosquitto and an aggregator with a site CA, and one sensor's Reporter connected to them. */
async function centralWithReporter(
  work: string,
  sensor: SensorUnderTest,
  spool?: SpoolBounds,
): Promise<Running> {
  const central = await startCentral(work, `${sensor.runId} CA`, log);
  const tls = writeAgentTls(
    work,
    central.ca,
    await sensorCertificate(central.ca, sensor.site, sensor.sensor),
  );
  const config = parseAgentConfig({
    site: sensor.site,
    sensor: sensor.sensor,
    capture: { interfaces: ['auto'] },
    reporting: { brokerUrl: central.broker.url },
    tls,
    spoolDir: join(work, 'spool'),
  });
  const reporter = new Reporter({
    config,
    identity: { site: sensor.site, sensor: sensor.sensor, node: 'n1' },
    runId: sensor.runId,
    agentVersion: 'test',
    logger: log,
    backoff: { initialMs: 200, maxMs: 1000 },
    ...(spool ? { spool } : {}),
  });
  reporter.start();
  await until('agent connected', () => reporter.connected);
  return { broker: central.broker, aggregator: central.aggregator, reporter };
}

/** A work folder for a describe block, and the teardown of what its test starts there. */
function outageFixture(prefix: string) {
  const work = mkdtempSync(join(tmpdir(), prefix));
  let running: Running | undefined;
  afterAll(async () => {
    await running?.reporter.stop();
    await running?.aggregator.stop();
    await running?.broker.stop();
    rmSync(work, { recursive: true, force: true });
  });
  return {
    async start(sensor: SensorUnderTest, spool?: SpoolBounds) {
      running = await centralWithReporter(work, sensor, spool);
      return running;
    },
  };
}

describe.skipIf(!mosquittoAvailable())('delivery through a broker outage', () => {
  const fixture = outageFixture('hark-outage-');

  it('every observation made while the broker was down arrives exactly once', async () => {
    const { broker, aggregator, reporter } = await fixture.start({
      site: 'site-a',
      sensor: 's1',
      runId: 'outage-run',
    });

    const now = new Date().toISOString();
    let sent = 0;
    const observe = async (count: number) => {
      for (let i = 0; i < count; i++, sent++) {
        const mac = `02:00:00:00:${((sent >> 8) & 255).toString(16).padStart(2, '0')}:${(sent & 255).toString(16).padStart(2, '0')}`;
        await reporter.publishDelta([
          { id: `mac:${mac}`, macs: [mac], ipv4: [], ipv6: [], protocols: [], firstSeen: now, lastSeen: now },
        ]);
      }
    };
    await observe(200);
    // The broker goes away for 2 s while the agent keeps observing.
    const outage = broker.restart(2000);
    await observe(300);
    expect(reporter.spoolDepth).toBeGreaterThan(0);
    await outage;
    await observe(200);
    expect(await reporter.drained(30_000)).toBe(true);

    const devices = async () => {
      const res = await fetch(`${aggregator.httpUrl}/api/v1/devices?site=site-a&limit=1`);
      return ((await res.json()) as { total: number }).total;
    };
    await until('every device', async () => (await devices()) === sent);
    // Exactly once: every delta carried one observation; none applied twice.
    const metrics = await (await fetch(`${aggregator.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^hark_aggregator_observations_total ${sent}$`, 'm'));
  }, 120_000);
});

describe.skipIf(!mosquittoAvailable())('a snapshot larger than the spool, through an outage', () => {
  const fixture = outageFixture('hark-big-snapshot-');

  it('arrives whole, none of its parts dropped to make room for the rest', async () => {
    const spoolBytes = 256 * 1024;
    const { broker, aggregator, reporter } = await fixture.start(
      { site: 'site-b', sensor: 's2', runId: 'big-run' },
      { maxBytes: spoolBytes, segmentBytes: 32 * 1024 },
    );

    const store = new DeviceStore();
    const devices = 4000;
    const t0 = Date.now();
    for (let i = 0; i < devices; i++)
      for (const [name, value] of [
        ['hostname', `host-${i}`],
        ['model', `Model-${i % 97}`],
        ['firmwareVersion', `1.${i % 13}.${i % 7}`],
      ] as const)
        store.observe({
          mac: 0x02_00_00_00_00_00 + i,
          ip: undefined,
          name,
          value,
          confidence: 0.8,
          protocol: 'dhcp',
          field: 'option12.hostname',
          timestampMs: t0,
        });
    const reports = new InventoryReports(store, reporter, { maxPartBytes: 16 * 1024 });

    const outage = broker.restart(2000);
    const snapshot = await reports.snapshot().then(async (outcome) => {
      await outage;
      return outcome;
    });
    // Several times the spool's bound went through it.
    expect(snapshot.messages * 16 * 1024 * 0.5).toBeGreaterThan(4 * spoolBytes);
    expect(await reporter.drained(60_000)).toBe(true);
    expect(reporter.spool.dropped).toEqual({ control: 0, snapshot: 0, delta: 0 });
    await until('every device of the snapshot', async () => {
      const res = await fetch(`${aggregator.httpUrl}/api/v1/devices?site=site-b&limit=1`);
      return ((await res.json()) as { total: number }).total === devices;
    });
  }, 120_000);
});
