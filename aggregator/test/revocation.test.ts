// Certificate revocation at both brokers: a sensor whose certificate is on its
// site CA's CRL (the operator's `ca.crl`) is refused, and the embedded broker
// also cuts it off when a new CRL arrives while it is connected. Real TLS,
// real CRLs from the operator's CRL writer, a site CA that is an intermediate
// of an organisation root made with OpenSSL, and a real Mosquitto.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pki as operatorPki } from '@hark/operator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mosquittoAvailable, startMosquitto } from '../../test/support/mosquitto.js';
import { startAggregator } from '../src/index.js';
import { silentLogger } from '../src/log.js';
import {
  closed,
  connectSensor,
  crlFrom,
  eventually,
  type Identity,
  metric,
  organisationPki,
  tryConnect,
} from './helpers.js';

const DAY = 86_400_000;

interface Site {
  /** What brokers trust: the organisation root only. */
  root: Identity;
  siteCa: Identity;
  server: Identity;
  aggregator: Identity;
  sensor(commonName: string): Promise<Identity>;
}

/** Leaf certificates from the site CA, each presented with the chain up to the root. */
async function site(): Promise<Site> {
  const { root, siteCa } = await organisationPki();
  const withChain = (leaf: Identity): Identity => ({ ...leaf, certPem: leaf.certPem + siteCa.certPem });
  const issue = async (commonName: string, ou: string, usage: 'client' | 'server') =>
    withChain(
      await operatorPki.issueCertificate(siteCa, {
        commonName,
        organizationalUnit: ou,
        usage,
        ...(usage === 'server' ? { ipAddresses: ['127.0.0.1'] } : {}),
        lifetimeMs: DAY,
      }),
    );
  return {
    root,
    siteCa,
    server: await issue('hark-broker', 'hark-broker', 'server'),
    aggregator: await issue('hark-aggregator', 'hark-aggregator', 'client'),
    sensor: (cn) => issue(cn, 'hark-sensor', 'client'),
  };
}

