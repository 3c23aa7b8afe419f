// Alerts: sensors report through the embedded broker with mutual TLS, and the
// aggregator's API answers which devices are new and which changed what they
// are, and which sensors went down or hold a certificate near expiry.
// Learning and the state a restart keeps are driven through the stores' own
// interfaces with explicit receipt times.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAggregator } from '../src/aggregator.js';
import { type Alert, AlertStore } from '../src/alerts/store.js';
import { InventoryStore } from '../src/inventory/store.js';
import { silentLogger } from '../src/log.js';
import {
  attribute,
  connectSensor,
  createPki,
  device,
  eventually,
  getJson,
  heartbeat,
  inventory,
  inventoryMessage,
  metric,
  startWithEmbeddedBroker,
  status,
  type TestPki,
} from './helpers.js';

const PLC_MAC = '00:1d:9c:00:00:01';
/** A source's word for an attribute, at a confidence, with its evidence. */
const said = (value: string, confidence: number, protocol: string, field: string) => ({
  value,
  confidence,
  evidence: [{ protocol, field, value, seen: new Date().toISOString() }],
});
const plc = (firmware: string, extra: Partial<DeviceRecord> = {}) =>
  device(PLC_MAC, {
    ipv4: ['10.0.0.5'],
    protocols: ['enip'],
    hostname: attribute('plc-1', 0.7),
    model: said('1756-ENBT/A', 0.6, 'http', 'server'),
    firmwareVersion: said(firmware, 0.9, 'enip', 'list_identity.revision'),
    category: said('ot', 0.8, 'enip', 'list_identity.device_type'),
    ...extra,
  });

