// Shared fixtures for the aggregator's tests: a real PKI (the operator's
// certificate code), real MQTT clients, and polling helpers. No mocks.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceRecord } from '@hark/contracts/inventory';
import {
  encodeMessage,
  type HeartbeatMessage,
  type InventoryMessage,
  type StatusMessage,
} from '@hark/contracts/mqtt';
import { pki } from '@hark/operator';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type Browser, chromium } from 'playwright-core';
import { type AggregatorOptions, type RunningAggregator, startAggregator } from '../src/index.js';
import { silentLogger } from '../src/log.js';

export interface Identity {
  certPem: string;
  keyPem: string;
}

export interface TestPki {
  ca: Identity;
  /** The broker's server certificate, valid for localhost and 127.0.0.1. */
  server: Identity;
  aggregator: Identity;
  sensor(commonName: string): Promise<Identity>;
  /** A sensor certificate from an unrelated CA. */
  foreignSensor(commonName: string): Promise<Identity>;
}

const DAY = 24 * 3600 * 1000;

export async function createPki(): Promise<TestPki> {
  const [ca, foreignCa] = await Promise.all([
    pki.generateCa({ commonName: 'hark test site CA', lifetimeMs: DAY }),
    pki.generateCa({ commonName: 'some other CA', lifetimeMs: DAY }),
  ]);
  const [server, aggregator] = await Promise.all([
    pki.issueCertificate(ca, {
      commonName: 'hark-broker',
      usage: 'server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      lifetimeMs: DAY,
    }),
    pki.issueCertificate(ca, {
      commonName: 'hark-aggregator',
      organizationalUnit: 'hark-aggregator',
      usage: 'client',
      lifetimeMs: DAY,
    }),
  ]);
  const sensorFrom = (issuer: Identity) => (commonName: string) =>
    pki.issueCertificate(issuer, {
      commonName,
      organizationalUnit: 'hark-sensor',
      usage: 'client',
      lifetimeMs: DAY,
    });
  return { ca, server, aggregator, sensor: sensorFrom(ca), foreignSensor: sensorFrom(foreignCa) };
}

/** Connects like a sensor agent: mutual TLS, MQTT 3.1.1, no automatic reconnect. */
export function connectSensor(
  url: string,
  ca: string,
  identity: Partial<Identity>,
  extra: IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    ca,
    ...(identity.certPem ? { cert: identity.certPem, key: identity.keyPem } : {}),
    rejectUnauthorized: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...extra,
  });
}

/** Tries to connect; reports whether the broker let the client in. */
export function tryConnect(
  url: string,
  ca: string,
  identity: Partial<Identity>,
  extra: IClientOptions = {},
): Promise<'connected' | 'refused'> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, {
      ca,
      ...(identity.certPem ? { cert: identity.certPem, key: identity.keyPem } : {}),
      rejectUnauthorized: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ...extra,
    });
    const finish = (outcome: 'connected' | 'refused') => {
      client.end(true);
      resolve(outcome);
    };
    client.once('connect', () => finish('connected'));
    client.once('error', () => finish('refused'));
    client.once('close', () => finish('refused'));
  });
}

/** Resolves once the client's connection closes (e.g. the broker cut it). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}

export function device(mac: string, fields: Partial<DeviceRecord> = {}): DeviceRecord {
  const now = new Date().toISOString();
  return {
    id: `mac:${mac}`,
    macs: [mac],
    ipv4: [],
    ipv6: [],
    protocols: [],
    firstSeen: now,
    lastSeen: now,
    ...fields,
  };
}

export function attribute(value: string, confidence: number, seen = new Date().toISOString()) {
  return { value, confidence, evidence: [{ protocol: 'dhcp', field: 'test', value, seen }] };
}

let seq = 0;
/** An inventory delta as the aggregator holds it once decoded. */
export function inventoryMessage(
  devices: DeviceRecord[],
  extra: Partial<InventoryMessage> = {},
): InventoryMessage {
  return {
    schema: 1,
    sentAt: new Date().toISOString(),
    agentVersion: '0.1.0-test',
    kind: 'inventory',
    mode: 'delta',
    seq: seq++,
    runId: 'run-1',
    devices,
    ...extra,
  };
}

/** The same, encoded for the wire. */
export function inventory(devices: DeviceRecord[], extra: Partial<InventoryMessage> = {}): Buffer {
  return encodeMessage(inventoryMessage(devices, extra));
}

