// Inventory delivery throughput and latency through a real Mosquitto with
// mutual TLS, on loopback:
//
//  1. the limit: plain mqtt.js publishers (QoS 1, 256 in flight each) ->
//     Mosquitto -> a plain mqtt.js subscriber (QoS 1) that only counts;
//  2. hark: the agents' Reporters (disk spool, fsync group commit, PUBACK
//     window) -> Mosquitto -> the aggregator (schema check, de-duplication,
//     write-ahead log fsynced before its PUBACK, merge into the inventory);
//  3. latency: one Reporter at a fixed 10k observations/s; for each message,
//     the time from publishDelta() to its device being returned by
//     GET /api/v1/devices/<site>~mac:<mac>.
//  4. catch-up, the aggregator's own capacity: on this 2-core machine the
//     publishers of (1) and (2) take CPU that agents on other machines would
//     not, so each side is also measured draining a backlog: the messages
//     are queued in Mosquitto for an offline persistent session (a plain
//     subscriber's, then the stopped aggregator's, as after a restart), and
//     the time is taken from the (re)connection to the last observation
//     received or applied, with no publisher running.
//
// Publishers (plain and Reporters) run in a child process, as agents run on
// other machines; the subscriber and the aggregator run in this process. Both
// phases send the same number of messages of the same devices (100 device
// records, ~40 KB, per message), their records serialized before the clock
// starts. Throughput is timed from the child's first
// publish to the last observation received (1) or applied (2).
// Goals (issue): >= 100k obs/s, >= 0.8 of the broker's raw rate, p99 < 1 s at 10k obs/s.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance as perf } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startAggregator } from '@hark/aggregator';
import { parseAgentConfig } from '@hark/contracts/agent-config';
import { pki } from '@hark/operator';
import { Reporter } from '@hark/sensor-agent';
import mqtt from 'mqtt';
import pino from 'pino';
import { type MosquittoInstance, mosquittoAvailable, startMosquitto } from '../support/mosquitto.js';
import { batchesFor, DEVICES_PER_MESSAGE, MESSAGES_PER_SENSOR, SENSORS } from './inventory-traffic.js';
import type { Benchmark } from './registry.js';

/**
 * What 0.8 of the raw rate would leave the aggregator: the machine's cores
 * at that rate give each observation a budget of CPU, of which the other
 * processes of the phase take their share as measured. Printed beside what
 * the aggregator spent, so a run shows whether the ratio is reachable here.
 */
function cpuBudget(aggregatorUs: number, othersUs: number, others: string, rawRate: number): string {
  const cores = availableParallelism();
  const at = 0.8 * rawRate;
  const budget = (cores * 1e6) / at;
  return `  CPU per observation: aggregator ${aggregatorUs.toFixed(1)} µs, ${others} ${othersUs.toFixed(1)} µs; at 0.8 of the raw rate (${(at / 1e3).toFixed(0)}k obs/s) ${cores} cores give ${budget.toFixed(1)} µs to all of it, ${(budget - othersUs).toFixed(1)} µs left for the aggregator`;
}

const DAY = 86_400_000;
const LATENCY_RATE = 10_000;
const LATENCY_SECONDS = 8;

interface ChildJob {
  /** backlog: as reporters, with runs of its own, while the aggregator is stopped. */
  mode: 'raw' | 'reporters' | 'latency' | 'backlog';
  brokerUrl: string;
  work: string;
  /** Index into SENSORS -> PEM files under work/. */
  sensors: number[];
}

type ChildMessage =
  | { kind: 'start'; at: number }
  | { kind: 'published'; at: number; mac: string }
  | { kind: 'done'; at: number; cpuMs?: number }
  | { kind: 'error'; message: string };

function tlsFiles(work: string, i: number) {
  return {
    caFile: join(work, 'ca.pem'),
    certFile: join(work, `sensor-${i}.crt`),
    keyFile: join(work, `sensor-${i}.key`),
  };
}

// ---- the publisher child ------------------------------------------------------

