// Reading the API through Kubernetes RBAC, against a real kube-apiserver: the
// aggregator runs as the ServiceAccount the chart makes, with exactly the RBAC
// the chart renders (system:auth-delegator to review tokens, the reader Role to
// grant reading), and callers bring ServiceAccount tokens from the TokenRequest
// API. Two shards on a real Mosquitto read each other's sites with their own
// token. The web UI asks for a token in Chromium.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartDir, helm } from '../../test/helm/support.js';
import { ControlPlane } from '../../test/support/controlplane.js';
import { type MosquittoInstance, mosquittoAvailable, startMosquitto } from '../../test/support/mosquitto.js';
import { freePort } from '../../test/support/processes.js';
import { type RunningAggregator, shardOfSite, startAggregator } from '../src/index.js';
import { silentLogger } from '../src/log.js';
import {
  attribute,
  chromiumAvailable,
  connectSensor,
  createPki,
  device,
  eventually,
  inventory,
  launchChromium,
  metric,
  type TestPki,
} from './helpers.js';

const NS = 'hark';
const RELEASE = 'agg';
const SA = `${RELEASE}-hark-aggregator`;

describe.skipIf(!mosquittoAvailable())('API access through Kubernetes RBAC (real kube-apiserver)', () => {
  let cp: ControlPlane;
  let pki: TestPki;
  let broker: MosquittoInstance;
  let work: string;
  const replicas: RunningAggregator[] = [];
  let single: RunningAggregator;
  let sensor: MqttClient;
  let readerToken: string;
  let strangerToken: string;
  let responderToken: string;
  const token = (sa: string) => cp.kubectl(['create', 'token', sa, '-n', NS, '--duration=3600s']).trim();
  const get = (base: string, path: string, bearer?: string) =>
    // Joined as text: new URL() would read "//api/…" as another host.
    fetch(`${base}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  // Two sites that rendezvous hashing puts on different shards of two.
  const SITES = ['plant-north', 'plant-south', 'plant-east', 'plant-west', 'plant-main'];
  const siteOf = (shard: number) => SITES.find((s) => shardOfSite(s, 2) === shard)!;

  beforeAll(async () => {
    cp = await new ControlPlane({ withWorkloads: false }).start();
    work = mkdtempSync(join(tmpdir(), 'hark-api-access-'));
    cp.kubectl(['create', 'namespace', NS]);
    // The chart's own ServiceAccount and RBAC, rendered for shards (which adds their RoleBinding).
    const rbac = helm([
      'template',
      RELEASE,
      chartDir('hark-aggregator'),
      '--namespace',
      NS,
      '--set',
      'replicas=2',
      '--set',
      'broker.mode=external',
      '--set',
      'broker.external.url=mqtts://broker.example:8883',
      '--show-only',
      'templates/serviceaccount.yaml',
    ]);
    cp.kubectl(['apply', '-f', '-'], rbac);
    for (const sa of ['reader', 'stranger', 'responder'])
      cp.kubectl(['create', 'serviceaccount', sa, '-n', NS]);
    for (const role of ['reader', 'responder'])
      cp.kubectl([
        'create',
        'rolebinding',
        `responder-${role}`,
        '-n',
        NS,
        `--role=${SA}-${role}`,
        `--serviceaccount=${NS}:responder`,
      ]);
    cp.kubectl([
      'create',
      'rolebinding',
      'reader',
      '-n',
      NS,
      `--role=${SA}-reader`,
      `--serviceaccount=${NS}:reader`,
    ]);
    readerToken = token('reader');
    strangerToken = token('stranger');
    responderToken = token('responder');
    const kubeconfig = cp.serviceAccountKubeconfig(NS, SA);
    const peerTokenFile = join(work, 'token');
    writeFileSync(peerTokenFile, token(SA), { mode: 0o600 });

    pki = await createPki();
    broker = await startMosquitto({
      tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    });
    const tls = { ca: pki.ca.certPem, clientCert: pki.aggregator.certPem, clientKey: pki.aggregator.keyPem };
    const ports = [await freePort(), await freePort()];
    for (let index = 0; index < 2; index++)
      replicas.push(
        await startAggregator({
          http: { port: ports[index]!, host: '127.0.0.1' },
          brokerUrl: broker.url,
          tls,
          clientId: `hark-aggregator-${index}`,
          shard: { index, count: 2 },
          peers: ports.map((p) => `http://127.0.0.1:${p}`),
          apiAccess: { kubernetes: { namespace: NS, kubeconfig, peerTokenFile } },
          alertLearningMs: 0,
          logger: silentLogger,
        }),
      );
    single = await startAggregator({
      http: { port: 0, host: '127.0.0.1' },
      brokerUrl: broker.url,
      tls,
      clientId: 'hark-aggregator-single',
      apiAccess: { kubernetes: { namespace: NS, kubeconfig } },
      logger: silentLogger,
    });
    sensor = await connectSensor(broker.url, pki.ca.certPem, await pki.sensor(`${siteOf(1)}.s1`), {
      clientId: `${siteOf(1)}.s1`,
    });
    await eventually(() => expect([...replicas, single].every((r) => r.ready())).toBe(true), 15_000);
    await sensor.publishAsync(
      topicFor('hark', { site: siteOf(1), sensor: 's1', node: 'n1' }, 'inventory'),
      inventory([device('02:00:00:00:0a:01', { hostname: attribute('hmi-1', 0.8) })], { runId: 'access' }),
      { qos: 1 },
    );
    await eventually(() => expect(replicas[1]!.inventory.size).toBe(1), 15_000);
  }, 120_000);

  afterAll(async () => {
    await sensor?.endAsync(true);
    for (const r of [...replicas, single]) await r?.stop();
    await broker?.stop();
    await cp?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('reads for a token bound to the reader Role; refuses no token, a bad one, and one without the grant', async () => {
    const base = single.httpUrl;
    const none = await get(base, '/api/v1/devices');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as { message: string }).message).toMatch(/kubectl create token/);

    const bad = await get(base, '/api/v1/devices', 'not-a-token');
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { message: string }).message).toMatch(/did not accept the token/);

    const stranger = await get(base, '/api/v1/alerts', strangerToken);
    expect(stranger.status).toBe(403);
    expect(((await stranger.json()) as { message: string }).message).toBe(
      `system:serviceaccount:${NS}:stranger may not read this aggregator: grant get on inventory.hark.dev in namespace ${NS} (bind the chart's reader Role)`,
    );

    for (const path of ['/api/v1/devices', '/api/v1/sensors', '/api/v1/sites', '/api/v1/alerts'])
      expect((await get(base, path, readerToken)).status, path).toBe(200);
    // Probes, metrics, the UI and the API's schema stay open.
    for (const path of ['/healthz', '/readyz', '/metrics', '/', '/api/v1/openapi.json'])
      expect((await get(base, path)).status, path).toBe(200);
    expect(await metric(base, 'hark_aggregator_api_denied_total', { reason: 'forbidden' })).toBe(1);
    expect(await metric(base, 'hark_aggregator_api_denied_total', { reason: 'no-token' })).toBe(1);
    // No other spelling of a data path reads without a token.
    for (const path of [
      '/api/v1/devices/',
      '/api/v1/devices?scope=shard',
      '/api/v1//devices',
      '//api/v1/devices',
      '/api/v1/%64evices',
      '/API/V1/devices',
      '/api/v1/devices/x/history',
    ])
      expect((await get(base, path)).status, path).not.toBe(200);
  });

  it('lets shards read each other with their own ServiceAccount, and no one else through them', async () => {
    // The device lives on shard 1; shard 0 fetches it with its token, for a reader only.
    const list = await get(replicas[0]!.httpUrl, '/api/v1/devices', readerToken);
    const body = (await list.json()) as { total: number; unavailable?: unknown[]; items: { id: string }[] };
    expect(body.unavailable).toBeUndefined();
    expect(body.total).toBe(1);
    const one = await get(
      replicas[0]!.httpUrl,
      `/api/v1/devices/${encodeURIComponent(body.items[0]!.id)}`,
      readerToken,
    );
    expect(one.status).toBe(200);
    expect((await get(replicas[0]!.httpUrl, '/api/v1/devices', strangerToken)).status).toBe(403);
    // Asking a shard directly takes a token too.
    expect((await get(replicas[1]!.httpUrl, '/api/v1/devices?scope=shard')).status).toBe(401);
  });

  it('acknowledges an alert for the responder Role only, through the shard that does not hold it', async () => {
    const base = replicas[0]!.httpUrl; // the alert is on shard 1
    const ack = (id: string, bearer: string, body: object = {}) =>
      fetch(`${base}/api/v1/alerts/${id}/acknowledge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const list = async (query: string) =>
      (await (await get(base, `/api/v1/alerts${query}`, readerToken)).json()) as {
        total: number;
        items: { id: string; kind: string; acknowledged?: { by: string; comment?: string; at: string } }[];
      };
    const open = await list('?acknowledged=false');
    expect(open.items.map((a) => a.kind)).toEqual(['new-device']);
    const id = open.items[0]!.id;

    const reader = await ack(id, readerToken);
    expect(reader.status).toBe(403);
    expect(((await reader.json()) as { message: string }).message).toBe(
      `system:serviceaccount:${NS}:reader may not update alerts.hark.dev in namespace ${NS} (bind the chart's responder Role)`,
    );
    expect((await list('?acknowledged=false')).total).toBe(1);

    const done = await ack(id, responderToken, { comment: 'commissioning HMI, ticket 4711' });
    expect(done.status).toBe(200);
    const acknowledged = (
      (await done.json()) as { acknowledged: { by: string; comment: string; at: string } }
    ).acknowledged;
    expect(acknowledged).toMatchObject({
      by: `system:serviceaccount:${NS}:responder`,
      comment: 'commissioning HMI, ticket 4711',
    });
    expect((await list('?acknowledged=false')).total).toBe(0);
    expect((await list('?acknowledged=true')).items.map((a) => [a.id, a.acknowledged])).toEqual([
      [id, acknowledged],
    ]);

    // No shard holds it: 404, after both were asked.
    const none = await ack('AAAAAAAAAAAAAAAAAAAAAA', responderToken);
    expect(none.status).toBe(404);
    expect((await ack(id, strangerToken)).status).toBe(403);
  });

  it('answers 503, and allows nothing, while the API server cannot be asked', async () => {
    const fresh = token('reader'); // not cached yet
    const restarting = cp.restartApiServer(4_000);
    await new Promise((r) => setTimeout(r, 1_500));
    const during = await get(single.httpUrl, '/api/v1/devices', fresh);
    expect(during.status).toBe(503);
    expect(((await during.json()) as { message: string }).message).toMatch(
      /cannot check the token with the Kubernetes API server/,
    );
    await restarting;
    await eventually(
      async () => expect((await get(single.httpUrl, '/api/v1/devices', fresh)).status).toBe(200),
      30_000,
    );
  }, 60_000);

  it.skipIf(!chromiumAvailable())(
    'the web UI asks for a token, then shows the inventory',
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(replicas[0]!.httpUrl);
        const dialog = page.locator('#token-dialog');
        await expect.poll(() => dialog.isVisible()).toBe(true);
        expect(await page.locator('#token-reason').textContent()).toMatch(/needs a Kubernetes bearer token/);
        await page.fill('#token-form input[name="token"]', readerToken);
        await page.click('#token-form button[type="submit"]');
        await expect.poll(() => page.locator('#device-rows').textContent()).toContain('hmi-1');
        expect(await dialog.isVisible()).toBe(false);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
