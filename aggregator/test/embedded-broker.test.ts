// The publish → API path through the embedded broker, and everything the
// broker and ingest must refuse, with real TLS, real MQTT clients and the
// real HTTP server.
import { MAX_MESSAGE_BYTES, topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_PACKET_BYTES, type RunningAggregator } from '../src/index.js';
import {
  attribute,
  closed,
  connectSensor,
  createPki,
  device,
  eventually,
  getJson,
  heartbeat,
  inventory,
  metric,
  startWithEmbeddedBroker,
  status,
  type TestPki,
  tryConnect,
} from './helpers.js';

const topic = (site: string, sensor: string, kind: 'inventory' | 'heartbeat' | 'status', node = 'node-1') =>
  topicFor('hark', { site, sensor, node }, kind);

describe('aggregator with the embedded broker', () => {
  let pki: TestPki;
  let aggregator: RunningAggregator;
  let url: string;
  let api: string;
  const clients: MqttClient[] = [];

  async function sensor(commonName: string): Promise<MqttClient> {
    const client = await connectSensor(url, pki.ca.certPem, await pki.sensor(commonName), {
      clientId: `${commonName}-${clients.length}`,
    });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    pki = await createPki();
    aggregator = await startWithEmbeddedBroker(pki);
    url = `mqtts://127.0.0.1:${aggregator.brokerPort}`;
    api = aggregator.httpUrl;
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await aggregator?.stop();
  });

  it('shows a device a sensor published at GET /api/v1/devices', async () => {
    const s1 = await sensor('site-a.s1');
    const record = device('00:11:22:33:44:01', {
      ipv4: ['10.0.0.7'],
      protocols: ['dhcp', 'modbus'],
      vendor: attribute('Siemens', 0.9),
      model: attribute('S7-1200', 0.8),
      type: attribute('plc', 0.7),
      hostname: attribute('plc-01', 0.6),
    });
    await s1.publishAsync(topic('site-a', 's1', 'inventory'), inventory([record], { zone: 'ot' }), {
      qos: 1,
    });

    const { body } = await eventually(async () => {
      const result = await getJson(api, '/api/v1/devices?q=siemens');
      expect(result.body.total).toBe(1);
      return result;
    });
    const found = body.items[0];
    expect(found).toMatchObject({
      site: 'site-a',
      zone: 'ot',
      deviceId: 'mac:00:11:22:33:44:01',
      sensors: ['s1'],
      macs: ['00:11:22:33:44:01'],
      ipv4: ['10.0.0.7'],
      protocols: ['dhcp', 'modbus'],
      vendor: { value: 'Siemens', confidence: 0.9, sensor: 's1' },
      type: { value: 'plc' },
    });

    const one = await getJson(api, `/api/v1/devices/${encodeURIComponent(found.id)}`);
    expect(one.status).toBe(200);
    expect(one.body.id).toBe(found.id);
    expect((await getJson(api, '/api/v1/devices/nope')).status).toBe(404);
    expect((await getJson(api, '/api/v1/devices?type=PLC&site=site-a')).body.total).toBe(1);
    expect((await getJson(api, '/api/v1/devices?site=site-b')).body.total).toBe(0);
    expect((await getJson(api, '/api/v1/devices?sort=bogus')).status).toBe(400);
  });

  it('drops a multi-part snapshot left incomplete once the sender starts another, and its late parts', async () => {
    const s3 = await sensor('site-c.s3');
    const t = topic('site-c', 's3', 'inventory');
    const part = (seq: number, partNo: number, parts: number, mac: string) =>
      s3.publishAsync(
        t,
        inventory([device(mac)], { mode: 'snapshot', runId: 'run-parts', seq, part: partNo, parts }),
        { qos: 1 },
      );
    // Snapshot A (seqs 100-102): two of its three parts arrive, then the agent stopped mid-way.
    await part(100, 1, 3, '02:00:00:00:0a:01');
    await part(101, 2, 3, '02:00:00:00:0a:02');
    // Snapshot B (seqs 103-104), whole.
    await part(103, 1, 2, '02:00:00:00:0b:01');
    await part(104, 2, 2, '02:00:00:00:0b:02');
    await eventually(async () => {
      expect((await getJson(api, '/api/v1/devices?site=site-c')).body.total).toBe(2);
    });
    expect(await metric(api, 'hark_aggregator_snapshots_abandoned_total')).toBe(1);
    // A's last part, late: dropped too, and A never applies.
    await part(102, 3, 3, '02:00:00:00:0a:03');
    await eventually(async () => {
      expect(await metric(api, 'hark_aggregator_snapshots_abandoned_total')).toBe(2);
    });
    const ids = (await getJson(api, '/api/v1/devices?site=site-c')).body.items.map(
      (d: { deviceId: string }) => d.deviceId,
    );
    expect(ids.sort()).toEqual(['mac:02:00:00:00:0b:01', 'mac:02:00:00:00:0b:02']);
  });

  it('tracks sensor health from heartbeats and status', async () => {
    const s1 = await sensor('site-a.s1');
    await s1.publishAsync(topic('site-a', 's1', 'status'), status(true), { qos: 1, retain: true });
    await s1.publishAsync(topic('site-a', 's1', 'heartbeat'), heartbeat(), { qos: 1 });
    const sensors = await eventually(async () => {
      const { body } = await getJson(api, '/api/v1/sensors');
      expect(body.items[0]?.lastHeartbeat).toBeDefined();
      return body.items;
    });
    expect(sensors[0]).toMatchObject({
      id: 'site-a.s1',
      site: 'site-a',
      sensor: 's1',
      health: 'online',
      agentVersions: ['0.1.0-test'],
      nodes: [{ node: 'node-1', health: 'online', online: true }],
    });
    const sites = (await getJson(api, '/api/v1/sites')).body.items;
    expect(sites).toContainEqual(
      expect.objectContaining({ site: 'site-a', sensors: expect.objectContaining({ online: 1 }) }),
    );
  });

  it('serves probes, metrics, OpenAPI and the UI', async () => {
    expect((await getJson(api, '/healthz')).status).toBe(200);
    expect((await getJson(api, '/readyz')).status).toBe(200);
    expect(await metric(api, 'hark_aggregator_messages_total', { kind: 'inventory' })).toBeGreaterThan(0);
    const openapi = await getJson(api, '/api/v1/openapi.json');
    expect(openapi.body.paths['/api/v1/devices']).toBeDefined();
    // An integration finds how to acknowledge an alert, and what it takes, in the document.
    const acknowledge = openapi.body.paths['/api/v1/alerts/{id}/acknowledge'];
    expect(acknowledge.post.requestBody.content['application/json'].schema.properties.comment.maxLength).toBe(
      1000,
    );
    expect(Object.keys(acknowledge.post.responses).sort()).toEqual(['200', '404', '503']);
    const page = await fetch(new URL('/', api));
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('/ui/app.js');
    expect((await fetch(new URL('/ui/app.js', api))).status).toBe(200);
  });

  it('refuses a client without a certificate', async () => {
    expect(await tryConnect(url, pki.ca.certPem, {})).toBe('refused');
  });

  it('refuses a certificate from another CA', async () => {
    expect(await tryConnect(url, pki.ca.certPem, await pki.foreignSensor('site-a.s9'))).toBe('refused');
  });

  it("refuses a client that claims the aggregator's client id", async () => {
    const s3 = await pki.sensor('site-a.s3');
    expect(await tryConnect(url, pki.ca.certPem, s3, { clientId: 'hark-aggregator' })).toBe('refused');
    expect(aggregator.ready()).toBe(true);
  });

  it("does not deliver a sensor's publish under another sensor's topic, and disconnects it", async () => {
    const forger = await sensor('site-a.s2');
    const before = await metric(api, 'hark_broker_denied_total', {
      action: 'publish',
      reason: 'topic names another sensor',
    });
    const gone = closed(forger);
    forger.publish(topic('site-a', 's1', 'inventory'), inventory([device('66:66:66:66:66:66')]), { qos: 1 });
    await gone;
    // The same sensor may not retain inventory on its own topic either.
    const retainer = await sensor('site-a.s2');
    const gone2 = closed(retainer);
    retainer.publish(topic('site-a', 's2', 'inventory'), inventory([device('77:77:77:77:77:77')]), {
      qos: 1,
      retain: true,
    });
    await gone2;

    expect(
      await metric(api, 'hark_broker_denied_total', {
        action: 'publish',
        reason: 'topic names another sensor',
      }),
    ).toBe(before + 1);
    // A later legitimate message arrives; the forged and retained ones never do.
    const s1 = await sensor('site-a.s1');
    await s1.publishAsync(topic('site-a', 's1', 'inventory'), inventory([device('00:11:22:33:44:02')]), {
      qos: 1,
    });
    await eventually(async () =>
      expect((await getJson(api, '/api/v1/devices?q=00:11:22:33:44:02')).body.total).toBe(1),
    );
    expect((await getJson(api, '/api/v1/devices?q=66:66:66:66:66:66')).body.total).toBe(0);
    expect((await getJson(api, '/api/v1/devices?q=77:77:77:77:77:77')).body.total).toBe(0);
  });

  it('does not let a sensor subscribe', async () => {
    const spy = await sensor('site-a.s4');
    // The broker answers with a failure code (0x80), which mqtt.js raises as an error.
    await expect(spy.subscribeAsync('hark/v1/#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
  });

  it('counts malformed, schema-invalid and oversized messages and keeps serving', async () => {
    const s1 = await sensor('site-a.s1');
    const count = (reason: string) => metric(api, 'hark_aggregator_messages_rejected_total', { reason });
    const before = {
      notJson: await count('not-json'),
      schema: await count('schema'),
      oversized: await count('oversized'),
    };
    await s1.publishAsync(topic('site-a', 's1', 'inventory'), Buffer.from('{"not json'), { qos: 1 });
    await s1.publishAsync(
      topic('site-a', 's1', 'inventory'),
      Buffer.from(JSON.stringify({ schema: 1, kind: 'inventory' })),
      {
        qos: 1,
      },
    );
    // A valid message of another kind: the topic's kind decides, so it fails that kind's schema.
    await s1.publishAsync(topic('site-a', 's1', 'heartbeat'), inventory([]), { qos: 1 });
    // Just over the message limit, but within the broker's packet limit: the ingest must refuse it.
    await s1.publishAsync(topic('site-a', 's1', 'inventory'), Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20), {
      qos: 1,
    });

    await eventually(async () => {
      expect(await count('not-json')).toBe(before.notJson + 1);
      expect(await count('schema')).toBe(before.schema + 2);
      expect(await count('oversized')).toBe(before.oversized + 1);
    });

    // Still serving and still ingesting.
    await s1.publishAsync(topic('site-a', 's1', 'inventory'), inventory([device('00:11:22:33:44:03')]), {
      qos: 1,
    });
    await eventually(async () =>
      expect((await getJson(api, '/api/v1/devices?q=00:11:22:33:44:03')).body.total).toBe(1),
    );
    expect((await getJson(api, '/readyz')).status).toBe(200);
  });

  it('cuts a connection that sends a packet above the broker limit', async () => {
    const s5 = await sensor('site-a.s5');
    const gone = closed(s5);
    s5.publish(topic('site-a', 's5', 'inventory'), Buffer.alloc(DEFAULT_MAX_PACKET_BYTES + 1, 0x20), {
      qos: 0,
    });
    await gone;
    expect(await metric(api, 'hark_broker_denied_total', { action: 'packet', reason: 'too-large' })).toBe(1);
    expect(aggregator.ready()).toBe(true);
  });
});
