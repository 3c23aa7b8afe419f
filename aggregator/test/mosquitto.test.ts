// The publish → API path through a real Mosquitto, configured by hark's own
// generator (mutual TLS, CN as username, ACL per sensor), with the aggregator
// as an external-broker client.
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
  type TestPki,
  tryConnect,
} from './helpers.js';

const available = mosquittoAvailable();
if (!available)
  console.warn('SKIPPED: Mosquitto is not installed at /usr/sbin/mosquitto (apt-get install mosquitto)');

describe.skipIf(!available)('aggregator with Mosquitto', () => {
  let pki: TestPki;
  let broker: MosquittoInstance;
  let aggregator: RunningAggregator;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    pki = await createPki();
    broker = await startMosquitto({
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    });
    aggregator = await startAggregator({
      http: { port: 0, host: '127.0.0.1' },
      brokerUrl: broker.url,
      tls: { ca: pki.ca.certPem, clientCert: pki.aggregator.certPem, clientKey: pki.aggregator.keyPem },
      logger: silentLogger,
    });
    await eventually(() => expect(aggregator.ready()).toBe(true), 15_000);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await aggregator?.stop();
    await broker?.stop();
  });

  it('delivers a sensor inventory to the API, and drops a publish under another sensor', async () => {
    const s1 = await connectSensor(broker.url, pki.ca.certPem, await pki.sensor('site-a.s1'), {
      clientId: 'site-a.s1',
    });
    clients.push(s1);
    // Mosquitto's ACL drops this silently (no disconnect in MQTT 3.1.1).
    await s1.publishAsync(
      topicFor('hark', { site: 'site-a', sensor: 's2', node: 'n1' }, 'inventory'),
      inventory([device('66:66:66:66:66:66')]),
      { qos: 1 },
    );
    await s1.publishAsync(
      topicFor('hark', { site: 'site-a', sensor: 's1', node: 'n1' }, 'inventory'),
      inventory([device('00:11:22:33:44:55', { ipv4: ['10.1.2.3'] })]),
      { qos: 1 },
    );
    await eventually(async () => {
      const { body } = await getJson(aggregator.httpUrl, '/api/v1/devices?q=10.1.2.3');
      expect(body.total).toBe(1);
      expect(body.items[0]).toMatchObject({ site: 'site-a', sensors: ['s1'] });
    }, 15_000);
    // One publisher, QoS 1, in order: had the forged message been delivered, it would be here by now.
    expect((await getJson(aggregator.httpUrl, '/api/v1/devices?q=66:66:66:66:66:66')).body.total).toBe(0);
  });

  it('refuses clients without a certificate or with one from another CA', async () => {
    expect(await tryConnect(broker.url, pki.ca.certPem, {})).toBe('refused');
    expect(await tryConnect(broker.url, pki.ca.certPem, await pki.foreignSensor('site-a.s9'))).toBe(
      'refused',
    );
  });
});
