// The daemon end to end, in-process: replay a real capture, report to a real
// Mosquitto over mutual TLS (MQTT 5), serve health and metrics, shut down
// cleanly. Certificates are made per run with openssl.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentConfig } from '@hark/contracts/agent-config';
import {
  decodeMessage,
  type HeartbeatMessage,
  type InventoryMessage,
  type StatusMessage,
} from '@hark/contracts/mqtt';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../src/agent/config-file.js';
import { NoCaptureInterfaceError, resolveInterfaces } from '../src/agent/live.js';
import { type AgentHandle, runAgent } from '../src/agent/run.js';
import { buildOnce, MISSING, pcap, REPO_ROOT } from './support.js';

function has(command: string): boolean {
  try {
    execFileSync(command, ['-h'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as { code?: string }).code !== 'ENOENT';
  }
}
const NO_BROKER = !has('mosquitto') || !has('openssl');
if (NO_BROKER) console.warn('mosquitto or openssl is missing: the MQTT end-to-end agent test is skipped');

const dir = mkdtempSync(join(tmpdir(), 'hark-agent-'));
const silent = pino({ level: 'silent' });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

function issue(name: string, cn: string, ext: string): void {
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  );
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function until<T>(what: string, get: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function connectWhenUp(
  url: string,
  tls: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<MqttClient> {
  for (let i = 0; i < 100; i++) {
    try {
      return await mqtt.connectAsync(url, { ...tls, protocolVersion: 5, reconnectPeriod: 0 });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('mosquitto did not start');
}

describe('agent configuration', () => {
  it('loads the JSON the operator renders to the same configuration as YAML, and names a broken file', async () => {
    const value = {
      site: 'lab',
      sensor: 'edge',
      capture: { interfaces: ['eth1'], backend: 'tcpdump' },
      reporting: { brokerUrl: 'mqtts://broker:8883' },
      tls: { caFile: '/x/ca.pem', certFile: '/x/tls.crt', keyFile: '/x/tls.key' },
    };
    const json = join(dir, 'agent.json');
    writeFileSync(json, JSON.stringify(value));
    const yaml = join(dir, 'agent-same.yaml');
    writeFileSync(
      yaml,
      'site: lab\nsensor: edge\ncapture: { interfaces: [eth1], backend: tcpdump }\nreporting: { brokerUrl: "mqtts://broker:8883" }\ntls: { caFile: /x/ca.pem, certFile: /x/tls.crt, keyFile: /x/tls.key }\n',
    );
    expect(await loadAgentConfig(json)).toEqual(await loadAgentConfig(yaml));
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'site: [lab\n');
    await expect(loadAgentConfig(broken)).rejects.toThrow(/broken\.yaml: not valid YAML\/JSON/);
  });

  it('loads YAML through the shared contract; live capture refuses an "auto" that finds no interface', async () => {
    const file = join(dir, 'agent.yaml');
    writeFileSync(
      file,
      [
        'site: lab',
        'sensor: edge',
        'capture: { interfaces: [auto], bpfFilter: "arp" }',
        'reporting: { brokerUrl: "mqtts://broker:8883" }',
        'tls: { caFile: /x/ca.pem, certFile: /x/tls.crt, keyFile: /x/tls.key }',
      ].join('\n'),
    );
    const config = await loadAgentConfig(file);
    expect(config.reporting.heartbeatIntervalSeconds).toBe(30); // contract default applied
    expect(config.capture.interfaces).toEqual(['auto']);
    // A sysfs with only a loopback and a down interface: "auto" resolves to nothing.
    const sysfs = join(dir, 'sysfs');
    for (const [name, flags] of [
      ['lo', '0x9'],
      ['eth9', '0x1002'],
    ] as const) {
      mkdirSync(join(sysfs, name), { recursive: true });
      writeFileSync(join(sysfs, name, 'flags'), `${flags}\n`);
    }
    await expect(runAgent(config, { logger: silent, live: { sysfs } })).rejects.toBeInstanceOf(
      NoCaptureInterfaceError,
    );
  });

  it('resolves "auto" to every up, non-loopback interface, keeping explicit names', () => {
    const sysfs = join(dir, 'sysfs-auto');
    for (const [name, flags] of [
      ['lo', '0x9'],
      ['eth1', '0x1003'],
      ['eth0', '0x1003'],
      ['ifb0', '0x82'],
      ['span0', '0x1103'],
    ] as const) {
      mkdirSync(join(sysfs, name), { recursive: true });
      writeFileSync(join(sysfs, name, 'flags'), `${flags}\n`);
    }
    expect(resolveInterfaces(['auto'], sysfs)).toEqual(['eth0', 'eth1', 'span0']);
    expect(resolveInterfaces(['mirror', 'auto', 'eth0'], sysfs)).toEqual(['mirror', 'eth0', 'eth1', 'span0']);
    expect(resolveInterfaces(['eth7'], sysfs)).toEqual(['eth7']);
  });
});

describe.skipIf(MISSING || NO_BROKER)('hark-agent run: replay -> MQTT over mutual TLS', () => {
  let broker: ChildProcess;
  let port: number;
  let agent: AgentHandle | undefined;
  let watcher: MqttClient;
  const received: { topic: string; payload: Buffer; retain: boolean }[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    await buildOnce(); // the daemon tests run dist/cli.js
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      '/CN=hark-test-ca',
      '-days',
      '1',
    );
    issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    issue('sensor', 'lab.edge', 'extendedKeyUsage=clientAuth\n');
    issue('watcher', 'hark-aggregator', 'extendedKeyUsage=clientAuth\n');
    port = await freePort();
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      [
        `listener ${port} 127.0.0.1`,
        `cafile ${join(dir, 'ca.pem')}`,
        `certfile ${join(dir, 'server.pem')}`,
        `keyfile ${join(dir, 'server.key')}`,
        'require_certificate true',
        'use_identity_as_username true',
        'allow_anonymous false',
        'persistence false',
        // Started as root, mosquitto would switch to the "mosquitto" user, which cannot read our 0600 keys.
        'user root',
      ].join('\n'),
    );
    broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    const tls = (name: string) => ({
      ca: readFileSync(join(dir, 'ca.pem')),
      cert: readFileSync(join(dir, `${name}.pem`)),
      key: readFileSync(join(dir, `${name}.key`)),
    });
    watcher = await connectWhenUp(`mqtts://127.0.0.1:${port}`, tls('watcher'));
    watcher.on('message', (topic, payload, packet) =>
      received.push({ topic, payload, retain: packet.retain }),
    );
    await watcher.subscribeAsync('hark/v1/+/+/+', { qos: 1 });
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await agent?.stop();
    await watcher?.endAsync();
    broker?.kill('SIGTERM');
  });

  it('stops while a report waits for room in the spool, the broker away', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as AddressInfo;
        server.close(() => resolve(free));
      });
    });
    const config = parseAgentConfig({
      site: 'lab',
      sensor: 'edge',
      node: 'node-away',
      capture: {
        interfaces: ['auto'],
        replay: { file: pcap('cisagov-icsnpp-bacnet__bacnet_example.pcap'), pace: 'fast', loop: true },
      },
      reporting: { brokerUrl: `mqtts://127.0.0.1:${closedPort}`, snapshotIntervalSeconds: 60 },
      tls: {
        caFile: join(dir, 'ca.pem'),
        certFile: join(dir, 'sensor.pem'),
        keyFile: join(dir, 'sensor.key'),
      },
      spoolDir: join(dir, 'spool-away'),
      http: { port: 0 },
    });
    const away = await runAgent(config, {
      logger: silent,
      reporter: { spool: { maxBytes: 64 * 1024, segmentBytes: 8 * 1024 } },
    });
    // Each pass's snapshot (~30 devices) goes into the spool; past half of it, the next one waits,
    // and with it the replay loop, which awaits each pass's snapshot.
    let passes = -1;
    while (passes !== away.passes()) {
      passes = away.passes();
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(away.spoolDepth()).toBeGreaterThan(0);
    await away.stop(); // a deadlock here fails the test by its timeout
  });

  it('publishes online status, a snapshot after the pass, heartbeats, metrics; goes offline on stop', async () => {
    const config = parseAgentConfig({
      site: 'lab',
      sensor: 'edge',
      node: 'node-1',
      capture: { interfaces: ['auto'], replay: { file: pcap('tcpdump__LLDP_and_CDP.pcap'), pace: 'fast' } },
      reporting: {
        brokerUrl: `mqtts://127.0.0.1:${port}`,
        snapshotIntervalSeconds: 60,
        heartbeatIntervalSeconds: 1,
      },
      tls: {
        caFile: join(dir, 'ca.pem'),
        certFile: join(dir, 'sensor.pem'),
        keyFile: join(dir, 'sensor.key'),
      },
      spoolDir: join(dir, 'spool-node-1'),
      http: { port: 0 },
    });
    agent = await runAgent(config, { logger: silent });
    expect(agent.clientId).toBe('lab.edge.node-1');
    expect(agent.topic('status')).toBe('hark/v1/lab.edge/node-1/status');
    await agent.waitForPass(1);

    const status = await until('online status', () =>
      received.find((m) => m.topic === agent!.topic('status')),
    );
    expect((decodeMessage('status', status.payload) as StatusMessage).online).toBe(true);

    const snapshot = await until('snapshot', () =>
      received.find((m) => m.topic === agent!.topic('inventory')),
    );
    const inventory = decodeMessage('inventory', snapshot.payload) as InventoryMessage;
    expect(inventory.mode).toBe('snapshot');
    expect(inventory.runId).toBe(agent.runId);
    const s1 = inventory.devices.find((d) => d.macs.includes('00:18:ba:98:68:8f'));
    expect(s1?.model?.value).toBe('WS-C3560-24TS');
    expect(inventory.devices).toHaveLength(2);

    const heartbeat = await until('heartbeat', () =>
      received.find((m) => m.topic === agent!.topic('heartbeat')),
    );
    const hb = decodeMessage('heartbeat', heartbeat.payload) as HeartbeatMessage;
    expect(hb.capture.packets).toBe(12); // MANIFEST: 12 packets
    expect(hb.devices).toBe(2);
    expect(hb.certificateNotAfter).toMatch(/^\d{4}-/);

    const base = `http://127.0.0.1:${agent.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^hark_agent_packets_total 12$/m);
    expect(metrics).toMatch(/^hark_agent_decoded_total\{protocol="cdp"\} 4$/m);
    expect(metrics).toMatch(/^hark_agent_broker_connected 1$/m);
    expect(metrics).toMatch(/^hark_agent_reassembled_messages_total 0$/m); // CDP only: no TCP
    // The pass's snapshot: one report of both devices in one message.
    expect(metrics).toMatch(/^hark_agent_reports_total\{mode="snapshot"\} [1-9]/m);
    expect(metrics).toMatch(/^hark_agent_reported_devices_total\{mode="snapshot"\} [1-9]/m);
    expect(metrics).toMatch(/^hark_agent_last_report_seconds\{mode="snapshot"\} \d/m);

    const before = received.length;
    await agent.stop();
    const offline = await until('offline status', () =>
      received.slice(before).find((m) => m.topic === agent!.topic('status')),
    );
    expect((decodeMessage('status', offline.payload) as StatusMessage).online).toBe(false);

    // Retained: a newcomer learns the sensor is offline.
    const late = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
      ca: readFileSync(join(dir, 'ca.pem')),
      cert: readFileSync(join(dir, 'watcher.pem')),
      key: readFileSync(join(dir, 'watcher.key')),
      protocolVersion: 5,
    });
    const retained = new Promise<Buffer>((resolve) => late.on('message', (_t, payload) => resolve(payload)));
    await late.subscribeAsync(agent.topic('status'), { qos: 1 });
    expect((decodeMessage('status', await retained) as StatusMessage).online).toBe(false);
    await late.endAsync();
  });

  function startDaemon(node: string): {
    child: ChildProcess;
    exited: Promise<number | null>;
    logs: () => string;
  } {
    const file = join(dir, `${node}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        site: 'lab',
        sensor: 'edge',
        capture: {
          interfaces: ['auto'],
          replay: { file: pcap('zeek__lldp.pcap'), pace: 'realtime', loop: true },
        },
        reporting: {
          brokerUrl: `mqtts://127.0.0.1:${port}`,
          snapshotIntervalSeconds: 1,
          heartbeatIntervalSeconds: 1,
        },
        tls: {
          caFile: join(dir, 'ca.pem'),
          certFile: join(dir, 'sensor.pem'),
          keyFile: join(dir, 'sensor.key'),
        },
        spoolDir: join(dir, `spool-${node}`),
        http: { port: 0 },
      }),
    );
    const child = spawn(
      process.execPath,
      [join(REPO_ROOT, 'sensor-agent', 'dist', 'cli.js'), 'run', '--config', file],
      {
        env: { ...process.env, NODE_NAME: node },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let logs = '';
    child.stdout?.on('data', (d: Buffer) => {
      logs += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, logs: () => logs };
  }

  it('the CLI daemon (`hark-agent run --config`) reports, then shuts down cleanly on SIGTERM', async () => {
    const before = received.length;
    const { child, exited, logs: output } = startDaemon('node-cli');
    const statusTopic = 'hark/v1/lab.edge/node-cli/status';
    const snapshot = await until('a snapshot from the CLI daemon', () =>
      received.slice(before).find((m) => m.topic === 'hark/v1/lab.edge/node-cli/inventory'),
    );
    const devices = (decodeMessage('inventory', snapshot.payload) as InventoryMessage).devices;
    expect(devices.map((d) => d.hostname?.value)).toEqual(['SMCGS8P-Smart']);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const statuses = received
      .slice(before)
      .filter((m) => m.topic === statusTopic)
      .map((m) => (decodeMessage('status', m.payload) as StatusMessage).online);
    expect(statuses[0]).toBe(true);
    expect(statuses.at(-1)).toBe(false);
    // JSON logs, and no key material in them.
    const logs = output();
    const firstLine = JSON.parse(logs.split('\n')[0]!) as { msg: string };
    expect(typeof firstLine.msg).toBe('string');
    expect(logs).not.toContain('PRIVATE KEY');
  });

  it('when the daemon dies without a goodbye, the broker publishes its retained last will (offline)', async () => {
    const before = received.length;
    const { child, exited } = startDaemon('node-crash');
    const statusTopic = 'hark/v1/lab.edge/node-crash/status';
    const statuses = () =>
      received
        .slice(before)
        .filter((m) => m.topic === statusTopic)
        .map((m) => (decodeMessage('status', m.payload) as StatusMessage).online);
    await until('online status', () => (statuses().includes(true) ? true : undefined));
    child.kill('SIGKILL');
    await exited;
    await until('the last will', () => (statuses().at(-1) === false ? true : undefined));
  });
});
