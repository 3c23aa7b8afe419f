// The agent daemon: live capture (or a replayed file) -> inventory -> MQTT,
// with health/metrics over HTTP. `runAgent` is the programmatic entry point the
// CLI and the end-to-end tests share.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AgentConfig } from '@hark/contracts/agent-config';
import type { DeviceRecord } from '@hark/contracts/inventory';
import type { MessageKind, SensorIdentity } from '@hark/contracts/mqtt';
import type { IClientOptions } from 'mqtt';
import { type Logger, pino } from 'pino';
import { DecoderIndex } from '../decoders/registry.js';
import { Pipeline, type PipelineStats } from '../pipeline.js';
import { AGENT_VERSION } from '../version.js';
import { startHealthServer } from './http.js';
import { InventoryReports } from './inventory-reports.js';
import { LiveSource } from './live.js';
import { createMetrics } from './metrics.js';
import { replayPass } from './replay.js';
import { MAX_DEVICE_BYTES, Reporter, type ReporterOptions } from './reporter.js';

/** How long stopping waits for a report in progress before it stops the reporter under it. */
const STOP_GRACE_MS = 2000;

export interface RunAgentOptions {
  /** Defaults to a pino JSON logger on stdout at info level. */
  logger?: Logger;
  /** Overrides config.node / $NODE_NAME / os.hostname(). */
  node?: string;
  /** Extra mqtt.js client options (tests). */
  mqttOptions?: Partial<IClientOptions>;
  /** How often devices changed since the last report go out as a delta; default min(5 s, snapshot interval). */
  deltaIntervalMs?: number;
  /** Reporter tuning (tests, benchmarks): spool bounds, in-flight window, back-off, certificate polling. */
  reporter?: Pick<ReporterOptions, 'spool' | 'inflightWindow' | 'backoff' | 'certificatePollMs'>;
  /** Live capture tuning (tests): tcpdump binary, restart back-off, sysfs root for "auto". */
  live?: { tcpdump?: string; backoff?: { initialMs: number; maxMs: number }; sysfs?: string };
}

export interface AgentHandle {
  readonly runId: string;
  readonly identity: SensorIdentity;
  /** The MQTT client id: `<site>.<sensor>.<node>`. */
  readonly clientId: string;
  /** The port the HTTP server listens on (useful with http.port 0). */
  readonly httpPort: number;
  readonly stats: PipelineStats;
  /** The interfaces captured live (empty when replaying a file). */
  readonly interfaces: readonly string[];
  /** Kernel and agent drop counters as last reported by tcpdump (zero when replaying). */
  drops(): { kernel: number; agent: number };
  topic(kind: MessageKind): string;
  /** Completed replay passes. */
  passes(): number;
  /** Resolves once `n` replay passes have completed (and their snapshots were queued). */
  waitForPass(n?: number): Promise<void>;
  inventory(): DeviceRecord[];
  /** Unacknowledged messages in the disk spool. */
  spoolDepth(): number;
  /** Resolves true once every spooled message was acknowledged by the broker (false on timeout). */
  drained(timeoutMs: number): Promise<boolean>;
  /** Publishes the offline status, disconnects, stops the replay and the HTTP server. Idempotent. */
  stop(): Promise<void>;
}

