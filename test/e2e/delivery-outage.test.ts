// Broker outage while a sensor keeps observing: the agent's reporter spools
// every delta on disk while Mosquitto is down, re-sends on reconnect (with
// back-off), and the aggregator (journaled, de-duplicating by runId/seq)
// applies every observation exactly once. Scaled down: seconds, not minutes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningAggregator } from '@hark/aggregator';
import { parseAgentConfig } from '@hark/contracts/agent-config';
import { Reporter } from '@hark/sensor-agent';
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

describe.skipIf(!mosquittoAvailable())('delivery through a broker outage', () => {
  const work = mkdtempSync(join(tmpdir(), 'hark-outage-'));
  let broker: MosquittoInstance | undefined;
  let aggregator: RunningAggregator | undefined;
  let reporter: Reporter | undefined;
  afterAll(async () => {
    await reporter?.stop();
    await aggregator?.stop();
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('every observation made while the broker was down arrives exactly once', async () => {
    const central = await startCentral(work, 'outage CA', log);
    ({ broker, aggregator } = central);
    const tls = writeAgentTls(work, central.ca, await sensorCertificate(central.ca, 'site-a', 's1'));

    const config = parseAgentConfig({
      site: 'site-a',
      sensor: 's1',
      capture: { interfaces: ['auto'] },
      reporting: { brokerUrl: broker.url },
      tls,
      spoolDir: join(work, 'spool'),
    });
    reporter = new Reporter({
      config,
      identity: { site: 'site-a', sensor: 's1', node: 'n1' },
      runId: 'outage-run',
      agentVersion: 'test',
      logger: log,
      backoff: { initialMs: 200, maxMs: 1000 },
    });
    reporter.start();
    await until('agent connected', () => reporter!.connected);

    const now = new Date().toISOString();
    let sent = 0;
    const observe = async (count: number) => {
      for (let i = 0; i < count; i++, sent++) {
        const mac = `02:00:00:00:${((sent >> 8) & 255).toString(16).padStart(2, '0')}:${(sent & 255).toString(16).padStart(2, '0')}`;
        await reporter!.publishDelta([
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
      const res = await fetch(`${aggregator!.httpUrl}/api/v1/devices?site=site-a&limit=1`);
      return ((await res.json()) as { total: number }).total;
    };
    await until('every device', async () => (await devices()) === sent);
    // Exactly once: every delta carried one observation; none applied twice.
    const metrics = await (await fetch(`${aggregator.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^hark_aggregator_observations_total ${sent}$`, 'm'));
  }, 120_000);
});
