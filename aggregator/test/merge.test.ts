// Merging: one device seen by several sensors of a site is one record; the
// same MAC in another site is another device. First through the real broker
// and ingest, then the store's rules for evidence and ordering directly.
import { topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InventoryStore, type RunningAggregator } from '../src/index.js';
import {
  attribute,
  connectSensor,
  createPki,
  device,
  eventually,
  getJson,
  inventory,
  inventoryMessage,
  startWithEmbeddedBroker,
} from './helpers.js';

const MAC = '00:aa:bb:cc:dd:01';

describe('merging through the embedded broker', () => {
  let aggregator: RunningAggregator;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    const pki = await createPki();
    aggregator = await startWithEmbeddedBroker(pki);
    const url = `mqtts://127.0.0.1:${aggregator.brokerPort}`;
    for (const cn of ['site-a.s1', 'site-a.s2', 'site-b.s1']) {
      clients.push(await connectSensor(url, pki.ca.certPem, await pki.sensor(cn), { clientId: cn }));
    }
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await aggregator?.stop();
  });

  it('makes one record per site for a MAC several sensors report', async () => {
    const [a1, a2, b1] = clients as [MqttClient, MqttClient, MqttClient];
    const t = (site: string, sensor: string) => topicFor('hark', { site, sensor, node: 'n1' }, 'inventory');
    await a1.publishAsync(
      t('site-a', 's1'),
      inventory([device(MAC, { ipv4: ['10.0.0.5'], protocols: ['arp'], vendor: attribute('Acme', 0.4) })]),
      { qos: 1 },
    );
    await a2.publishAsync(
      t('site-a', 's2'),
      inventory([
        device(MAC, { ipv4: ['10.0.0.6'], protocols: ['lldp'], vendor: attribute('Acme Corp', 0.9) }),
      ]),
      { qos: 1 },
    );
    await b1.publishAsync(t('site-b', 's1'), inventory([device(MAC, { ipv4: ['192.168.1.5'] })]), { qos: 1 });

    const items = await eventually(async () => {
      const { body } = await getJson(aggregator.httpUrl, `/api/v1/devices?q=${MAC}&sort=site`);
      expect(body.total).toBe(2);
      expect(body.items[0].sensors).toEqual(['s1', 's2']);
      return body.items;
    });
    expect(items[0]).toMatchObject({
      site: 'site-a',
      deviceId: `mac:${MAC}`,
      sensors: ['s1', 's2'],
      ipv4: ['10.0.0.5', '10.0.0.6'],
      protocols: ['arp', 'lldp'],
      vendor: { value: 'Acme Corp', confidence: 0.9, sensor: 's2' },
    });
    expect(items[1]).toMatchObject({ site: 'site-b', sensors: ['s1'], ipv4: ['192.168.1.5'] });
    expect(items[0].id).not.toBe(items[1].id);
  });
});

describe('InventoryStore', () => {
  const origin = (sensor: string, site = 'site-a', node = 'n1') => ({ site, sensor, node });
  const message = (devices: ReturnType<typeof device>[], zone?: string) =>
    inventoryMessage(devices, zone ? { zone } : {});

  it('prefers the newest evidence between equal confidences, and keeps min firstSeen / max lastSeen', () => {
    const store = new InventoryStore();
    store.apply(
      origin('s1'),
      message([
        device(MAC, {
          hostname: attribute('old-name', 0.5, '2025-01-01T00:00:00Z'),
          firstSeen: '2025-01-01T00:00:00Z',
          lastSeen: '2025-01-02T00:00:00Z',
        }),
      ]),
    );
    store.apply(
      origin('s2'),
      message([
        device(MAC, {
          hostname: attribute('new-name', 0.5, '2025-01-03T00:00:00Z'),
          firstSeen: '2025-01-02T00:00:00Z',
          lastSeen: '2025-01-03T00:00:00Z',
        }),
      ]),
    );
    const [merged] = [...store.all()];
    expect(merged?.hostname).toMatchObject({ value: 'new-name', sensor: 's2' });
    expect(merged?.firstSeen).toBe('2025-01-01T00:00:00Z');
    expect(merged?.lastSeen).toBe('2025-01-03T00:00:00Z');
  });

  it('lets a sensor revise its own claim, but not with an older record', () => {
    const store = new InventoryStore();
    const at = (lastSeen: string, vendor: string) =>
      message([device(MAC, { lastSeen, vendor: attribute(vendor, 0.9) })]);
    store.apply(origin('s1'), at('2025-01-02T00:00:00Z', 'First'));
    store.apply(origin('s1'), at('2025-01-03T00:00:00Z', 'Revised'));
    expect(store.apply(origin('s1'), at('2025-01-01T00:00:00Z', 'Stale'))).toMatchObject({ ignored: 1 });
    expect([...store.all()][0]?.vendor?.value).toBe('Revised');
    expect(store.size).toBe(1);
    // Instants, not text: other shapes of the same or a later time are told apart.
    store.apply(origin('s1'), at('2025-01-03T00:00:00.500Z', 'Later'));
    expect(store.apply(origin('s1'), at('2025-01-03T01:00:00+01:00', 'Earlier'))).toMatchObject({
      ignored: 1,
    });
    expect(store.apply(origin('s1'), at('2025-01-03T00:00:01Z', 'Latest'))).toMatchObject({ updated: 1 });
    expect([...store.all()][0]?.vendor?.value).toBe('Latest');
  });

  it('keeps zones of a site apart', () => {
    const store = new InventoryStore();
    store.apply(origin('s1'), message([device(MAC)], 'it'));
    store.apply(origin('s2'), message([device(MAC)], 'ot'));
    expect(store.size).toBe(2);
    expect(store.query({ zone: 'ot' }).items.map((d) => d.sensors)).toEqual([['s2']]);
  });
});