async function child(job: ChildJob): Promise<void> {
  const send = (m: ChildMessage) => process.send!(m);
  const log = pino({ level: 'silent' });
  if (job.mode === 'raw') {
    const clients = await Promise.all(
      job.sensors.map((i) => {
        const f = tlsFiles(job.work, i);
        const s = SENSORS[i]!;
        return mqtt.connectAsync(job.brokerUrl, {
          ca: readFileSync(f.caFile),
          cert: readFileSync(f.certFile),
          key: readFileSync(f.keyFile),
          clientId: `${s.site}.${s.sensor}.raw`,
          protocolVersion: 5,
          reconnectPeriod: 0,
        });
      }),
    );
    const payloads = job.sensors.map((i) =>
      batchesFor(i, MESSAGES_PER_SENSOR).map((devices, seq) =>
        Buffer.from(
          JSON.stringify({
            schema: 1,
            sentAt: new Date().toISOString(),
            agentVersion: 'bench',
            kind: 'inventory',
            mode: 'delta',
            seq,
            runId: 'raw',
            devices,
          }),
        ),
      ),
    );
    send({ kind: 'start', at: Date.now() });
    await Promise.all(
      clients.map(async (client, c) => {
        const s = SENSORS[job.sensors[c]!]!;
        const topic = `hark/v1/${s.site}.${s.sensor}/raw/inventory`;
        const queue = payloads[c]!;
        let next = 0;
        // 256 in flight, as the Reporter's default window.
        await Promise.all(
          Array.from({ length: 256 }, async () => {
            while (next < queue.length) await client.publishAsync(topic, queue[next++]!, { qos: 1 });
          }),
        );
      }),
    );
    send({ kind: 'done', at: Date.now() });
    await Promise.all(clients.map((c) => c.endAsync()));
    return;
  }

  const reporters = job.sensors.map((i) => {
    const s = SENSORS[i]!;
    const config = parseAgentConfig({
      site: s.site,
      sensor: s.sensor,
      capture: { interfaces: ['auto'] },
      reporting: { brokerUrl: job.brokerUrl, heartbeatIntervalSeconds: 3600, snapshotIntervalSeconds: 3600 },
      tls: tlsFiles(job.work, i),
      spoolDir: join(job.work, `spool-${job.mode}-${i}`),
    });
    return new Reporter({
      config,
      identity: { site: s.site, sensor: s.sensor, node: job.mode },
      runId: `${job.mode}-${i}`,
      agentVersion: 'bench',
      logger: log,
    });
  });
  for (const r of reporters) r.start();
  const deadline = Date.now() + 15_000;
  while (reporters.some((r) => !r.connected)) {
    if (Date.now() > deadline) throw new Error('reporters did not connect');
    await new Promise((r) => setTimeout(r, 20));
  }

  if (job.mode === 'reporters' || job.mode === 'backlog') {
    // The records' JSON is made before the clock starts, as the raw publishers' payloads are (an
    // agent's reports write their records' JSON as they build them, then hand the bytes to the
    // Reporter): timed is what the Reporter does with them, envelope, spool, fsync, window, publish.
    const batches = job.sensors.map((i) =>
      batchesFor(i, MESSAGES_PER_SENSOR).map((batch) => Buffer.from(JSON.stringify(batch))),
    );
    const cpu0 = process.cpuUsage();
    send({ kind: 'start', at: Date.now() });
    await Promise.all(
      reporters.map(async (r, c) => {
        // As an agent does: the next delta goes out while earlier ones are still spooled/in flight.
        const pending: Promise<void>[] = [];
        for (const devicesJson of batches[c]!) {
          pending.push(r.publishInventory('delta', devicesJson, r.reserveSeq(1)));
          if (pending.length >= 64) await pending.shift();
        }
        await Promise.all(pending);
        if (!(await r.drained(60_000))) throw new Error('reporter did not drain');
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    send({ kind: 'done', at: Date.now(), cpuMs: (cpu.user + cpu.system) / 1000 });
  } else {
    const r = reporters[0]!;
    const perMessageMs = (1000 * DEVICES_PER_MESSAGE) / LATENCY_RATE;
    const count = Math.round((LATENCY_SECONDS * 1000) / perMessageMs);
    const batches = batchesFor(job.sensors[0]!, count, true);
    const t0 = performance.now();
    send({ kind: 'start', at: Date.now() });
    for (let m = 0; m < count; m++) {
      const due = t0 + m * perMessageMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      const batch = batches[m]!;
      send({ kind: 'published', at: Date.now(), mac: batch[batch.length - 1]!.macs[0]! });
      void r.publishDelta(batch);
    }
    if (!(await r.drained(60_000))) throw new Error('reporter did not drain');
    send({ kind: 'done', at: Date.now() });
  }
  await Promise.all(reporters.map((r) => r.stop()));
}

function runChild(
  job: ChildJob,
  onMessage: (m: ChildMessage) => void,
): { child: ChildProcess; exited: Promise<void> } {
  const c = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, HARK_BENCH_MQTT_CHILD: JSON.stringify(job) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  c.on('message', (m) => onMessage(m as ChildMessage));
  const exited = new Promise<void>((resolve, reject) =>
    c.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`publisher child exited with ${code}`)),
    ),
  );
  return { child: c, exited };
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** CPU time (user + system, ms) a process has used so far, from /proc (100 ticks/s); 0 without /proc. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime: fields 14 and 15 of the line, 11 and 12 after the name.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// ---- the benchmark -------------------------------------------------------------------

export const mqttThroughput: Benchmark = {
  name: 'mqtt-throughput',
  description:
    'observations/s agents -> Mosquitto (mTLS) -> aggregator + WAL vs the broker raw; latency p50/p99 at 10k obs/s',
  async run() {
    if (!mosquittoAvailable()) return ['SKIPPED: Mosquitto is not installed at /usr/sbin/mosquitto'];
    const benchStart = performance.now();
    const work = mkdtempSync(join(tmpdir(), 'hark-bench-mqtt-'));
    let broker: MosquittoInstance | undefined;
    let aggregator: Awaited<ReturnType<typeof startAggregator>> | undefined;
    const lines: string[] = [];
    try {
      const ca = await pki.generateCa({ commonName: 'bench CA', lifetimeMs: DAY });
      const server = await pki.issueCertificate(ca, {
        commonName: 'hark-broker',
        usage: 'server',
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
        lifetimeMs: DAY,
      });
      const agg = await pki.issueCertificate(ca, {
        commonName: 'hark-aggregator',
        organizationalUnit: 'hark-aggregator',
        usage: 'client',
        lifetimeMs: DAY,
      });
      writeFileSync(join(work, 'ca.pem'), ca.certPem);
      for (const [i, s] of SENSORS.entries()) {
        const cert = await pki.issueCertificate(ca, {
          commonName: `${s.site}.${s.sensor}`,
          organizationalUnit: 'hark-sensor',
          usage: 'client',
          lifetimeMs: DAY,
        });
        writeFileSync(join(work, `sensor-${i}.crt`), cert.certPem);
        writeFileSync(join(work, `sensor-${i}.key`), cert.keyPem, { mode: 0o600 });
      }
      broker = await startMosquitto({ tls: { ca: ca.certPem, cert: server.certPem, key: server.keyPem } });
      const sensors = SENSORS.map((_, i) => i);
      const total = SENSORS.length * MESSAGES_PER_SENSOR * DEVICES_PER_MESSAGE;

      // 1. The limit: the broker to a plain subscriber (before the aggregator ever subscribes).
      const sub = await mqtt.connectAsync(broker.url, {
        ca: ca.certPem,
        cert: agg.certPem,
        key: agg.keyPem,
        clientId: 'bench-raw-subscriber',
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      let rawMessages = 0;
      let rawLast = 0;
      sub.on('message', () => {
        rawMessages++;
        rawLast = Date.now();
      });
      await sub.subscribeAsync('hark/v1/+/+/inventory', { qos: 1 });
      let rawStart = 0;
      const raw = runChild({ mode: 'raw', brokerUrl: broker.url, work, sensors }, (m) => {
        if (m.kind === 'start') rawStart = m.at;
      });
      await raw.exited;
      await until('raw messages', () => rawMessages >= SENSORS.length * MESSAGES_PER_SENSOR, 60_000);
      await sub.endAsync();
      const rawRate = total / ((rawLast - rawStart) / 1000);
      lines.push(
        `broker raw (plain mqtt.js QoS 1 publishers -> Mosquitto mTLS -> plain subscriber): ${(rawRate / 1e3).toFixed(1)} k obs/s (${total} device records in ${SENSORS.length * MESSAGES_PER_SENSOR} messages of ${DEVICES_PER_MESSAGE}, ${((rawLast - rawStart) / 1000).toFixed(2)} s)`,
      );

      // 4a. The broker's raw catch-up: the same messages queued for a plain subscriber's offline
      // persistent session (MQTT 3.1.1, clean: false, as the aggregator's), drained on reconnection.
      const drainOptions = {
        ca: ca.certPem,
        cert: agg.certPem,
        key: agg.keyPem,
        clientId: 'bench-raw-drain',
        clean: false,
        protocolVersion: 4 as const,
        reconnectPeriod: 0,
      };
      const session = await mqtt.connectAsync(broker.url, drainOptions);
      await session.subscribeAsync('hark/v1/+/+/inventory', { qos: 1 });
      await session.endAsync();
      await runChild({ mode: 'raw', brokerUrl: broker.url, work, sensors }, () => undefined).exited;
      let drained = 0;
      let drainLast = 0;
      const drainStart = Date.now();
      const drainer = mqtt.connect(broker.url, drainOptions);
      drainer.on('message', () => {
        drained++;
        drainLast = Date.now();
      });
      await until('the raw backlog', () => drained >= SENSORS.length * MESSAGES_PER_SENSOR, 60_000);
      await drainer.endAsync();
      // A clean connection ends the session, which would otherwise queue every later phase's messages.
      await (await mqtt.connectAsync(broker.url, { ...drainOptions, clean: true })).endAsync();
      const rawDrainRate = total / ((drainLast - drainStart) / 1000);

      // 2. hark: Reporters -> Mosquitto -> aggregator (WAL fsynced before PUBACK).
      const aggregatorOptions = {
        http: { port: 0, host: '127.0.0.1' },
        brokerUrl: broker.url,
        tls: { ca: ca.certPem, clientCert: agg.certPem, clientKey: agg.keyPem },
        dataDir: join(work, 'aggregator'),
        // Alerts from the first report, so that what they cost is in the figures: every device is
        // new once, and each record after is compared with the one before.
        alertLearningMs: 0,
        logger: pino({ level: 'silent' }),
      };
      aggregator = await startAggregator(aggregatorOptions);
      await until('aggregator subscribed', () => aggregator!.ready(), 15_000);
      const observations = async () => {
        const metric = await aggregator!.registry
          .getSingleMetric('hark_aggregator_observations_total')
          ?.get();
        return metric?.values[0]?.value ?? 0;
      };
      const before = await observations();
      let harkStart = 0;
      let childCpuMs = 0;
      const elu0 = perf.eventLoopUtilization();
      const cpu0 = process.cpuUsage();
      const brokerCpu0 = processCpuMs(broker.pid);
      const hark = runChild({ mode: 'reporters', brokerUrl: broker.url, work, sensors }, (m) => {
        if (m.kind === 'start') harkStart = m.at;
        if (m.kind === 'done') childCpuMs = m.cpuMs ?? 0;
      });
      let harkLast = 0;
      await until(
        'observations applied',
        async () => {
          const n = await observations();
          if (n - before >= total) {
            harkLast = Date.now();
            return true;
          }
          return false;
        },
        90_000,
      );
      const elu = perf.eventLoopUtilization(elu0);
      const cpu = process.cpuUsage(cpu0);
      const brokerCpu = processCpuMs(broker.pid) - brokerCpu0;
      await hark.exited; // every Reporter drained: every PUBACK, i.e. every WAL fsync, came back
      const harkRate = total / ((harkLast - harkStart) / 1000);
      const harkSeconds = (harkLast - harkStart) / 1000;
      const ratio = harkRate / rawRate;
      lines.push(
        `hark (Reporter spool -> Mosquitto mTLS -> aggregator WAL + merge; records serialized before the clock, as the raw phase's): ${(harkRate / 1e3).toFixed(1)} k obs/s (${((harkLast - harkStart) / 1000).toFixed(2)} s) = ${ratio.toFixed(2)} of the broker's raw rate`,
      );

      const gauge = async (name: string) =>
        (await aggregator!.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
      const behind = await gauge('hark_aggregator_history_backlog_bytes');
      // The history is written asynchronously: when did it hold every observation too?
      const historyCaughtUp = () =>
        until(
          'the Parquet history to catch up',
          async () => (await gauge('hark_aggregator_history_backlog_bytes')) === 0,
          120_000,
        );
      await historyCaughtUp();
      const historySeconds = (Date.now() - harkStart) / 1000;
      lines.push(
        `  Parquet history when the phase ended: ${(behind / 1e6).toFixed(1)} MB behind (reading from the broker paused ${await gauge('hark_aggregator_ingest_pauses_total')} times for it; limit 64 MiB held); it held every observation after ${historySeconds.toFixed(2)} s: ${(total / historySeconds / 1e3).toFixed(1)} k obs/s into the history, the rate a longer run converges to`,
      );
      lines.push(
        `  CPU in that phase (2 cores, shared with whatever else runs): aggregator process ${((cpu.user + cpu.system) / 1000 / harkSeconds / 10).toFixed(0)}% of a core (ingest thread busy ${(elu.utilization * 100).toFixed(0)}% of the time; the rest is the history worker), publisher child (4 Reporters) ${(childCpuMs / harkSeconds / 10).toFixed(0)}%, Mosquitto ${(brokerCpu / harkSeconds / 10).toFixed(0)}%`,
        cpuBudget(
          ((cpu.user + cpu.system) / 1000 / total) * 1000,
          ((childCpuMs + brokerCpu) / total) * 1000,
          'the publishers and Mosquitto',
          rawRate,
        ),
      );

      // 3. Latency at a fixed rate: publishDelta() -> visible in the HTTP API.
      const pending: { at: number; mac: string }[] = [];
      const latencies: number[] = [];
      let latStart = 0;
      let latDone = false;
      const lat = runChild({ mode: 'latency', brokerUrl: broker.url, work, sensors: [0] }, (m) => {
        if (m.kind === 'start') latStart = m.at;
        else if (m.kind === 'published') pending.push({ at: m.at, mac: m.mac });
        else if (m.kind === 'done') latDone = true;
      });
      const expected = Math.round((LATENCY_SECONDS * LATENCY_RATE) / DEVICES_PER_MESSAGE);
      const url = aggregator.httpUrl;
      await until(
        'every latency probe visible',
        async () => {
          while (pending.length > 0) {
            const head = pending[0]!;
            // The device's own URL: an index lookup (a ?q= search scans the whole inventory).
            const res = await fetch(`${url}/api/v1/devices/${SENSORS[0]!.site}~mac:${head.mac}`);
            await res.arrayBuffer();
            if (res.status === 404) return false;
            if (res.status !== 200) throw new Error(`GET device: HTTP ${res.status}`);
            latencies.push(Date.now() - head.at);
            pending.shift();
          }
          return latDone && latencies.length >= expected;
        },
        60_000,
      );
      await lat.exited;
      latencies.sort((a, b) => a - b);
      const p50 = percentile(latencies, 50);
      const p99 = percentile(latencies, 99);
      const achieved = (latencies.length * DEVICES_PER_MESSAGE) / LATENCY_SECONDS;
      lines.push(
        `latency at ${(LATENCY_RATE / 1e3).toFixed(0)}k obs/s (${latencies.length} messages over ${LATENCY_SECONDS} s from ${new Date(latStart).toISOString().slice(11, 19)}, ~${(achieved / 1e3).toFixed(1)}k obs/s offered), publishDelta() -> visible in GET /api/v1/devices/:id: p50 ${p50} ms, p99 ${p99} ms, max ${latencies.at(-1)} ms`,
      );
      // 4b. The aggregator's catch-up: stopped (its session stays in Mosquitto), the agents publish
      // a phase's observations, then it starts again and drains them.
      await aggregator.stop();
      aggregator = undefined;
      await runChild({ mode: 'backlog', brokerUrl: broker.url, work, sensors }, () => undefined).exited;
      const restartAt = Date.now();
      aggregator = await startAggregator(aggregatorOptions);
      const catchUpStart = Date.now();
      const catchUpBefore = await observations();
      const catchUpCpu0 = process.cpuUsage();
      const catchUpBrokerCpu0 = processCpuMs(broker.pid);
      let catchUpLast = 0;
      await until(
        'the backlog applied',
        async () => {
          if ((await observations()) < total) return false;
          catchUpLast = Date.now();
          return true;
        },
        90_000,
      );
      const catchUpSeconds = (catchUpLast - catchUpStart) / 1000;
      const catchUpCpu = process.cpuUsage(catchUpCpu0);
      const catchUpBrokerCpu = processCpuMs(broker.pid) - catchUpBrokerCpu0;
      const catchUpRate = (total - catchUpBefore) / catchUpSeconds;
      const catchUpRatio = catchUpRate / rawDrainRate;
      lines.push(
        `catch-up, no publisher running (the backlog queued in Mosquitto for an offline persistent session, drained on reconnection):`,
        `  broker raw to a plain subscriber: ${(rawDrainRate / 1e3).toFixed(1)} k obs/s (${((drainLast - drainStart) / 1000).toFixed(2)} s)`,
        `  hark, the aggregator restarted (WAL + merge, the same ${total} observations from 4 Reporters): ${(catchUpRate / 1e3).toFixed(1)} k obs/s (${catchUpSeconds.toFixed(2)} s from start-up, which took ${((catchUpStart - restartAt) / 1000).toFixed(2)} s) = ${catchUpRatio.toFixed(2)} of the broker's raw rate`,
        `  CPU: aggregator process ${((catchUpCpu.user + catchUpCpu.system) / 1000 / catchUpSeconds / 10).toFixed(0)}% of a core, Mosquitto ${(catchUpBrokerCpu / catchUpSeconds / 10).toFixed(0)}%`,
        cpuBudget(
          ((catchUpCpu.user + catchUpCpu.system) / 1000 / (total - catchUpBefore)) * 1000,
          (catchUpBrokerCpu / (total - catchUpBefore)) * 1000,
          'Mosquitto',
          rawDrainRate,
        ),
      );
      await historyCaughtUp();
      const catchUpHistorySeconds = (Date.now() - catchUpStart) / 1000;
      lines.push(
        `  the Parquet history held every observation after ${catchUpHistorySeconds.toFixed(2)} s: ${(total / catchUpHistorySeconds / 1e3).toFixed(1)} k obs/s (reading from the broker paused ${await gauge('hark_aggregator_ingest_pauses_total')} times for it)`,
      );

      lines.push(
        `goal >= 100k obs/s, live with the publishers on the same 2 cores: ${harkRate >= 100_000 ? 'MET' : 'NOT MET'} (${(harkRate / 1e3).toFixed(1)}k)`,
        `goal >= 100k obs/s, the aggregator catching up: ${catchUpRate >= 100_000 ? 'MET' : 'NOT MET'} (${(catchUpRate / 1e3).toFixed(1)}k)`,
        `goal >= 0.8 of the broker's raw rate, live: ${ratio >= 0.8 ? 'MET' : 'NOT MET'} (${ratio.toFixed(2)})`,
        `goal >= 0.8 of the broker's raw rate, catching up: ${catchUpRatio >= 0.8 ? 'MET' : 'NOT MET'} (${catchUpRatio.toFixed(2)})`,
        `goal p99 < 1 s at 10k obs/s: ${p99 < 1000 ? 'MET' : 'NOT MET'} (${p99} ms)`,
        `(bench wall time ${((performance.now() - benchStart) / 1000).toFixed(1)} s)`,
      );
    } finally {
      await aggregator?.stop();
      await broker?.stop();
      rmSync(work, { recursive: true, force: true });
    }
    return lines;
  },
};

if (process.env.HARK_BENCH_MQTT_CHILD) {
  child(JSON.parse(process.env.HARK_BENCH_MQTT_CHILD) as ChildJob).then(
    () => process.exit(0),
    (error: Error) => {
      process.send?.({ kind: 'error', message: error.message } satisfies ChildMessage);
      console.error(error);
      process.exit(1);
    },
  );
}