describe('revocation at the embedded broker', () => {
  let s: Site;
  let dir: string;
  let crlFile: string;

  beforeAll(async () => {
    s = await site();
    dir = mkdtempSync(join(tmpdir(), 'hark-crl-'));
    crlFile = join(dir, 'ca.crl');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The trust bundle: the organisation root and the site CA (the operator's ca.crt).
  const start = (extra: { extraTrust?: string } = {}) =>
    startAggregator({
      http: { port: 0, host: '127.0.0.1' },
      embeddedBroker: { port: 0, host: '127.0.0.1', crlFile, crlReloadIntervalMs: 100 },
      tls: {
        ca: s.root.certPem + s.siteCa.certPem + (extra.extraTrust ?? ''),
        serverCert: s.server.certPem,
        serverKey: s.server.keyPem,
        clientCert: s.aggregator.certPem,
        clientKey: s.aggregator.keyPem,
      },
      logger: silentLogger,
    });

  it('refuses a revoked sensor, and cuts it off when the CRL naming it arrives', async () => {
    const [kept, revoked] = await Promise.all([s.sensor('plant-1.kept'), s.sensor('plant-1.revoked')]);
    writeFileSync(crlFile, crlFrom(s.siteCa));
    const aggregator = await start();
    try {
      const url = `mqtts://127.0.0.1:${aggregator.brokerPort}`;
      // The site CA is an intermediate: Node's own `crl` option would refuse
      // even these, for want of the root's CRL. (The aggregator's own
      // subscription is a client too, and got through.)
      const connected = await connectSensor(url, s.root.certPem, revoked, { clientId: 'revoked-1' });
      expect(await tryConnect(url, s.root.certPem, kept, { clientId: 'kept-1' })).toBe('connected');

      writeFileSync(crlFile, crlFrom(s.siteCa, [revoked]));
      await closed(connected);
      expect(await tryConnect(url, s.root.certPem, revoked, { clientId: 'revoked-2' })).toBe('refused');
      expect(await tryConnect(url, s.root.certPem, kept, { clientId: 'kept-2' })).toBe('connected');
      expect(await metric(aggregator.httpUrl, 'hark_broker_denied_total', { reason: 'revoked' })).toBe(2);
      connected.end(true);
    } finally {
      await aggregator.stop();
    }
  });

  it('fails closed: no CRL from the issuer, or an expired one, refuses its clients', async () => {
    const sensor = await s.sensor('plant-1.s1');
    // A second site whose CA the broker trusts but whose CRL it was not given.
    const plant2 = await operatorPki.generateCa({ commonName: 'hark site CA plant-2', lifetimeMs: DAY });
    const plant2Sensor = await operatorPki.issueCertificate(plant2, {
      commonName: 'plant-2.s1',
      organizationalUnit: 'hark-sensor',
      usage: 'client',
      lifetimeMs: DAY,
    });
    writeFileSync(crlFile, crlFrom(s.siteCa));
    const aggregator = await start({ extraTrust: plant2.certPem });
    try {
      const url = `mqtts://127.0.0.1:${aggregator.brokerPort}`;
      expect(await tryConnect(url, s.root.certPem, sensor, { clientId: 'a' })).toBe('connected');
      expect(await tryConnect(url, s.root.certPem, plant2Sensor, { clientId: 'b' })).toBe('refused');
      expect(await metric(aggregator.httpUrl, 'hark_broker_denied_total', { reason: 'no-crl' })).toBe(1);

      const past = Date.now() - 2 * DAY;
      writeFileSync(
        crlFile,
        crlFrom(s.siteCa, [], { thisUpdate: new Date(past), nextUpdate: new Date(past + DAY) }),
      );
      await eventually(async () =>
        expect(await metric(aggregator.httpUrl, 'hark_broker_crl_next_update_timestamp_seconds')).toBe(
          Math.floor((past + DAY) / 1000),
        ),
      );
      expect(await tryConnect(url, s.root.certPem, sensor, { clientId: 'c' })).toBe('refused');
      // The aggregator's own subscription is refused too: an expired CRL stops the site, loudly.
      expect(
        await metric(aggregator.httpUrl, 'hark_broker_denied_total', { reason: 'crl-expired' }),
      ).toBeGreaterThanOrEqual(1);

      // A damaged file on reload keeps the last good CRL in force and says so.
      writeFileSync(crlFile, crlFrom(s.siteCa));
      await eventually(async () =>
        expect(await tryConnect(url, s.root.certPem, sensor, { clientId: 'd' })).toBe('connected'),
      );
      writeFileSync(crlFile, '-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n');
      await eventually(async () =>
        expect(await metric(aggregator.httpUrl, 'hark_broker_crl_reload_errors_total')).toBeGreaterThan(0),
      );
      expect(await tryConnect(url, s.root.certPem, sensor, { clientId: 'e' })).toBe('connected');
    } finally {
      await aggregator.stop();
    }
  });

  it('will not start on a CRL file that is missing or not a CRL, and says which', async () => {
    writeFileSync(crlFile, 'hello');
    await expect(start()).rejects.toThrow(`the CRL file ${crlFile} is not a PEM CRL`);
    rmSync(crlFile);
    await expect(start()).rejects.toThrow(`cannot read the CRL file ${crlFile}`);
  });
});

const available = mosquittoAvailable();
if (!available)
  console.warn('SKIPPED: Mosquitto is not installed at /usr/sbin/mosquitto (apt-get install mosquitto)');

describe.skipIf(!available)('revocation at Mosquitto (crlfile)', () => {
  it('refuses a revoked sensor after the CRL is reloaded on SIGHUP, and one whose issuer has no CRL', async () => {
    const s = await site();
    const [kept, revoked] = await Promise.all([s.sensor('plant-1.kept'), s.sensor('plant-1.revoked')]);
    const broker = await startMosquitto({
      tls: { ca: s.root.certPem, cert: s.server.certPem, key: s.server.keyPem },
      crl: crlFrom(s.siteCa),
    });
    try {
      expect(await tryConnect(broker.url, s.root.certPem, revoked, { clientId: 'r1' })).toBe('connected');
      await broker.updateCrl(crlFrom(s.siteCa, [revoked]));
      expect(await tryConnect(broker.url, s.root.certPem, revoked, { clientId: 'r2' })).toBe('refused');
      expect(await tryConnect(broker.url, s.root.certPem, kept, { clientId: 'k1' })).toBe('connected');

      const stranger = await operatorPki.generateCa({ commonName: 'unrelated CA', lifetimeMs: DAY });
      await broker.updateCrl(crlFrom(stranger));
      expect(await tryConnect(broker.url, s.root.certPem, kept, { clientId: 'k2' })).toBe('refused');
    } finally {
      await broker.stop();
    }
  });
});