export async function runAgent(config: AgentConfig, options: RunAgentOptions = {}): Promise<AgentHandle> {
  const replay = config.capture.replay;
  const logger = options.logger ?? pino({ name: 'hark-agent' });
  const node = options.node ?? config.node ?? process.env.NODE_NAME ?? hostname();
  const identity: SensorIdentity = { site: config.site, sensor: config.sensor, node };
  const runId = randomUUID();
  const startedAt = performance.now();
  const decoders = DecoderIndex.only(config.capture.protocols);
  if (decoders.undecoded.length > 0) {
    logger.warn(
      { protocols: decoders.undecoded },
      'this agent version does not decode some requested protocol families yet',
    );
  }
  const pipeline = new Pipeline({ decoders });
  // Throws NoCaptureInterfaceError before anything starts when "auto" finds no interface.
  const live = replay
    ? undefined
    : new LiveSource({
        interfaces: config.capture.interfaces,
        ...(config.capture.bpfFilter ? { filter: config.capture.bpfFilter } : {}),
        ...(config.capture.backend ? { backend: config.capture.backend } : {}),
        ...(config.capture.bufferMiB ? { bufferMiB: config.capture.bufferMiB } : {}),
        pipeline,
        logger,
        ...options.live,
      });
  const drops = () => live?.drops() ?? { kernel: 0, agent: 0 };
  const reporter = new Reporter({
    config,
    identity,
    runId,
    agentVersion: AGENT_VERSION,
    logger,
    ...(options.mqttOptions ? { mqttOptions: options.mqttOptions } : {}),
    ...options.reporter,
    // Dropped deltas are superseded by a full snapshot.
    onSpoolDrop: () => {
      resnapshot = true;
    },
  });
  let resnapshot = false;

  let passes = 0;
  let captureFailed = false;
  let stopped = false;
  const passWaiters: { n: number; resolve: () => void }[] = [];
  const abort = new AbortController();

  const registry = createMetrics({
    stats: () => pipeline.stats,
    devices: () => pipeline.store.size,
    connected: () => reporter.connected,
    published: () => reporter.published,
    passes: () => passes,
    drops,
    reports: () => reports.totals,
    ...(live ? { interfaces: () => live.perInterface() } : {}),
  });
  // Ready: connected to the broker and capturing (live: every interface's tcpdump listening).
  const http = await startHealthServer(
    config.http.port,
    registry,
    () => reporter.connected && !captureFailed && !stopped && (live?.healthy() ?? true),
  );
  logger.info(
    replay
      ? { runId, identity, httpPort: http.port, replay: replay.file, pace: replay.pace, loop: replay.loop }
      : {
          runId,
          identity,
          httpPort: http.port,
          interfaces: live!.interfaces,
          backend: live!.backend,
          filter: config.capture.bpfFilter,
        },
    'agent starting',
  );
  reporter.start();

  // Snapshots restate every device; between them, deltas carry the devices
  // whose record changed. Both are built a chunk at a time (inventory-reports.ts).
  const reports = new InventoryReports(pipeline.store, reporter, { maxPartBytes: MAX_DEVICE_BYTES });
  const reportFailed = (error: unknown) => {
    if (stopped) return;
    resnapshot = true;
    logger.warn(
      { err: { message: (error as Error).message } },
      'inventory report failed; a snapshot follows',
    );
  };
  const snapshot = (): Promise<void> => {
    resnapshot = false;
    return reports.snapshot().then(() => undefined, reportFailed);
  };
  const delta = (): Promise<void> =>
    resnapshot ? snapshot() : reports.delta().then(() => undefined, reportFailed);
  const heartbeat = () =>
    reporter.publishHeartbeat({
      uptimeSeconds: Math.round((performance.now() - startedAt) / 1000),
      devices: pipeline.store.size,
      capture: {
        packets: pipeline.stats.packets,
        bytes: pipeline.stats.bytes,
        malformed: pipeline.stats.malformed,
        kernelDrops: drops().kernel,
        agentDrops: drops().agent,
      },
      spoolDepth: reporter.spoolDepth,
    });
  const snapshotTimer = setInterval(() => void snapshot(), config.reporting.snapshotIntervalSeconds * 1000);
  const heartbeatTimer = setInterval(heartbeat, config.reporting.heartbeatIntervalSeconds * 1000);
  const deltaTimer = setInterval(
    () => void delta(),
    options.deltaIntervalMs ?? Math.min(5000, config.reporting.snapshotIntervalSeconds * 1000),
  );

  const captureLoop = (async () => {
    if (!replay) {
      await live!.start();
      return;
    }
    do {
      try {
        await replayPass(replay.file, pipeline, replay.pace, abort.signal);
      } catch (error) {
        if (abort.signal.aborted) return;
        captureFailed = true;
        logger.error({ err: { message: (error as Error).message }, file: replay.file }, 'replay failed');
        await snapshot(); // report what was read before the damage
        return;
      }
      passes++;
      logger.info(
        { pass: passes, devices: pipeline.store.size, stats: pipeline.stats },
        'replay pass complete',
      );
      await snapshot();
      for (const w of passWaiters.splice(0)) {
        if (passes >= w.n) w.resolve();
        else passWaiters.push(w);
      }
    } while (replay.loop && !abort.signal.aborted);
  })();

  const handle: AgentHandle = {
    runId,
    identity,
    clientId: reporter.clientId,
    httpPort: http.port,
    stats: pipeline.stats,
    interfaces: live?.interfaces ?? [],
    drops,
    topic: (kind) => reporter.topic(kind),
    passes: () => passes,
    waitForPass: (n = 1) =>
      passes >= n ? Promise.resolve() : new Promise<void>((resolve) => passWaiters.push({ n, resolve })),
    inventory: () => pipeline.store.toRecords(),
    spoolDepth: () => reporter.spoolDepth,
    drained: (timeoutMs) => reporter.drained(timeoutMs),
    async stop() {
      if (stopped) return;
      stopped = true;
      logger.info('agent stopping');
      clearInterval(snapshotTimer);
      clearInterval(heartbeatTimer);
      clearInterval(deltaTimer);
      abort.abort();
      await live?.stop();
      // The replay loop awaits each pass's snapshot, and a report waits for room in the spool while
      // the broker is away (Reporter.ready): give them a moment to finish, then stop the reporter,
      // which ends any wait; what was not spooled is restated by the next run's snapshot.
      const finished = Promise.all([captureLoop, reports.idle()]);
      await Promise.race([finished, new Promise((r) => setTimeout(r, STOP_GRACE_MS).unref())]);
      await reporter.stop();
      await finished;
      await http.close();
      logger.info('agent stopped');
    },
  };
  return handle;
}
