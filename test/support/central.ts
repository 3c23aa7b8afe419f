// The central half of a site for delivery tests: a site CA, a real Mosquitto
// with hark's generated configuration, and an aggregator subscribed to it,
// all with the production identities.
import { join } from 'node:path';
import { type RunningAggregator, startAggregator } from '@hark/aggregator';
import type { Logger } from 'pino';
import { type MosquittoInstance, startMosquitto } from './mosquitto.js';
import { waitFor } from './processes.js';
import { centralCertificates, type KeyPair, siteCa } from './site-pki.js';

export interface Central {
  ca: KeyPair;
  broker: MosquittoInstance;
  aggregator: RunningAggregator;
}

/** Starts Mosquitto and an aggregator (data in `work`/aggregator) and waits until the aggregator is subscribed. */
export async function startCentral(work: string, caName: string, logger: Logger): Promise<Central> {
  const ca = await siteCa(caName);
  const { broker: server, aggregator: client } = await centralCertificates(ca);
  const broker = await startMosquitto({ tls: { ca: ca.certPem, cert: server.certPem, key: server.keyPem } });
  const aggregator = await startAggregator({
    http: { port: 0, host: '127.0.0.1' },
    brokerUrl: broker.url,
    tls: { ca: ca.certPem, clientCert: client.certPem, clientKey: client.keyPem },
    dataDir: join(work, 'aggregator'),
    logger,
  });
  await waitFor('the aggregator to subscribe', () => aggregator.ready(), { timeoutMs: 30_000 });
  return { ca, broker, aggregator };
}
