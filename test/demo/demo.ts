#!/usr/bin/env node
// `make demo`: the main job on an embedded default. A site CA and mutual-TLS
// certificates made on the spot, the aggregator with its embedded broker, and
// a sensor agent replaying a simulated site (or a capture you name) at the
// capture's own pace, so devices appear in the UI as they speak.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startAggregator } from '@hark/aggregator';
import { parseAgentConfig } from '@hark/contracts/agent-config';
import { runAgent, writeSitePcap } from '@hark/sensor-agent';
import pino from 'pino';
import { centralCertificates, sensorCertificate, siteCa, writeAgentTls } from '../support/site-pki.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.HARK_DEMO_PORT ?? '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    devices: { type: 'string', default: '40' },
    capture: { type: 'string' },
    live: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(`make demo [ARGS="--port 8080 --devices 40 | --capture FILE.pcap | --live IFACE"]

Starts the aggregator (embedded MQTT broker with mutual TLS, API and UI) and a
sensor agent on a simulated site of --devices devices, or replaying --capture,
or listening on --live IFACE (needs CAP_NET_RAW).`);
  process.exit(0);
}

const log = pino({ name: 'hark-demo', level: process.env.LOG_LEVEL ?? 'warn' });
const work = mkdtempSync(join(tmpdir(), 'hark-demo-'));

async function main(): Promise<void> {
  step('Creating a site CA and mutual-TLS certificates');
  const ca = await siteCa('hark demo site CA');
  const { broker, aggregator: aggregatorClient } = await centralCertificates(ca);
  // The operator's default lifetime (a Sensor's spec.certificate.duration, 2160h): a day-long one would
  // raise the certificate-expiring alert, rightly, since nothing renews it in the demo.
  const tls = writeAgentTls(
    work,
    ca,
    await sensorCertificate(ca, 'demo-site', 'demo-sensor', 90 * 86_400_000),
  );

  step('Starting the aggregator with its embedded MQTT broker');
  const aggregator = await startAggregator({
    http: { port: Number(values.port), host: values.host },
    embeddedBroker: { port: 0, host: '127.0.0.1' },
    tls: {
      ca: ca.certPem,
      serverCert: broker.certPem,
      serverKey: broker.keyPem,
      clientCert: aggregatorClient.certPem,
      clientKey: aggregatorClient.keyPem,
    },
    // Durable, with the Parquet history a device's history is read from; compacted every 10 s
    // (60 s in production) so the demo's histories fill while you watch.
    dataDir: join(work, 'aggregator'),
    compaction: { intervalMs: 10_000 },
    // A demo has no network to learn first: every device it shows is new, and raises an alert.
    alertLearningMs: 0,
    logger: log,
  });

  let capture: { interfaces: string[]; replay?: { file: string; pace: 'realtime'; loop: boolean } };
  if (values.live) {
    // A live interface: the agent runs a supervised tcpdump on it (needs tcpdump and CAP_NET_RAW).
    capture = { interfaces: [values.live] };
    step(`Listening passively on ${values.live}`);
  } else {
    let file = values.capture;
    if (!file) {
      file = join(work, 'site.pcap');
      const frames = await writeSitePcap(file, {
        devices: Number(values.devices),
        seed: 7,
        durationSeconds: 60,
        startMs: Date.now(),
      });
      step(`Simulated a site of ${values.devices} devices (${frames} frames over 60 s of traffic)`);
    }
    capture = { interfaces: ['auto'], replay: { file, pace: 'realtime', loop: true } };
    step("Replaying it at the capture's own pace");
  }

  step('Starting a sensor agent');
  const agent = await runAgent(
    parseAgentConfig({
      site: 'demo-site',
      sensor: 'demo-sensor',
      node: 'demo-node',
      capture,
      reporting: {
        brokerUrl: `mqtts://127.0.0.1:${aggregator.brokerPort}`,
        snapshotIntervalSeconds: 3,
        heartbeatIntervalSeconds: 5,
      },
      tls,
      spoolDir: join(work, 'spool'),
      http: { port: 0 },
    }),
    { logger: log },
  );

  const url = `http://${values.host === '0.0.0.0' ? 'localhost' : values.host}:${aggregator.httpPort}`;
  console.log(`
  hark is running.

    UI           ${url}/
    Devices API  ${url}/api/v1/devices
    Alerts API   ${url}/api/v1/alerts
    Sensors API  ${url}/api/v1/sensors
    Metrics      ${url}/metrics
    Data         ${join(work, 'aggregator')} (write-ahead log, Parquet history; removed on stop)

  Devices appear as they speak; click one for its evidence and history. Ctrl-C to stop.
`);
  const progress = setInterval(async () => {
    try {
      const res = await fetch(`${url}/api/v1/devices?limit=1`);
      const body = (await res.json()) as { total: number };
      process.stdout.write(`\r  ${body.total} devices discovered, ${agent.stats.packets} packets seen   `);
    } catch {
      // the next tick will tell
    }
  }, 2000);

  const stop = async () => {
    clearInterval(progress);
    process.stdout.write('\n  stopping...\n');
    await agent.stop();
    await aggregator.stop();
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function step(text: string): void {
  console.log(`  • ${text}`);
}

main().catch((error) => {
  console.error(`\nhark demo failed: ${error instanceof Error ? error.message : String(error)}`);
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
    console.error(`Port ${values.port} is taken: run make demo ARGS="--port 8090"`);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