export function heartbeat(extra: Partial<HeartbeatMessage> = {}): Buffer {
  return encodeMessage({
    schema: 1,
    sentAt: new Date().toISOString(),
    agentVersion: '0.1.0-test',
    kind: 'heartbeat',
    runId: 'run-1',
    uptimeSeconds: 12,
    devices: 1,
    capture: { packets: 100, bytes: 6400, malformed: 0, kernelDrops: 0, agentDrops: 0 },
    spoolDepth: 0,
    ...extra,
  });
}

/** A status message; an agent stamps its online status and its last will with the connection's time. */
export function status(online: boolean, sentAt = new Date().toISOString()): Buffer {
  const message: StatusMessage = {
    schema: 1,
    sentAt,
    agentVersion: '0.1.0-test',
    kind: 'status',
    online,
  };
  return encodeMessage(message);
}

/** Retries `check` until it stops throwing. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// biome-ignore lint/suspicious/noExplicitAny: tests assert on response shapes they do not declare
export async function getJson<T = any>(base: string, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, base));
  return { status: response.status, body: (await response.json()) as T };
}

/** Reads one sample from the Prometheus text exposition; 0 when absent. */
export async function metric(
  base: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(new URL('/metrics', base))).text();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(match[3]);
  }
  return 0;
}

/**
 * An organisation's root CA and a site CA issued under it as an intermediate,
 * made with the OpenSSL command line as a PKI team would make them.
 */
export async function organisationPki(): Promise<{ root: Identity; siteCa: Identity }> {
  const dir = mkdtempSync(join(tmpdir(), 'hark-org-pki-'));
  try {
    const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl(
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root.key', '-out', 'root.crt']
        .concat(['-subj', '/O=Example Corp/CN=Example Corp Root CA', '-days', '2'])
        .concat([
          '-addext',
          'basicConstraints=critical,CA:true',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ]),
    );
    openssl(
      ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'site.key', '-out', 'site.csr'].concat([
        '-subj',
        '/O=Example Corp/CN=hark site CA plant-1',
      ]),
    );
    writeFileSync(
      join(dir, 'ext.cnf'),
      '[site_ca]\nbasicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
    );
    openssl(
      ['x509', '-req', '-in', 'site.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-CAcreateserial'].concat([
        '-out',
        'site.crt',
        '-days',
        '2',
        '-extfile',
        'ext.cnf',
        '-extensions',
        'site_ca',
      ]),
    );
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    return {
      root: { certPem: read('root.crt'), keyPem: read('root.key') },
      siteCa: { certPem: read('site.crt'), keyPem: read('site.key') },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A CRL from `ca` revoking `revoked`, valid for a day from now (or as given). */
export function crlFrom(
  ca: Identity,
  revoked: Identity[] = [],
  validity: { thisUpdate?: Date; nextUpdate?: Date } = {},
): string {
  const now = new Date();
  return pki.buildCrl(
    ca,
    revoked.map((r) => ({ serialNumber: pki.describeCertificate(r.certPem).serialNumber, revokedAt: now })),
    {
      thisUpdate: validity.thisUpdate ?? new Date(now.getTime() - 60_000),
      nextUpdate: validity.nextUpdate ?? new Date(now.getTime() + DAY),
      crlNumber: Math.floor(now.getTime() / 1000),
    },
  );
}

/** An aggregator with its embedded broker on loopback ports of its choosing, trusting `pki`'s CA; silent. */
export function startWithEmbeddedBroker(
  testPki: TestPki,
  options: Partial<AggregatorOptions> = {},
): Promise<RunningAggregator> {
  return startAggregator({
    http: { port: 0, host: '127.0.0.1' },
    embeddedBroker: { port: 0, host: '127.0.0.1' },
    tls: {
      ca: testPki.ca.certPem,
      serverCert: testPki.server.certPem,
      serverKey: testPki.server.keyPem,
      clientCert: testPki.aggregator.certPem,
      clientKey: testPki.aggregator.keyPem,
    },
    logger: silentLogger,
    ...options,
  });
}

/** Debian's Chromium, for the tests that drive the web UI (playwright-core brings no browser). */
export const CHROMIUM = process.env.HARK_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumAvailable = (): boolean => existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}
