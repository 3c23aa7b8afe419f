// Scale-out: two aggregator replicas against one real Mosquitto, the work
// split by site (--sites). Each replica has its own persistent session and
// data dir, receives every message and drops (acknowledges, counts) those of
// sites it does not own, so every observation of a device is merged, and
// de-duplicated, by exactly one replica.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MosquittoInstance, mosquittoAvailable, startMosquitto } from '../../test/support/mosquitto.js';
import { type RunningAggregator, startAggregator } from '../src/index.js';
import { silentLogger } from '../src/log.js';
import {
  connectSensor,
  createPki,
  device,
  eventually,
  getJson,
  inventory,
  metric,
  type TestPki,
} from './helpers.js';

describe.skipIf(!mosquittoAvailable())('aggregator replicas split by site (Mosquitto)', () => {
  let pki: TestPki;
  let broker: MosquittoInstance;
  let work: string;
  const replicas: Record<string, RunningAggregator> = {};
  const clients: MqttClient[] = [];

  const start = (name: string, sites: string[]) =>
    startAggregator({
      http: { port: 0, host: '127.0.0.1' },
      brokerUrl: broker.url,
      tls: { ca: pki.ca.certPem, clientCert: pki.aggregator.certPem, clientKey: pki.aggregator.keyPem },
      clientId: `hark-aggregator-${name}`,
      dataDir: join(work, name),
      sites,
      logger: silentLogger,
    });

  beforeAll(async () => {
    pki = await createPki();
    work = mkdtempSync(join(tmpdir(), 'hark-scale-out-'));
    broker = await startMosquitto({
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    });
    replicas.a = await start('a', ['site-a']);
    replicas.b = await start('b', ['site-b']);
    await eventually(() => expect(replicas.a!.ready() && replicas.b!.ready()).toBe(true), 15_000);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    for (const r of Object.values(replicas)) await r.stop();
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("merges each device's observations in exactly one replica, the one owning its site", async () => {
    const sensor = async (cn: string) => {
      const c = await connectSensor(broker.url, pki.ca.certPem, await pki.sensor(cn), { clientId: cn });
      clients.push(c);
      return c;
    };
    const [a1, a2, b1] = [await sensor('site-a.s1'), await sensor('site-a.s2'), await sensor('site-b.s1')];
    const send = (c: MqttClient, site: string, s: string, macs: string[], seq: number) =>
      c.publishAsync(
        topicFor('hark', { site, sensor: s, node: 'n1' }, 'inventory'),
        inventory(
          macs.map((m) => device(m)),
          { runId: `${site}.${s}`, seq },
        ),
        { qos: 1 },
      );
    const shared = '02:00:00:00:00:01';
    const N = 50;
    const many = (site: number) =>
      Array.from({ length: N }, (_, i) => `02:00:00:0${site}:00:${(i + 16).toString(16)}`);
    // Both site-a sensors see the shared MAC; site-b sees the same MAC in its own network.
    await Promise.all([
      send(a1, 'site-a', 's1', [shared, ...many(1)], 0),
      send(a2, 'site-a', 's2', [shared], 0),
      send(b1, 'site-b', 's1', [shared, ...many(2)], 0),
      // A redelivery / re-send: de-duplicated where the site lives.
      send(a1, 'site-a', 's1', [shared, ...many(1)], 0),
    ]);

    const a = replicas.a!;
    const b = replicas.b!;
    await eventually(async () => {
      const { body } = await getJson(a.httpUrl, `/api/v1/devices/site-a~mac:${shared}`);
      expect(body.sensors).toEqual(['s1', 's2']);
      expect((await getJson(b.httpUrl, `/api/v1/devices/site-b~mac:${shared}`)).status).toBe(200);
    }, 15_000);
    // Every device is in exactly one replica: the owner of its site.
    expect(a.inventory.size).toBe(N + 1);
    expect(b.inventory.size).toBe(N + 1);
    expect([...a.inventory.all()].every((d) => d.site === 'site-a')).toBe(true);
    expect([...b.inventory.all()].every((d) => d.site === 'site-b')).toBe(true);
    expect((await getJson(b.httpUrl, `/api/v1/devices/site-a~mac:${shared}`)).status).toBe(404);
    // Each replica saw the other's messages and dropped them unread.
    await eventually(async () => {
      expect(await metric(a.httpUrl, 'hark_aggregator_messages_skipped_total')).toBe(1);
      expect(await metric(b.httpUrl, 'hark_aggregator_messages_skipped_total')).toBe(3);
    }, 5_000);
    expect(await metric(a.httpUrl, 'hark_aggregator_inventory_duplicates_total')).toBe(1);
    expect(await metric(a.httpUrl, 'hark_aggregator_observations_total')).toBe(N + 2);
    expect(await metric(b.httpUrl, 'hark_aggregator_observations_total')).toBe(N + 1);
  });
});
