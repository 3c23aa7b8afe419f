// A device's history through the HTTP API: what sensors reported, through the
// embedded broker, into the write-ahead log and the Parquet observation log,
// read back by DuckDB at GET /api/v1/devices/:id/history.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAggregator } from '../src/index.js';
import {
  attribute,
  connectSensor,
  createPki,
  device,
  eventually,
  getJson,
  inventory,
  startWithEmbeddedBroker,
} from './helpers.js';

const MAC = '02:00:00:00:10:01';

describe('device history API', () => {
  let aggregator: RunningAggregator;
  let work: string;
  let sensors: MqttClient[] = [];

  beforeAll(async () => {
    const pki = await createPki();
    work = mkdtempSync(join(tmpdir(), 'hark-history-api-'));
    aggregator = await startWithEmbeddedBroker(pki, {
      dataDir: join(work, 'data'),
    });
    const url = `mqtts://127.0.0.1:${aggregator.brokerPort}`;
    sensors = [
      await connectSensor(url, pki.ca.certPem, await pki.sensor('site-h.s1'), { clientId: 'site-h.s1.n1' }),
      await connectSensor(url, pki.ca.certPem, await pki.sensor('site-h.s2'), { clientId: 'site-h.s2.n1' }),
    ];
  });

  afterAll(async () => {
    await Promise.all(sensors.map((s) => s.endAsync(true)));
    await aggregator?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('lists what each sensor reported for the device, newest first, paged, zones apart', async () => {
    const [s1, s2] = sensors as [MqttClient, MqttClient];
    const publish = async (
      client: MqttClient,
      sensor: string,
      seq: number,
      hostname: string,
      zone?: string,
    ) => {
      const lastSeen = new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString();
      await client.publishAsync(
        topicFor('hark', { site: 'site-h', sensor, node: 'n1' }, 'inventory'),
        inventory([device(MAC, { lastSeen, hostname: attribute(hostname, 0.5, lastSeen) })], {
          runId: `run-${sensor}`,
          seq,
          ...(zone ? { zone } : {}),
        }),
        { qos: 1 },
      );
      // One at a time, so each message has a receive time of its own.
      await new Promise((r) => setTimeout(r, 5));
    };
    await publish(s1, 's1', 1, 'first');
    await publish(s2, 's2', 1, 'second');
    await publish(s1, 's1', 2, 'third');
    await publish(s1, 's1', 3, 'in-zone', 'line-1');
    const id = `site-h~mac:${MAC}`;
    await eventually(async () =>
      expect((await getJson(aggregator.httpUrl, `/api/v1/devices/${id}`)).status).toBe(200),
    );
    await eventually(async () =>
      expect((await getJson(aggregator.httpUrl, `/api/v1/devices/site-h~line-1~mac:${MAC}`)).status).toBe(
        200,
      ),
    );
    // The log holds compacted generations: before a compaction, nothing.
    expect((await getJson(aggregator.httpUrl, `/api/v1/devices/${id}/history`)).body.items).toEqual([]);
    await aggregator.compact();

    const { status, body } = await getJson(aggregator.httpUrl, `/api/v1/devices/${id}/history`);
    expect(status).toBe(200);
    expect(body.items.map((e: { sensor: string; seq: number }) => [e.sensor, e.seq])).toEqual([
      ['s1', 2],
      ['s2', 1],
      ['s1', 1],
    ]);
    expect(
      body.items.map((e: { record: { hostname: { value: string } } }) => e.record.hostname.value),
    ).toEqual(['third', 'second', 'first']);
    expect(body.items[0]).toMatchObject({ node: 'n1', runId: 'run-s1', mode: 'delta' });
    expect(Date.parse(body.items[0].receivedAt)).toBeGreaterThanOrEqual(Date.parse(body.items[1].receivedAt));

    const page = await getJson(aggregator.httpUrl, `/api/v1/devices/${id}/history?limit=1&offset=1`);
    expect(
      page.body.items.map((e: { record: { hostname: { value: string } } }) => e.record.hostname.value),
    ).toEqual(['second']);
    const zoned = await getJson(aggregator.httpUrl, `/api/v1/devices/site-h~line-1~mac:${MAC}/history`);
    expect(
      zoned.body.items.map((e: { record: { hostname: { value: string } } }) => e.record.hostname.value),
    ).toEqual(['in-zone']);

    expect(
      (await getJson(aggregator.httpUrl, `/api/v1/devices/site-h~mac:02:00:00:00:99:99/history`)).status,
    ).toBe(404);
    expect((await getJson(aggregator.httpUrl, `/api/v1/devices/${id}/history?limit=0`)).status).toBe(400);
  });

  it('answers a damaged history file with an error that names it and says what to do', async () => {
    const id = `site-h~mac:${MAC}`;
    const days = join(work, 'data', 'history', 'observations', 'site=site-h');
    const damaged = join(days, readdirSync(days)[0]!, 'observations-999999999999.parquet');
    writeFileSync(damaged, 'not parquet at all: a copy cut short, a bad disk');
    try {
      const { status, body } = await getJson(aggregator.httpUrl, `/api/v1/devices/${id}/history`);
      expect(status).toBe(500);
      expect(body.message).toContain('observations-999999999999.parquet');
      expect(body.message).toContain('move it aside');
      // The device itself, and the aggregator, carry on.
      expect((await getJson(aggregator.httpUrl, `/api/v1/devices/${id}`)).status).toBe(200);
    } finally {
      rmSync(damaged);
    }
    expect((await getJson(aggregator.httpUrl, `/api/v1/devices/${id}/history`)).body.items).toHaveLength(3);
  });
});