describe('alerts through the embedded broker', () => {
  let pki: TestPki;
  let aggregator: RunningAggregator;
  let s1: MqttClient;
  let s2: MqttClient;
  const topic = (site: string, sensor: string) => topicFor('hark', { site, sensor, node: 'n1' }, 'inventory');
  const alerts = async (query = '') =>
    (
      await getJson<{ items: Alert[]; total: number }>(
        aggregator.httpUrl,
        `/api/v1/alerts?limit=1000${query}`,
      )
    ).body;

  beforeAll(async () => {
    pki = await createPki();
    aggregator = await startWithEmbeddedBroker(pki, { alertLearningMs: 0 });
    const url = `mqtts://127.0.0.1:${aggregator.brokerPort}`;
    s1 = await connectSensor(url, pki.ca.certPem, await pki.sensor('site-a.s1'), {
      clientId: 'site-a.s1.n1',
    });
    s2 = await connectSensor(url, pki.ca.certPem, await pki.sensor('site-b.s2'), {
      clientId: 'site-b.s2.n1',
    });
  });

  afterAll(async () => {
    await s1?.endAsync(true);
    await s2?.endAsync(true);
    await aggregator?.stop();
  });

  it('raises a new device, and a change its own source reports, not what a surer source adds', async () => {
    const send = (records: DeviceRecord[]) =>
      s1.publishAsync(topic('site-a', 's1'), inventory(records, { runId: 'alerts-1' }), { qos: 1 });
    await send([plc('4.7')]);
    const [fresh] = (
      await eventually(async () => {
        const body = await alerts();
        expect(body.total).toBe(1);
        return body;
      })
    ).items;
    expect(fresh).toMatchObject({
      kind: 'new-device',
      severity: 'medium', // a control device
      site: 'site-a',
      deviceId: `mac:${PLC_MAC}`,
      summary: 'New device plc-1 (1756-ENBT/A)',
      sensor: 's1',
      node: 'n1',
      count: 1,
    });
    const plcId = fresh!.device!;
    expect((await getJson(aggregator.httpUrl, `/api/v1/devices/${encodeURIComponent(plcId)}`)).status).toBe(
      200,
    );

    // The same field of the same protocol now gives another revision: upgraded.
    await send([plc('4.8')]);
    const upgrade = await eventually(async () => {
      const body = await alerts('&kind=attribute-changed');
      expect(body.total).toBe(1);
      return body.items[0]!;
    });
    expect(upgrade).toMatchObject({
      severity: 'medium',
      attribute: 'firmwareVersion',
      from: '4.7',
      to: '4.8',
      summary: 'Firmware version of plc-1 (1756-ENBT/A) changed from 4.7 to 4.8',
      evidence: [{ protocol: 'enip', field: 'list_identity.revision', value: '4.8' }],
    });

    // A surer source names the model otherwise: hark learned more, the device did not change.
    await send([plc('4.8', { model: said('1756-ENBT/B', 0.9, 'enip', 'list_identity.product_name') })]);
    // Back to 4.7, then 4.8 again: the second upgrade is the first alert again, counted.
    await send([plc('4.7')]);
    await send([plc('4.8')]);
    await eventually(async () => {
      const body = await alerts('&kind=attribute-changed');
      expect(body.items.map((a) => [a.from, a.to, a.count])).toEqual([
        ['4.7', '4.8', 2],
        ['4.8', '4.7', 1],
      ]);
    });
    const again = (await alerts()).items[0]!;
    expect(again.id).toBe(upgrade.id);
    expect(again.lastAt > upgrade.lastAt).toBe(true);
    expect(again.firstAt).toBe(upgrade.firstAt);
    expect((await alerts('&severity=high')).total).toBe(0); // the model's change was not the device's
    expect((await alerts(`&device=${encodeURIComponent(plcId)}`)).total).toBe(3);
    // An integration polling with the newest time it has gets what was raised since: the downgrade,
    // and the upgrade raised again.
    const since = await alerts(`&since=${encodeURIComponent(upgrade.lastAt)}`);
    expect(since.items.map((a) => [a.from, a.to])).toEqual([
      ['4.7', '4.8'],
      ['4.8', '4.7'],
    ]);
    expect((await getJson(aggregator.httpUrl, '/api/v1/alerts?since=yesterday')).status).toBe(400);
    expect(
      await metric(aggregator.httpUrl, 'hark_aggregator_alerts_total', {
        kind: 'attribute-changed',
        severity: 'medium',
      }),
    ).toBe(3);
  });

  it('a device another sensor already reported is not new; the same MAC at another site is', async () => {
    const s3 = await connectSensor(
      `mqtts://127.0.0.1:${aggregator.brokerPort}`,
      pki.ca.certPem,
      await pki.sensor('site-a.s3'),
      { clientId: 'site-a.s3.n1' },
    );
    try {
      await s3.publishAsync(topic('site-a', 's3'), inventory([plc('4.8')], { runId: 'alerts-3' }), {
        qos: 1,
      });
      await s2.publishAsync(topic('site-b', 's2'), inventory([plc('4.8')], { runId: 'alerts-2' }), {
        qos: 1,
      });
      await eventually(async () => expect((await alerts('&site=site-b')).total).toBe(1));
      // Both messages were applied (the device at site-a now has two sensors), and site-a has one new device still.
      await eventually(async () => {
        const { body } = await getJson(aggregator.httpUrl, '/api/v1/devices?site=site-a');
        expect(body.items[0].sensors).toEqual(['s1', 's3']);
      });
      expect((await alerts('&site=site-a&kind=new-device')).total).toBe(1);
      expect((await alerts('&site=site-b')).items[0]).toMatchObject({ kind: 'new-device', sensor: 's2' });
    } finally {
      await s3.endAsync(true);
    }
  });

  it('raises a protocol a control device never spoke before, not one that comes back after its agent restarted', async () => {
    const send = (records: DeviceRecord[], runId: string) =>
      s1.publishAsync(topic('site-a', 's1'), inventory(records, { runId }), { qos: 1 });
    const laptop = (protocols: string[]) => device('02:00:00:00:00:77', { protocols });
    await send(
      [plc('4.8', { protocols: ['enip', 's7comm'] }), laptop(['dhcp']), laptop(['dhcp', 'ssh'])],
      'p-1',
    );
    const fresh = await eventually(async () => {
      const body = await alerts('&kind=new-protocol');
      expect(body.total).toBe(1);
      return body.items[0]!;
    });
    expect(fresh).toMatchObject({
      severity: 'medium',
      protocol: 's7comm',
      deviceId: `mac:${PLC_MAC}`,
      summary: 'plc-1 (1756-ENBT/A) speaks s7comm, a protocol no sensor heard from it before',
    });
    // The agent restarts: its records list the protocols again as it hears them.
    await send([plc('4.8', { protocols: ['enip'] })], 'p-2');
    await send([plc('4.8', { protocols: ['enip', 's7comm'] })], 'p-2');
    await send([plc('4.8', { protocols: ['enip', 's7comm', 'modbus'] })], 'p-2');
    await eventually(async () => {
      const body = await alerts('&kind=new-protocol');
      expect(body.items.map((a) => [a.protocol, a.count])).toEqual([
        ['modbus', 1],
        ['s7comm', 1],
      ]);
    });
  });

  it('refuses an unknown kind or severity with a 400 that names the field', async () => {
    const bad = await getJson(aggregator.httpUrl, '/api/v1/alerts?kind=everything');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/kind/);
    expect((await getJson(aggregator.httpUrl, '/api/v1/alerts?severity=critical')).status).toBe(400);
  });
  it('acknowledges an alert until it is raised again; refuses an unknown id or a bad body', async () => {
    const mac = '00:1d:9c:00:00:42';
    const hmi = (firmware: string) =>
      device(mac, {
        hostname: attribute('hmi-42', 0.7),
        firmwareVersion: said(firmware, 0.9, 'enip', 'list_identity.revision'),
      });
    const send = (records: DeviceRecord[]) =>
      s1.publishAsync(topic('site-a', 's1'), inventory(records, { runId: 'alerts-ack' }), { qos: 1 });
    // By what changed, not by position: the downgrade below is an alert of its own, and when both
    // messages are received in one millisecond the API orders the two by id.
    const changeOf = async (from = '2.1', to = '2.2') =>
      (await alerts('&kind=attribute-changed')).items.find(
        (a) => a.deviceId === `mac:${mac}` && a.from === from && a.to === to,
      );
    await send([hmi('2.1')]);
    await send([hmi('2.2')]);
    const change = await eventually(async () => {
      const found = await changeOf();
      expect(found?.to).toBe('2.2');
      return found!;
    });
    const acknowledge = (id: string, body?: unknown) =>
      fetch(`${aggregator.httpUrl}/api/v1/alerts/${id}/acknowledge`, {
        method: 'POST',
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    const done = await acknowledge(change.id, { comment: 'planned upgrade' });
    expect(done.status).toBe(200);
    const answer = (await done.json()) as Alert;
    expect(answer.acknowledged).toMatchObject({ by: 'anonymous', comment: 'planned upgrade' });
    expect(Date.parse(answer.acknowledged!.at)).toBeGreaterThanOrEqual(Date.parse(change.lastAt));
    const open = (await alerts('&acknowledged=false')).items.map((a) => a.id);
    expect(open).not.toContain(change.id);
    expect(open.length).toBeGreaterThan(0);
    expect((await alerts('&acknowledged=true')).items.map((a) => a.id)).toEqual([change.id]);
    // Again, without a body: who and when are replaced, and the comment goes.
    const again = await acknowledge(change.id);
    expect(again.status).toBe(200);
    expect(((await again.json()) as Alert).acknowledged!.comment).toBeUndefined();

    // Downgraded and upgraded again: the same finding is raised again, and is open again.
    await send([hmi('2.1')]);
    await send([hmi('2.2')]);
    const reopened = await eventually(async () => {
      const found = await changeOf();
      expect(found?.count).toBe(2);
      return found!;
    });
    expect(reopened.acknowledged).toBeUndefined();
    expect((await changeOf('2.2', '2.1'))?.count).toBe(1);
    expect((await alerts('&acknowledged=false')).items.map((a) => a.id)).toContain(change.id);

    const unknown = await acknowledge('AAAAAAAAAAAAAAAAAAAAAA', {});
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toBe('no alert AAAAAAAAAAAAAAAAAAAAAA');
    expect((await acknowledge(change.id, { comment: 'x'.repeat(1001) })).status).toBe(400);
    expect((await acknowledge(change.id, { comment: { text: 'not a string' } })).status).toBe(400);
  });
});

describe('alert learning and what a restart keeps', () => {
  const HOUR = 3600_000;
  const T0 = Date.parse('2026-12-01T00:00:00Z');
  const s1 = { site: 'site-a', sensor: 's1', node: 'n1' };
  const s2 = { site: 'site-a', sensor: 's2', node: 'n1' };
  const apply = (
    inventoryStore: InventoryStore,
    alertStore: AlertStore,
    origin: typeof s1,
    at: number,
    devices: DeviceRecord[],
  ) => inventoryStore.apply(origin, inventoryMessage(devices), alertStore.watch(origin, undefined, at));

  it("a node's reports are its baseline while it learns; each node learns on its own clock", () => {
    const inv = new InventoryStore();
    const alerts = new AlertStore({ learningMs: 24 * HOUR, logger: silentLogger });
    apply(inv, alerts, s1, T0, [device('02:00:00:00:00:01')]);
    apply(inv, alerts, s1, T0 + 23 * HOUR, [device('02:00:00:00:00:02'), plc('4.7')]);
    apply(inv, alerts, s1, T0 + 23.5 * HOUR, [plc('4.8', { protocols: ['enip', 'modbus'] })]);
    expect(alerts.size).toBe(0);
    // What the PLC spoke while its node learned is its baseline.
    apply(inv, alerts, s1, T0 + 25 * HOUR, [plc('4.8', { protocols: ['enip', 'modbus'] })]);
    expect(alerts.size).toBe(0);
    // A second sensor joins on day two: its first day is its own baseline.
    apply(inv, alerts, s2, T0 + 25 * HOUR, [device('02:00:00:00:00:03')]);
    expect(alerts.size).toBe(0);
    // The first node has learned: what is new to the whole site now is an alert.
    apply(inv, alerts, s1, T0 + 25 * HOUR, [device('02:00:00:00:00:03'), device('02:00:00:00:00:04')]);
    expect(alerts.query({}).items.map((a) => a.deviceId)).toEqual(['mac:02:00:00:00:00:04']);
    expect(alerts.query({}).items[0]!.firstAt).toBe(new Date(T0 + 25 * HOUR).toISOString());
  });

  it('the saved state keeps the alerts and the learning clocks: a restart neither learns again nor forgets', () => {
    const inv = new InventoryStore();
    const alerts = new AlertStore({ learningMs: HOUR, logger: silentLogger });
    apply(inv, alerts, s1, T0, [plc('4.7')]);
    apply(inv, alerts, s1, T0 + 2 * HOUR, [plc('4.8'), device('02:00:00:00:00:05')]);
    expect(alerts.size).toBe(2);
    const saved = JSON.parse(JSON.stringify({ inventory: inv.exportState(), alerts: alerts.exportState() }));

    const inv2 = new InventoryStore();
    const alerts2 = new AlertStore({ learningMs: HOUR, logger: silentLogger });
    inv2.importState(saved.inventory);
    alerts2.importState(saved.alerts);
    expect(alerts2.query({})).toEqual(alerts.query({}));
    apply(inv2, alerts2, s1, T0 + 3 * HOUR, [plc('4.9')]);
    expect(alerts2.query({ kind: 'attribute-changed' }).items.map((a) => a.to)).toEqual(['4.9', '4.8']);
    // The protocols the PLC was heard speaking are kept too: enip is not news after the restart.
    apply(inv2, alerts2, s1, T0 + 4 * HOUR, [plc('4.9', { protocols: ['enip', 'bacnet'] })]);
    expect(alerts2.query({ kind: 'new-protocol' }).items.map((a) => a.protocol)).toEqual(['bacnet']);
    // A shard keeps only the sites it owns.
    const other = new AlertStore({ learningMs: HOUR, logger: silentLogger });
    other.importState(saved.alerts, (site) => site !== 'site-a');
    expect(other.size).toBe(0);
  });

  it('holds a bounded number, dropping the least recently raised, and counts what it dropped', async () => {
    const registry = new Registry();
    const inv = new InventoryStore();
    const alerts = new AlertStore({ learningMs: 0, maxAlerts: 3, logger: silentLogger, registry });
    for (let i = 1; i <= 5; i++) apply(inv, alerts, s1, T0 + i, [device(`02:00:00:00:01:0${i}`)]);
    expect(alerts.query({}).items.map((a) => a.deviceId)).toEqual([
      'mac:02:00:00:00:01:05',
      'mac:02:00:00:00:01:04',
      'mac:02:00:00:00:01:03',
    ]);
    expect(
      (await registry.getSingleMetric('hark_aggregator_alerts_dropped_total')!.get()).values[0]!.value,
    ).toBe(2);
    expect((await registry.getSingleMetric('hark_aggregator_alerts_held')!.get()).values[0]!.value).toBe(3);
  });
});

describe('alerts about the sensors, and the fleet a restart keeps', () => {
  const STALE_MS = 1500;
  let pki: TestPki;
  let work: string;
  let aggregator: RunningAggregator | undefined;
  const clients: MqttClient[] = [];
  const start = () =>
    startWithEmbeddedBroker(pki, { staleAfterMs: STALE_MS, dataDir: join(work, 'data'), alertLearningMs: 0 });
  const statusTopic = (sensor: string) => topicFor('hark', { site: 'site-f', sensor, node: 'n1' }, 'status');
  const heartbeatTopic = (sensor: string) =>
    topicFor('hark', { site: 'site-f', sensor, node: 'n1' }, 'heartbeat');
  /** Connects as an agent does: a retained online status, and the same status offline as its last will. */
  const agent = async (sensor: string) => {
    const connectedAt = new Date().toISOString();
    const client = await connectSensor(
      `mqtts://127.0.0.1:${aggregator!.brokerPort}`,
      pki.ca.certPem,
      await pki.sensor(`site-f.${sensor}`),
      {
        clientId: `site-f.${sensor}.n1`,
        will: { topic: statusTopic(sensor), payload: status(false, connectedAt), qos: 1, retain: true },
      },
    );
    clients.push(client);
    await client.publishAsync(statusTopic(sensor), status(true, connectedAt), { qos: 1, retain: true });
    return client;
  };
  const alerts = async (query: string) =>
    (
      await getJson<{ items: Alert[]; total: number }>(
        aggregator!.httpUrl,
        `/api/v1/alerts?limit=1000${query}`,
      )
    ).body;

  beforeAll(async () => {
    pki = await createPki();
    work = mkdtempSync(join(tmpdir(), 'hark-fleet-alerts-'));
    aggregator = await start();
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    await aggregator?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('raises a node whose connection drops, or that falls silent, once per outage; and a certificate near expiry', async () => {
    const dropped = await agent('s-drop');
    await dropped.publishAsync(heartbeatTopic('s-drop'), heartbeat(), { qos: 1 });
    const silent = await agent('s-silent');
    await silent.publishAsync(heartbeatTopic('s-silent'), heartbeat(), { qos: 1 });
    const expiring = await agent('s-cert');
    const soon = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const later = new Date(Date.now() + 30 * 86_400_000).toISOString();
    await expiring.publishAsync(heartbeatTopic('s-cert'), heartbeat({ certificateNotAfter: soon }), {
      qos: 1,
    });
    const healthy = await agent('s-ok');
    // Its capture lost packets: the kernel's buffer filled.
    await healthy.publishAsync(
      heartbeatTopic('s-ok'),
      heartbeat({
        certificateNotAfter: later,
        capture: { packets: 1000, bytes: 64000, malformed: 0, kernelDrops: 37, agentDrops: 0 },
      }),
      { qos: 1 },
    );

    // The first connection drops without a word: the broker publishes its last will.
    dropped.stream.destroy();
    const down = await eventually(async () => {
      const body = await alerts('&kind=sensor-down');
      expect(body.items.map((a) => a.sensor)).toContain('s-drop');
      return body.items.find((a) => a.sensor === 's-drop')!;
    });
    expect(down).toMatchObject({ severity: 'high', site: 'site-f', node: 'n1', count: 1 });
    expect(down.summary).toMatch(/went offline: its connection to the broker dropped/);
    expect(down.device).toBeUndefined();
    // Prometheus sees the fleet too (the chart's PrometheusRule pages on these).
    const url = aggregator!.httpUrl;
    expect(await metric(url, 'hark_aggregator_sensor_nodes', { site: 'site-f', health: 'offline' })).toBe(1);
    expect(await metric(url, 'hark_aggregator_sensor_nodes', { site: 'site-f', health: 'online' })).toBe(3);
    expect(
      await metric(url, 'hark_aggregator_sensor_dropped_packets_total', { sensor: 's-ok', where: 'kernel' }),
    ).toBe(37);

    // The others keep reporting; the silent one does not, and goes stale.
    const beat = setInterval(() => {
      for (const [client, sensor] of [
        [expiring, 's-cert'],
        [healthy, 's-ok'],
      ] as const)
        void client.publishAsync(
          heartbeatTopic(sensor),
          heartbeat({
            certificateNotAfter: sensor === 's-cert' ? soon : later,
          }),
          { qos: 1 },
        );
    }, 300);
    try {
      await eventually(async () => {
        const body = await alerts('&kind=sensor-down');
        expect(body.items.map((a) => a.sensor).sort()).toEqual(['s-drop', 's-silent']);
      }, 10_000);
      const stale = (await alerts('&kind=sensor-down')).items.find((a) => a.sensor === 's-silent')!;
      expect(stale.summary).toMatch(/stopped reporting: no heartbeat since/);
      const cert = await alerts('&kind=certificate-expiring');
      expect(cert.items.map((a) => [a.sensor, a.severity])).toEqual([['s-cert', 'medium']]);
      expect(cert.items[0]!.summary).toContain(soon);

      // Back, then dropped again: the same alert, counted twice.
      const back = await agent('s-drop');
      await back.publishAsync(heartbeatTopic('s-drop'), heartbeat(), { qos: 1 });
      await eventually(async () =>
        expect(
          (await getJson(aggregator!.httpUrl, '/api/v1/sensors?site=site-f')).body.items.find(
            (s: { sensor: string }) => s.sensor === 's-drop',
          ).health,
        ).toBe('online'),
      );
      await new Promise((r) => setTimeout(r, 1000)); // a check sees it back
      back.stream.destroy();
      await eventually(async () =>
        expect((await alerts('&kind=sensor-down')).items.find((a) => a.sensor === 's-drop')!.count).toBe(2),
      );
      expect((await alerts('&kind=certificate-expiring')).items[0]!.count).toBe(1);
    } finally {
      clearInterval(beat);
    }
  });

  it('lists the fleet at once after a restart, and does not raise again an outage it already raised', async () => {
    // Disconnected cleanly (no last will), and what they had sent applied, before the fleet is read.
    for (const c of clients.splice(0)) await c.endAsync().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const before = (await getJson(aggregator!.httpUrl, '/api/v1/sensors?site=site-f')).body.items;
    const downBefore = (await alerts('&kind=sensor-down')).items;
    await aggregator!.stop();
    aggregator = await start();
    // No heartbeat has come since: the sensors and their last heartbeats are the saved ones.
    const after = (await getJson(aggregator.httpUrl, '/api/v1/sensors?site=site-f')).body.items;
    expect(after.map((s: { id: string; lastHeartbeat?: string }) => [s.id, s.lastHeartbeat])).toEqual(
      before.map((s: { id: string; lastHeartbeat?: string }) => [s.id, s.lastHeartbeat]),
    );
    // Past the start-up grace, everyone is silent now: the two already down are not raised again.
    await new Promise((r) => setTimeout(r, STALE_MS + 1000));
    const downAfter = (await alerts('&kind=sensor-down')).items;
    for (const sensor of ['s-drop', 's-silent'])
      expect(downAfter.find((a) => a.sensor === sensor)!.count).toBe(
        downBefore.find((a) => a.sensor === sensor)!.count,
      );
    expect(downAfter.map((a) => a.sensor).sort()).toEqual(['s-cert', 's-drop', 's-ok', 's-silent']);
  });
});
