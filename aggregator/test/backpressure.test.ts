// A Parquet history slower than the inflow must not grow the aggregator
// without bound: over its backlog limit the aggregator stops reading from the
// broker (the broker keeps the messages) until the history has caught up.
// Proven with a limit so small that every message waits for the one before it
// to be written: the backlog never holds more than a couple of messages,
// reading did pause, and every observation still arrives in the inventory and
// in the history. On both brokers: aedes in-process and a real Mosquitto.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topicFor } from '@hark/contracts/mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MosquittoInstance, mosquittoAvailable, startMosquitto } from '../../test/support/mosquitto.js';
import { type RunningAggregator, startAggregator } from '../src/index.js';
import { silentLogger } from '../src/log.js';
import { connectSensor, createPki, device, eventually, inventory, metric, type TestPki } from './helpers.js';

const MESSAGES = 60;
const DEVICES = 50;

const mac = (m: number, d: number) =>
  `02:00:00:00:${m.toString(16).padStart(2, '0')}:${d.toString(16).padStart(2, '0')}`;

for (const broker of ['embedded', 'mosquitto'] as const) {
  describe.skipIf(broker === 'mosquitto' && !mosquittoAvailable())(
    `history backpressure (${broker} broker)`,
    () => {
      let pki: TestPki;
      let mosquitto: MosquittoInstance | undefined;
      let aggregator: RunningAggregator;
      let url: string;
      const dataDir = mkdtempSync(join(tmpdir(), 'hark-backpressure-'));

      beforeAll(async () => {
        pki = await createPki();
        const tls = {
          ca: pki.ca.certPem,
          serverCert: pki.server.certPem,
          serverKey: pki.server.keyPem,
          clientCert: pki.aggregator.certPem,
          clientKey: pki.aggregator.keyPem,
        };
        if (broker === 'mosquitto') {
          mosquitto = await startMosquitto({
            tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
          });
          url = mosquitto.url;
        }
        aggregator = await startAggregator({
          http: { port: 0, host: '127.0.0.1' },
          ...(broker === 'embedded'
            ? { embeddedBroker: { port: 0, host: '127.0.0.1' } }
            : { brokerUrl: url }),
          tls,
          dataDir,
          historyBacklogBytes: 1,
          logger: silentLogger,
        });
        if (broker === 'embedded') url = `mqtts://127.0.0.1:${aggregator.brokerPort}`;
        await eventually(() => expect(aggregator.ready()).toBe(true), 15_000);
      });

      afterAll(async () => {
        await aggregator?.stop();
        await mosquitto?.stop();
        rmSync(dataDir, { recursive: true, force: true });
      });

      it('stops reading while the history is behind, keeps its backlog bounded, and loses nothing', async () => {
        const api = aggregator.httpUrl;
        const sensor = await connectSensor(url, pki.ca.certPem, await pki.sensor('site-a.s1'), {
          clientId: `bp-${broker}`,
        });
        const payloads = Array.from({ length: MESSAGES }, (_, m) =>
          inventory(
            Array.from({ length: DEVICES }, (_, d) => device(mac(m, d))),
            { seq: m + 1 },
          ),
        );
        const largest = Math.max(...payloads.map((p) => p.byteLength));
        let maxBacklog = 0;
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            maxBacklog = Math.max(maxBacklog, await metric(api, 'hark_aggregator_history_backlog_bytes'));
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        const topic = topicFor('hark', { site: 'site-a', sensor: 's1', node: 'node-1' }, 'inventory');
        await Promise.all(payloads.map((p) => sensor.publishAsync(topic, p, { qos: 1 })));
        await eventually(
          async () =>
            expect(await metric(api, 'hark_aggregator_observations_total')).toBeGreaterThanOrEqual(
              MESSAGES * DEVICES,
            ),
          30_000,
        );
        sampling = false;
        await sampler;
        await sensor.endAsync();

        expect(await metric(api, 'hark_aggregator_ingest_pauses_total')).toBeGreaterThan(0);
        // One message handed over while the next is read, at most.
        expect(maxBacklog).toBeLessThanOrEqual(2 * largest);
        const devices = (await (await fetch(new URL('/api/v1/devices?site=site-a&limit=1', api))).json()) as {
          total: number;
        };
        expect(devices.total).toBe(MESSAGES * DEVICES);
        await eventually(async () =>
          expect(await metric(api, 'hark_aggregator_history_backlog_bytes')).toBe(0),
        );
        expect(await metric(api, 'hark_aggregator_ingest_paused')).toBe(0);
      }, 60_000);
    },
  );
}
