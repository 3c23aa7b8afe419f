// Scale-out: aggregator replicas against one real Mosquitto, the sites
// spread over them by rendezvous hashing (--shards). Each replica has its own
// persistent session and data dir, receives every message and drops
// (acknowledges, counts) those of sites it does not own, so every observation
// of a device is merged, and de-duplicated, by exactly one replica. Any
// replica answers for the whole fleet: its answers are checked against an
// unsharded aggregator subscribed to the same broker, through a replica's
// outage and its return with the same session and data dir (what a
// StatefulSet pod rescheduled gets), and after re-counting the shards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MosquittoInstance, mosquittoAvailable, startMosquitto } from '../../test/support/mosquitto.js';
import { freePort } from '../../test/support/processes.js';
import { type RunningAggregator, type ShardSpec, shardOfSite, startAggregator } from '../src/index.js';
import { silentLogger } from '../src/log.js';
import {
  attribute,
  chromiumAvailable,
  connectSensor,
  createPki,
  device,
  eventually,
  getJson,
  inventory,
  launchChromium,
  metric,
  type TestPki,
} from './helpers.js';

const SITES = ['plant-north', 'plant-south', 'hq', 'warehouse', 'lab', 'depot'];
const SHARDS = 2;

describe.skipIf(!mosquittoAvailable())('aggregator shards (Mosquitto)', () => {
  let pki: TestPki;
  let broker: MosquittoInstance;
  let work: string;
  let ports: number[];
  const replicas: RunningAggregator[] = [];
  let reference: RunningAggregator;
  const clients = new Map<string, MqttClient>();
  let seq = 0;

  const peers = () => ports.slice(0, SHARDS).map((p) => `http://127.0.0.1:${p}`);
  const startShard = (index: number, dataDir = join(work, `shard-${index}`)) =>
    startAggregator({
      http: { port: ports[index]!, host: '127.0.0.1' },
      brokerUrl: broker.url,
      tls: { ca: pki.ca.certPem, clientCert: pki.aggregator.certPem, clientKey: pki.aggregator.keyPem },
      clientId: `hark-aggregator-${index}`,
      dataDir,
      shard: { index, count: SHARDS } satisfies ShardSpec,
      peers: peers(),
      alertLearningMs: 0,
      logger: silentLogger,
    });
  const sitesOf = (shard: number) => SITES.filter((s) => shardOfSite(s, SHARDS) === shard);

  const sensor = async (site: string, name: string) => {
    const cn = `${site}.${name}`;
    let client = clients.get(cn);
    if (!client) {
      client = await connectSensor(broker.url, pki.ca.certPem, await pki.sensor(cn), { clientId: cn });
      clients.set(cn, client);
    }
    return client;
  };
  /** A sensor's inventory delta: devices with names, makers and addresses to sort and search by. Returns what was sent. */
  const report = async (site: string, name: string, macs: string[]) => {
    const payload = inventory(
      macs.map((mac, i) =>
        device(mac, {
          hostname: attribute(`${site}-host-${(i * 7) % 10}`, 0.9),
          vendor: attribute(['Siemens', 'Axis', 'HP', 'Cisco'][i % 4]!, 0.8),
          type: attribute(['plc', 'camera', 'printer', 'switch'][i % 4]!, 0.7),
          ipv4: [`10.${SITES.indexOf(site)}.0.${(i * 37) % 250}`],
        }),
      ),
      { runId: `${cn(site, name)}-run`, seq: seq++ },
    );
    await (await sensor(site, name)).publishAsync(
      topicFor('hark', { site, sensor: name, node: 'n1' }, 'inventory'),
      payload,
      { qos: 1 },
    );
    return payload;
  };
  const cn = (site: string, name: string) => `${site}.${name}`;
  const macsOf = (site: string, n: number) =>
    Array.from(
      { length: n },
      (_, i) =>
        `02:00:00:${SITES.indexOf(site).toString(16).padStart(2, '0')}:01:${i.toString(16).padStart(2, '0')}`,
    );

  /** The same read from a replica and from the unsharded reference. */
  const sameAsReference = async (replica: RunningAggregator, path: string) => {
    const [mine, theirs] = await Promise.all([
      getJson(replica.httpUrl, path),
      getJson(reference.httpUrl, path),
    ]);
    expect(mine.status, path).toBe(theirs.status);
    expect(mine.body, path).toEqual(theirs.body);
  };
  const QUERIES = [
    '/api/v1/devices',
    '/api/v1/devices?sort=hostname',
    '/api/v1/devices?sort=-ip&limit=7&offset=5',
    '/api/v1/devices?sort=vendor&limit=1000',
    '/api/v1/devices?type=printer&sort=site',
    '/api/v1/devices?q=axis%20camera',
    `/api/v1/devices?site=${SITES[0]}&sort=firstSeen`,
  ];
  /**
   * The same alerts as the reference: each was raised where its site lives, at that replica's
   * receipt time (so the order may differ), under the same id. A page of the merged list is that
   * part of the whole list.
   */
  const sameAlertsAsReference = async (replica: RunningAggregator) => {
    const gist = (items: { id: string; kind: string; device: string; count: number }[]) =>
      items
        .map(({ id, kind, device, count }) => ({ id, kind, device, count }))
        .sort((a, b) => a.id.localeCompare(b.id));
    const [mine, theirs] = await Promise.all([
      getJson(replica.httpUrl, '/api/v1/alerts?limit=1000'),
      getJson(reference.httpUrl, '/api/v1/alerts?limit=1000'),
    ]);
    expect(mine.body.total).toBe(theirs.body.total);
    expect(gist(mine.body.items)).toEqual(gist(theirs.body.items));
    const page = await getJson(replica.httpUrl, '/api/v1/alerts?limit=7&offset=5');
    expect(page.body.items).toEqual(mine.body.items.slice(5, 12));
  };
  /** The device queries, and the fleet's lists. */
  const fleetConverged = async (replica: RunningAggregator) => {
    for (const path of QUERIES) await sameAsReference(replica, path);
    await sameAsReference(replica, '/api/v1/sites');
    const [mine, theirs] = await Promise.all([
      getJson(replica.httpUrl, '/api/v1/sensors'),
      getJson(reference.httpUrl, '/api/v1/sensors'),
    ]);
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    expect(mine.body.items).toEqual([...theirs.body.items].sort(byId));
  };

  beforeAll(async () => {
    pki = await createPki();
    work = mkdtempSync(join(tmpdir(), 'hark-scale-out-'));
    ports = await Promise.all(Array.from({ length: SHARDS + 1 }, () => freePort()));
    broker = await startMosquitto({
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    });
    reference = await startAggregator({
      http: { port: 0, host: '127.0.0.1' },
      brokerUrl: broker.url,
      tls: { ca: pki.ca.certPem, clientCert: pki.aggregator.certPem, clientKey: pki.aggregator.keyPem },
      clientId: 'hark-aggregator-reference',
      dataDir: join(work, 'reference'),
      alertLearningMs: 0,
      logger: silentLogger,
    });
    for (let i = 0; i < SHARDS; i++) replicas.push(await startShard(i));
    await eventually(() => expect([reference, ...replicas].every((r) => r.ready())).toBe(true), 15_000);
  });

  afterAll(async () => {
    await Promise.all([...clients.values()].map((c) => c.endAsync(true)));
    for (const r of [...replicas, reference]) await r?.stop();
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('spreads the sites over both shards', () => {
    for (let shard = 0; shard < SHARDS; shard++) expect(sitesOf(shard).length).toBeGreaterThan(0);
  });

  it('merges each device in the replica that owns its site, and every replica answers for the whole fleet', async () => {
    // Two sensors per site; both see the site's first MAC, so it merges from both.
    const perSite = 12;
    const again = sitesOf(0)[0]!;
    let sentTwice: Buffer | undefined;
    for (const site of SITES) {
      await report(site, 's1', macsOf(site, perSite));
      const sent = await report(site, 's2', macsOf(site, 1));
      if (site === again) sentTwice = sent;
    }
    // A re-sent message (same run and seq): de-duplicated where its site lives.
    await (await sensor(again, 's2')).publishAsync(
      topicFor('hark', { site: again, sensor: 's2', node: 'n1' }, 'inventory'),
      sentTwice!,
      { qos: 1 },
    );

    await eventually(async () => {
      expect(reference.inventory.size).toBe(SITES.length * perSite);
      expect(replicas.reduce((n, r) => n + r.inventory.size, 0)).toBe(SITES.length * perSite);
    }, 15_000);
    for (let shard = 0; shard < SHARDS; shard++) {
      const held = new Set([...replicas[shard]!.inventory.all()].map((d) => d.site));
      expect([...held].sort()).toEqual(sitesOf(shard).sort());
    }
    const shared = `${again}~mac:${macsOf(again, 1)[0]}`;
    expect(replicas[0]!.inventory.get(shared)?.sensors).toEqual(['s1', 's2']);

    // Each replica dropped exactly the other shards' messages, unread.
    for (let shard = 0; shard < SHARDS; shard++) {
      const others = SITES.length - sitesOf(shard).length;
      await eventually(async () =>
        expect(await metric(replicas[shard]!.httpUrl, 'hark_aggregator_messages_skipped_total')).toBe(
          2 * others + (shard === 0 ? 0 : 1),
        ),
      );
    }
    expect(await metric(replicas[0]!.httpUrl, 'hark_aggregator_inventory_duplicates_total')).toBe(1);

    // Lists, pages, filters and single devices read alike from either replica and the reference.
    for (const replica of replicas) {
      await fleetConverged(replica);
      for (const site of [sitesOf(0)[0]!, sitesOf(1)[0]!]) {
        const id = encodeURIComponent(`${site}~mac:${macsOf(site, 1)[0]}`);
        await sameAsReference(replica, `/api/v1/devices/${id}`);
      }
      await sameAsReference(replica, `/api/v1/devices/${encodeURIComponent(`${SITES[0]}~mac:nope`)}`);
    }
    for (const replica of replicas) await sameAlertsAsReference(replica);
    expect((await getJson(replicas[0]!.httpUrl, '/api/v1/alerts?limit=1000')).body.total).toBe(
      SITES.length * perSite,
    );
    // scope=shard is this replica's own part.
    const own = await getJson(replicas[1]!.httpUrl, '/api/v1/devices?scope=shard&limit=1000');
    expect(own.body.total).toBe(sitesOf(1).length * perSite);
    // Deep pages are bounded, with a message saying what to do.
    const deep = await getJson(replicas[0]!.httpUrl, '/api/v1/devices?offset=9500&limit=1000');
    expect(deep.status).toBe(400);
    expect(deep.body.message).toMatch(/first 10000 matches only; narrow the query/);
  });

  it('shows a replica that is down as missing, loses nothing meanwhile, and converges when it returns', async () => {
    const downSite = sitesOf(1)[0]!;
    const upSite = sitesOf(0)[0]!;
    await replicas[1]!.stop();

    // Sensors keep reporting while shard 1 is away: the broker queues its share in its session.
    const late = (site: string) => [`02:00:00:${SITES.indexOf(site).toString(16).padStart(2, '0')}:02:01`];
    await report(downSite, 's3', late(downSite));
    await report(upSite, 's3', late(upSite));
    await eventually(() => {
      expect(reference.inventory.get(`${downSite}~mac:${late(downSite)[0]}`)).toBeDefined();
      expect(replicas[0]!.inventory.get(`${upSite}~mac:${late(upSite)[0]}`)).toBeDefined();
    });

    const list = await getJson(replicas[0]!.httpUrl, '/api/v1/devices?limit=1000');
    expect(list.status).toBe(200);
    expect(list.body.unavailable).toEqual([{ shard: 1, error: expect.any(String) }]);
    expect(new Set(list.body.items.map((d: { site: string }) => d.site))).toEqual(new Set(sitesOf(0)));
    expect(list.body.items.map((d: { id: string }) => d.id)).toContain(`${upSite}~mac:${late(upSite)[0]}`);
    const sites = await getJson(replicas[0]!.httpUrl, '/api/v1/sites');
    expect(sites.body.unavailable).toHaveLength(1);
    const one = await getJson(
      replicas[0]!.httpUrl,
      `/api/v1/devices/${encodeURIComponent(`${downSite}~mac:${macsOf(downSite, 1)[0]}`)}`,
    );
    expect(one.status).toBe(503);
    expect(one.body.message).toMatch(/shard 1, which holds this device.s site, did not answer .*try again/);
    expect(await metric(replicas[0]!.httpUrl, 'hark_aggregator_peer_failures_total')).toBeGreaterThan(0);
    // The web UI says so too.
    if (chromiumAvailable()) {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(replicas[0]!.httpUrl);
        await expect
          .poll(() => page.locator('#status').textContent())
          .toMatch(/shard 1 not answering: its sites are missing/);
        expect(await page.locator('#status').getAttribute('class')).toContain('error');
        await expect.poll(() => page.locator('#device-count').textContent()).toBe(String(list.body.total));
      } finally {
        await browser.close();
      }
    }

    // Back with the same client id and data dir: the WAL restores its sites and sensors, the session
    // delivers the rest.
    replicas[1] = await startShard(1);
    await eventually(async () => {
      for (const replica of replicas) await fleetConverged(replica);
    }, 20_000);
    expect(replicas[1]!.inventory.get(`${downSite}~mac:${late(downSite)[0]}`)).toBeDefined();
  }, 40_000);

  it('drops the sites a replica no longer owns when the shards are re-counted', async () => {
    // The reference held every site; restarted as shard 0 of 2 on its data dir, it keeps shard 0's alone.
    const total = reference.inventory.size;
    await reference.stop();
    const resharded = await startAggregator({
      http: { port: ports[SHARDS]!, host: '127.0.0.1' },
      brokerUrl: broker.url,
      tls: { ca: pki.ca.certPem, clientCert: pki.aggregator.certPem, clientKey: pki.aggregator.keyPem },
      clientId: 'hark-aggregator-reference',
      dataDir: join(work, 'reference'),
      shard: { index: 0, count: SHARDS },
      peers: [`http://127.0.0.1:${ports[SHARDS]}`, peers()[1]!],
      logger: silentLogger,
    });
    reference = resharded;
    expect(total).toBe(replicas.reduce((n, r) => n + r.inventory.size, 0));
    expect(resharded.inventory.size).toBe(replicas[0]!.inventory.size);
    expect(new Set([...resharded.inventory.all()].map((d) => d.site))).toEqual(new Set(sitesOf(0)));
    // And, asked for the fleet, it answers as shard 0's replica does.
    await eventually(() => expect(resharded.ready()).toBe(true));
    const [mine, theirs] = await Promise.all([
      getJson(resharded.httpUrl, '/api/v1/devices?sort=hostname&limit=1000'),
      getJson(replicas[0]!.httpUrl, '/api/v1/devices?sort=hostname&limit=1000'),
    ]);
    expect(mine.body).toEqual(theirs.body);
  });
});

describe('aggregator shard configuration', () => {
  const tls = { ca: 'x', clientCert: 'x', clientKey: 'x' };
  it.each([
    [
      { shard: { index: 2, count: 2 }, brokerUrl: 'mqtts://b:8883', peers: ['http://a', 'http://b'] },
      /between 0 and 1/,
    ],
    [{ shard: { index: 0, count: 2 }, peers: ['http://a', 'http://b'] }, /needs an external broker/],
    [{ shard: { index: 0, count: 2 }, brokerUrl: 'mqtts://b:8883' }, /--peers, 2 of them/],
    [{ shard: { index: 0, count: 2 }, brokerUrl: 'mqtts://b:8883', peers: ['http://a'] }, /need 2 peer URLs/],
    [
      { shard: { index: 0, count: 2 }, brokerUrl: 'mqtts://b:8883', peers: ['http://a', 'b:80'] },
      /not an http\(s\) URL/,
    ],
  ])('refuses a shard configuration before starting anything (%#)', async (options, message) => {
    await expect(startAggregator({ tls, logger: silentLogger, ...options })).rejects.toThrow(message);
  });
});
