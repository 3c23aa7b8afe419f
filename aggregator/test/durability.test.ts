// The aggregator acknowledges only what is durable: run as its own process
// (dist/main.js) against a real Mosquitto, SIGKILLed mid-stream and
// restarted; every message a sensor got a PUBACK for ends up in the inventory
// and in the Parquet history exactly once, read back with DuckDB; the alerts
// it raised come back from its log and its saved state, none raised twice.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MosquittoInstance, mosquittoAvailable, startMosquitto } from '../../test/support/mosquitto.js';
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

const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const N = 3000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const mac = (i: number) =>
  `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

describe.skipIf(!mosquittoAvailable())('aggregator durability (SIGKILL mid-stream)', () => {
  let pki: TestPki;
  let broker: MosquittoInstance;
  let work: string;
  let httpPort: number;
  let child: ChildProcess | undefined;
  let sensor: MqttClient | undefined;
  let logs = '';

  function startAggregatorProcess(): ChildProcess {
    const c = spawn(
      process.execPath,
      [
        MAIN,
        'serve',
        '--broker-url',
        broker.url,
        '--ca',
        join(work, 'ca.pem'),
        '--client-cert',
        join(work, 'agg.pem'),
        '--client-key',
        join(work, 'agg.key'),
        '--http-port',
        String(httpPort),
        '--http-host',
        '127.0.0.1',
        '--data-dir',
        join(work, 'data'),
        '--compact-interval',
        '1',
        '--alert-learning',
        '0',
        '--api-auth',
        'none',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    c.stdout?.on('data', (d: Buffer) => {
      logs += d.toString();
    });
    c.stderr?.on('data', (d: Buffer) => {
      logs += d.toString();
    });
    return c;
  }
  const base = () => `http://127.0.0.1:${httpPort}`;
  /** Every device was new once, so there is one new-device alert per device, raised once. */
  const everyDeviceNewOnce = async () => {
    const alerts = await getJson(base(), '/api/v1/alerts?kind=new-device&limit=1000');
    expect(alerts.body.total).toBe(N);
    for (let offset = 0; offset < N; offset += 1000) {
      const page = await getJson(base(), `/api/v1/alerts?kind=new-device&limit=1000&offset=${offset}`);
      for (const a of page.body.items) expect(a.count, a.deviceId).toBe(1);
    }
  };
  const ready = () =>
    eventually(async () => expect((await fetch(`${base()}/readyz`)).status).toBe(200), 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\naggregator logs:\n${logs}`);
      },
    );

  beforeAll(async () => {
    pki = await createPki();
    work = mkdtempSync(join(tmpdir(), 'hark-durability-'));
    writeFileSync(join(work, 'ca.pem'), pki.ca.certPem);
    writeFileSync(join(work, 'agg.pem'), pki.aggregator.certPem);
    writeFileSync(join(work, 'agg.key'), pki.aggregator.keyPem, { mode: 0o600 });
    broker = await startMosquitto({
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    });
    httpPort = await freePort();
  });

  afterAll(async () => {
    await sensor?.endAsync(true);
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('loses nothing it acknowledged and applies every message once', async () => {
    child = startAggregatorProcess();
    await ready();
    sensor = await connectSensor(broker.url, pki.ca.certPem, await pki.sensor('site-a.s1'), {
      clientId: 'site-a.s1.n1',
    });
    const topic = topicFor('hark', { site: 'site-a', sensor: 's1', node: 'n1' }, 'inventory');
    const send = (i: number) =>
      sensor!.publishAsync(topic, inventory([device(mac(i))], { runId: 'run-k', seq: i }), { qos: 1 });

    let killedAt = -1;
    for (let i = 0; i < N; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => send(i + k)));
      if (i === 1000) {
        // Mid-stream: the aggregator has acknowledged some, holds some un-acked.
        child.kill('SIGKILL');
        killedAt = i;
      }
    }
    expect(killedAt).toBe(1000);
    await new Promise<void>((r) =>
      child!.exitCode !== null || child!.signalCode ? r() : child!.once('exit', () => r()),
    );
    // A sensor re-sending what it already sent: de-duplicated by (runId, seq), and raising nothing again.
    await Promise.all(Array.from({ length: 50 }, (_, k) => send(k * 7)));

    child = startAggregatorProcess();
    await ready();
    await eventually(async () => {
      const { body } = await getJson(base(), '/api/v1/devices?site=site-a&limit=1');
      expect(body.total).toBe(N);
    }, 60_000);
    expect(await metric(base(), 'hark_aggregator_inventory_duplicates_total')).toBeGreaterThanOrEqual(50);
    await everyDeviceNewOnce();

    // An acknowledgement is answered once it is logged: killed right after, the aggregator has it back.
    const first = (await getJson(base(), '/api/v1/alerts?kind=new-device&limit=1')).body.items[0];
    const acknowledged = await fetch(`${base()}/api/v1/alerts/${first.id}/acknowledge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ comment: 'known: commissioning' }),
    });
    expect(acknowledged.status).toBe(200);
    child.kill('SIGKILL');
    await new Promise<void>((r) =>
      child!.exitCode !== null || child!.signalCode ? r() : child!.once('exit', () => r()),
    );
    child = startAggregatorProcess();
    await ready();
    const acknowledgements = async () =>
      (await getJson(base(), '/api/v1/alerts?acknowledged=true')).body.items.map(
        (a: { id: string; acknowledged: { by: string; comment: string } }) => [
          a.id,
          a.acknowledged.by,
          a.acknowledged.comment,
        ],
      );
    expect(await acknowledgements()).toEqual([[first.id, 'anonymous', 'known: commissioning']]);

    // A clean stop compacts and writes the history.
    child.kill('SIGTERM');
    await new Promise<void>((r) => (child!.exitCode !== null ? r() : child!.once('exit', () => r())));

    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const rows = await conn.runAndReadAll(
      `select count(*)::INTEGER as n, count(distinct seq)::INTEGER as seqs, min(site) as site, min(date)::VARCHAR as date
       from read_parquet('${join(work, 'data', 'history', 'observations')}/**/*.parquet', hive_partitioning = true)`,
    );
    const [r] = rows.getRowObjects() as { n: number; seqs: number; site: string; date: string }[];
    expect(r).toMatchObject({ n: N, seqs: N, site: 'site-a' });
    expect(r!.date).toBe(new Date().toISOString().slice(0, 10));
    const inv = await conn.runAndReadAll(
      `select count(*)::INTEGER as n from read_parquet('${join(work, 'data', 'history', 'inventory')}/**/*.parquet', filename = true) group by filename order by n desc limit 1`,
    );
    // The latest inventory snapshot file holds every device.
    expect((inv.getRowObjects()[0] as { n: number }).n).toBe(N);
    const columns = await conn.runAndReadAll(
      `select column_name from (describe select * from read_parquet('${join(work, 'data', 'history', 'observations')}/**/*.parquet', hive_partitioning = true))`,
    );
    expect(columns.getRowObjects().map((c) => c.column_name)).toEqual(
      expect.arrayContaining([
        'site',
        'sensor',
        'node',
        'run_id',
        'seq',
        'device_id',
        'received_at',
        'record',
        'date',
      ]),
    );
    conn.closeSync();

    // Started again on the state that clean stop compacted, with nothing left in the log to replay.
    child = startAggregatorProcess();
    await ready();
    await everyDeviceNewOnce();
    expect(await acknowledgements()).toEqual([[first.id, 'anonymous', 'known: commissioning']]);
  }, 120_000);
});
