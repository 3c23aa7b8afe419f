// Alerts pushed to a webhook (src/alerts/webhook.ts): a real HTTP receiver
// that is down, then refusing, then up; the aggregator keeps every alert
// raise until the receiver takes it, sends each once while it runs, resumes
// after a restart from what its saved state says was delivered, and sends the
// bearer token it reads from a file.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAggregator } from '../src/aggregator.js';
import type { Alert } from '../src/alerts/store.js';
import {
  attribute,
  connectSensor,
  createPki,
  device,
  eventually,
  inventory,
  metric,
  startWithEmbeddedBroker,
  type TestPki,
} from './helpers.js';

describe('the alert webhook', () => {
  let pki: TestPki;
  let work: string;
  let receiver: Server;
  let url: string;
  let aggregator: RunningAggregator | undefined;
  let sensor: MqttClient | undefined;
  /** What the receiver answers: 'up' takes the batch, anything else is that status. */
  let answer: 'up' | 503 | 401 = 503;
  const received: { alert: Alert; authorization?: string | undefined }[] = [];
  const start = () =>
    startWithEmbeddedBroker(pki, {
      dataDir: join(work, 'data'),
      alertLearningMs: 0,
      alertWebhook: { url, tokenFile: join(work, 'token'), intervalMs: 50, batch: 2 },
    });
  const connect = async () => {
    sensor = await connectSensor(
      `mqtts://127.0.0.1:${aggregator!.brokerPort}`,
      pki.ca.certPem,
      await pki.sensor('site-w.s1'),
      { clientId: 'site-w.s1.n1' },
    );
  };
  const send = (records: ReturnType<typeof device>[], seq: number) =>
    sensor!.publishAsync(
      topicFor('hark', { site: 'site-w', sensor: 's1', node: 'n1' }, 'inventory'),
      inventory(records, { runId: 'webhook', seq }),
      { qos: 1 },
    );
  const ids = () => received.map((r) => `${r.alert.id}@${r.alert.lastAt}`);

  beforeAll(async () => {
    pki = await createPki();
    work = mkdtempSync(join(tmpdir(), 'hark-webhook-'));
    writeFileSync(join(work, 'token'), 'soar-token-1\n', { mode: 0o600 });
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        if (answer !== 'up') {
          response.writeHead(answer).end();
          return;
        }
        const batch = JSON.parse(body) as { source: string; alerts: Alert[] };
        expect(batch.source).toBe('hark');
        for (const alert of batch.alerts)
          received.push({ alert, authorization: request.headers.authorization });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/hark`;
    aggregator = await start();
    await connect();
  });

  afterAll(async () => {
    await sensor?.endAsync(true);
    await aggregator?.stop();
    await new Promise((resolve) => receiver.close(resolve));
    rmSync(work, { recursive: true, force: true });
  });

  it('keeps every raise while the receiver is down or refusing, then delivers each once, oldest first', async () => {
    await send(
      [
        device('02:00:00:00:77:01', { hostname: attribute('hmi-1', 0.8) }),
        device('02:00:00:00:77:02', { hostname: attribute('hmi-2', 0.8) }),
        device('02:00:00:00:77:03', { hostname: attribute('hmi-3', 0.8) }),
      ],
      1,
    );
    const base = aggregator!.httpUrl;
    await eventually(async () => {
      expect(
        await metric(base, 'hark_aggregator_alert_webhook_posts_total', { result: 'failed' }),
      ).toBeGreaterThan(0);
      expect(await metric(base, 'hark_aggregator_alert_webhook_pending')).toBe(3);
    });
    answer = 401; // a receiver that refuses is retried too
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toEqual([]);

    answer = 'up';
    await eventually(() => expect(received).toHaveLength(3), 15_000);
    expect(received.map((r) => r.alert.kind)).toEqual(['new-device', 'new-device', 'new-device']);
    expect(new Set(ids()).size).toBe(3);
    const times = received.map((r) => r.alert.lastAt);
    expect(times).toEqual([...times].sort());
    expect(received.every((r) => r.authorization === 'Bearer soar-token-1')).toBe(true);
    expect(await metric(base, 'hark_aggregator_alert_webhook_pending')).toBe(0);
    expect(await metric(base, 'hark_aggregator_alert_webhook_alerts_total')).toBe(3);
    // Two to a POST: three raises took two.
    expect(await metric(base, 'hark_aggregator_alert_webhook_posts_total', { result: 'delivered' })).toBe(2);

    // A new alert is delivered with the token the file holds now: it was rotated meanwhile.
    writeFileSync(join(work, 'token'), 'soar-token-2\n');
    await send([device('02:00:00:00:77:04', { hostname: attribute('plc-4', 0.8) })], 2);
    await eventually(() => expect(received).toHaveLength(4));
    expect(received[3]!.authorization).toBe('Bearer soar-token-2');
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toHaveLength(4); // nothing sent twice while it runs
  });

  it('refuses a URL it cannot use, saying what to do instead', async () => {
    await expect(
      startWithEmbeddedBroker(pki, { alertWebhook: { url: 'https://user:secret@soar.example/hook' } }),
    ).rejects.toThrow(/--alert-webhook-token-file/);
    const refused = startWithEmbeddedBroker(pki, { alertWebhook: { url: 'soar.example/hook' } });
    await expect(refused).rejects.toThrow('--alert-webhook "(not a URL)" is not an http(s) URL');
  });

  it('resumes after a restart from what its saved state says it delivered', async () => {
    const before = ids();
    answer = 503; // down across the restart: what is raised meanwhile waits
    await sensor!.endAsync(true);
    await aggregator!.stop();
    aggregator = await start();
    await connect();
    await send([device('02:00:00:00:77:05', { hostname: attribute('rtu-5', 0.8) })], 3);
    await eventually(async () =>
      expect(await metric(aggregator!.httpUrl, 'hark_aggregator_alert_webhook_pending')).toBe(1),
    );
    answer = 'up';
    await eventually(() => expect(received).toHaveLength(before.length + 1), 15_000);
    expect(ids().slice(0, before.length)).toEqual(before);
    expect(received.at(-1)!.alert.summary).toContain('rtu-5');
  });
});
