// Wires the aggregator together: broker (embedded, or an external one) →
// ingest → inventory and fleet stores → HTTP API and UI.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { FleetWatch } from './alerts/fleet-watch.js';
import { AlertStore } from './alerts/store.js';
import { AlertWebhook } from './alerts/webhook.js';
import { watchCrlFile } from './broker/crl-file.js';
import { type EmbeddedBroker, startEmbeddedBroker } from './broker/embedded.js';
import { DEFAULTS, loadPem, type PemSource } from './config.js';
import { HistoryReader } from './durability/history-reader.js';
import { registerFleetMetrics } from './fleet/metrics.js';
import { FleetRegistry } from './fleet/registry.js';
import { KubernetesAccess } from './http/access.js';
import { buildHttpServer } from './http/server.js';
import { IngestClient } from './ingest/client.js';
import { openIngestCore } from './ingest/core.js';
import { InventoryStore } from './inventory/store.js';
import { createLogger, type Logger } from './log.js';
import { ShardPeers } from './scale/peers.js';
import { describeShard, type ShardSpec, validateShard } from './scale/shards.js';

export interface AggregatorOptions {
  /** MQTT topic prefix; default "hark". */
  topicPrefix?: string;
  /** HTTP listener; default 0.0.0.0:8080. Port 0 picks a free port. */
  http?: { port?: number; host?: string };
  /** An external broker, e.g. "mqtts://mosquitto.hark.svc:8883". Omitted: run the embedded broker. */
  brokerUrl?: string;
  /** The embedded broker's listener; default 0.0.0.0:8883. Port 0 picks a free port. */
  embeddedBroker?: {
    port?: number;
    host?: string;
    maxPacketBytes?: number;
    /**
     * PEM file of the site CAs' CRLs (the operator publishes `ca.crl`) the
     * embedded broker enforces, re-read every `crlReloadIntervalMs` (30 s).
     * Given, a client whose issuer has no current CRL is refused.
     */
    crlFile?: string;
    crlReloadIntervalMs?: number;
  };
  /** Key material: PEM text, or file paths. */
  tls: {
    /** The site CA trust bundle: sensors' certificates and the broker's must chain to it. */
    ca: PemSource;
    /** The embedded broker's server certificate and key; required without brokerUrl. */
    serverCert?: PemSource;
    serverKey?: PemSource;
    /** The aggregator's own client certificate (CN hark-aggregator, OU hark-aggregator) and key. */
    clientCert: PemSource;
    clientKey: PemSource;
  };
  /** MQTT client id of the aggregator's persistent session; default "hark-aggregator". */
  clientId?: string;
  /**
   * Scale-out (see the README): this replica's shard. It owns the sites that
   * rendezvous hashing gives its index (scale/shards.ts); messages of other
   * sites are acknowledged and dropped. Each replica needs its own clientId
   * (its own persistent session) and its own dataDir.
   */
  shard?: ShardSpec;
  /**
   * Every shard's HTTP base URL, by index (this replica's own included), so
   * that any replica answers reads for the whole fleet. Required with more
   * than one shard.
   */
  peers?: readonly string[];
  /**
   * Who may read /api/v1 (http/access.ts). `kubernetes`: a bearer token the
   * API server accepts (TokenReview) for a user granted `get` on
   * inventory.hark.dev in `namespace` (SubjectAccessReview); the replica sends
   * the token in `peerTokenFile` (its ServiceAccount's, re-read per request)
   * to its peers. Omitted: anyone who reaches the port reads.
   */
  apiAccess?: { kubernetes: { namespace: string; kubeconfig?: string; peerTokenFile?: string } };
  /** A sensor without a heartbeat for this long is stale; default 90 s. */
  staleAfterMs?: number;
  /**
   * How long a sensor node's reports are its baseline after the aggregator
   * first hears from it, raising no alerts (alerts/store.ts); default 24 h, 0
   * alerts from the first report.
   */
  alertLearningMs?: number;
  /**
   * A sensor node's certificate this close to expiry raises an alert
   * (alerts/fleet-watch.ts); default 7 days. Keep it below the Sensors'
   * spec.certificate.renewBefore, so that it means renewal is failing.
   */
  certificateWarningMs?: number;
  /**
   * POST every alert raise to this URL (alerts/webhook.ts), with the bearer
   * token read from `tokenFile` if given; `intervalMs` (default 2 s) is how
   * often pending alerts are looked for, `batch` (default 100) how many go in one POST.
   */
  alertWebhook?: { url: string; tokenFile?: string; intervalMs?: number; batch?: number };
  /** With the embedded broker, how long start-up waits for the subscription; default 15 s. */
  readyTimeoutMs?: number;
  logger?: Logger;
  /**
   * Where the write-ahead log, the compacted state and the Parquet history
   * live. With it, an inventory message is acknowledged to the broker only
   * once fsynced, and a restart recovers the inventory. Without it, state is
   * in memory only.
   */
  dataDir?: string;
  /** Compaction: after this many journal records (default 50,000) or this often (default 60 s). */
  compaction?: { everyRecords?: number; intervalMs?: number };
  /**
   * Payload bytes that may be held between the broker and the Parquet history
   * (default 64 MiB); beyond, the aggregator stops reading from the broker
   * until the history catches up (durability/backpressure.ts).
   */
  historyBacklogBytes?: number;
  /**
   * The Parquet history's upkeep: days kept (default 30; 0 keeps all), and
   * how often a compaction also writes an inventory snapshot (default 1 h).
   */
  history?: { retentionDays?: number; snapshotIntervalMs?: number };
}

export interface RunningAggregator {
  httpPort: number;
  /** e.g. http://127.0.0.1:8080 */
  httpUrl: string;
  /** The embedded broker's port; undefined with an external broker. */
  brokerPort?: number;
  inventory: InventoryStore;
  fleet: FleetRegistry;
  alerts: AlertStore;
  registry: Registry;
  /** Connected and subscribed to the broker. */
  ready(): boolean;
  /** Compacts the journal now and writes the Parquet history (no-op without dataDir). */
  compact(): Promise<void>;
  stop(): Promise<void>;
}

function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '']);

/** "Bearer <token>" from a token file, read each time: the kubelet rotates a projected token in place. */
function bearerFrom(path: string, logger: Logger): string | undefined {
  try {
    return `Bearer ${readFileSync(path, 'utf8').trim()}`;
  } catch (err) {
    logger.warn({ path, err: (err as Error).message }, 'cannot read the token to send to the other shards');
    return undefined;
  }
}

export async function startAggregator(options: AggregatorOptions): Promise<RunningAggregator> {
  const logger = options.logger ?? createLogger();
  const topicPrefix = options.topicPrefix ?? DEFAULTS.topicPrefix;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hark_aggregator_' });

  // Checked before anything starts: a misconfigured replica must not take messages it would drop.
  const shard = options.shard ?? { index: 0, count: 1 };
  validateShard(shard);
  if (shard.count > 1 && !options.brokerUrl)
    throw new Error(
      'a sharded aggregator needs an external broker (--broker-url) that every replica subscribes to: an embedded broker would be one per replica',
    );
  if (shard.count > 1 && !options.peers)
    throw new Error(
      `a sharded aggregator needs every replica's HTTP URL (--peers, ${shard.count} of them) to answer for the whole fleet`,
    );
  const kubernetesAccess = options.apiAccess?.kubernetes;
  const access = kubernetesAccess
    ? new KubernetesAccess({
        namespace: kubernetesAccess.namespace,
        ...(kubernetesAccess.kubeconfig ? { kubeconfig: kubernetesAccess.kubeconfig } : {}),
        logger,
        registry,
      })
    : undefined;
  const peerTokenFile = kubernetesAccess?.peerTokenFile;
  const peers =
    shard.count > 1
      ? new ShardPeers({
          shard,
          urls: options.peers!,
          logger,
          registry,
          ...(peerTokenFile ? { authorization: () => bearerFrom(peerTokenFile, logger) } : {}),
        })
      : undefined;
  const ownership = shard.count > 1 ? peers!.ownership : undefined;

  const ca = await loadPem(options.tls.ca, 'CA bundle');
  const clientCert = await loadPem(options.tls.clientCert, 'client certificate');
  const clientKey = await loadPem(options.tls.clientKey, 'client key');

  const inventory = new InventoryStore();
  const fleet = new FleetRegistry({ staleAfterMs: options.staleAfterMs ?? DEFAULTS.staleAfterMs });
  registerFleetMetrics(fleet, registry);
  const alerts = new AlertStore({
    learningMs: options.alertLearningMs ?? DEFAULTS.alertLearningMs,
    logger,
    registry,
  });
  // Made (and its URL checked) before anything is opened; started after recovery, so what the saved
  // state and the log hold is what it resumes from.
  const webhookOptions = options.alertWebhook;
  const webhook = webhookOptions
    ? new AlertWebhook(alerts, {
        url: webhookOptions.url,
        ...(webhookOptions.tokenFile
          ? { token: () => readFileSync(webhookOptions.tokenFile!, 'utf8').trim() || undefined }
          : {}),
        ...(webhookOptions.intervalMs !== undefined ? { intervalMs: webhookOptions.intervalMs } : {}),
        ...(webhookOptions.batch !== undefined ? { batch: webhookOptions.batch } : {}),
        userAgent: `hark-aggregator/${packageVersion()}`,
        logger,
        registry,
      })
    : undefined;

  const core = openIngestCore({
    topicPrefix,
    inventory,
    fleet,
    alerts,
    logger,
    registry,
    ...(ownership ? { ownership } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.compaction ? { compaction: options.compaction } : {}),
    ...(options.historyBacklogBytes !== undefined
      ? { historyBacklogBytes: options.historyBacklogBytes }
      : {}),
    ...(options.history ? { history: options.history } : {}),
  });
  const { handler, backpressure, compact } = core;
  const fleetWatch = new FleetWatch(fleet, alerts, {
    staleAfterMs: options.staleAfterMs ?? DEFAULTS.staleAfterMs,
    expiryWarningMs: options.certificateWarningMs ?? DEFAULTS.certificateWarningMs,
  });
  const fleetWatchTimer = setInterval(() => fleetWatch.check(), fleetWatch.intervalMs);
  fleetWatchTimer.unref();

  // Whatever started is stopped again if a later step fails.
  const cleanups: (() => Promise<void>)[] = [async () => clearInterval(fleetWatchTimer)];
  if (webhook) {
    webhook.start();
    cleanups.push(() => webhook.stop());
  }
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((err) => logger.error({ err }, 'error while stopping'));
    }
  };

  // A clean stop leaves a compacted state; runs after the broker client stops (cleanups run in reverse).
  cleanups.push(() => core.close());

  try {
    let broker: EmbeddedBroker | undefined;
    let brokerUrl = options.brokerUrl;
    let pinnedServerCertificate: string | undefined;
    if (!brokerUrl) {
      if (!options.tls.serverCert || !options.tls.serverKey) {
        throw new Error('the embedded broker needs tls.serverCert and tls.serverKey (or give a brokerUrl)');
      }
      const cert = await loadPem(options.tls.serverCert, 'server certificate');
      const key = await loadPem(options.tls.serverKey, 'server key');
      const host = options.embeddedBroker?.host ?? DEFAULTS.brokerHost;
      const crlFile = options.embeddedBroker?.crlFile;
      const revocation = crlFile
        ? await watchCrlFile(crlFile, {
            trustBundlePem: ca,
            logger,
            registry,
            ...(options.embeddedBroker?.crlReloadIntervalMs
              ? { reloadIntervalMs: options.embeddedBroker.crlReloadIntervalMs }
              : {}),
          })
        : undefined;
      if (revocation) cleanups.push(async () => revocation.close());
      broker = await startEmbeddedBroker({
        ...(revocation ? { revocation } : {}),
        port: options.embeddedBroker?.port ?? DEFAULTS.brokerPort,
        host,
        tls: { ca, cert, key },
        topicPrefix,
        logger,
        registry,
        ...(options.embeddedBroker?.maxPacketBytes
          ? { maxPacketBytes: options.embeddedBroker.maxPacketBytes }
          : {}),
      });
      cleanups.push(() => broker!.close());
      const target = ANY_ADDRESS.has(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
      brokerUrl = `mqtts://${target}:${broker.port}`;
      // The ingest reaches its own broker over loopback; the certificate is
      // issued for the public name, so pin it instead of checking the name.
      pinnedServerCertificate = cert;
    }

    const ingest = new IngestClient({
      url: brokerUrl,
      tls: { ca, cert: clientCert, key: clientKey },
      clientId: options.clientId ?? DEFAULTS.clientId,
      topicPrefix,
      onMessage: (topic, payload, retained, ack) => handler.receive(topic, payload, retained, ack),
      ...(backpressure ? { gate: () => backpressure.gate() } : {}),
      logger,
      registry,
      ...(pinnedServerCertificate ? { pinnedServerCertificate } : {}),
    });
    ingest.start();
    cleanups.push(() => ingest.stop());
    // Runs before ingest.stop (cleanups run in reverse): a read paused for the history must not hold up the disconnect.
    if (backpressure) cleanups.push(async () => backpressure.release());
    // With the embedded broker a failure to subscribe is a configuration
    // error (wrong client certificate): fail loudly. An external broker may
    // simply not be up yet; the client retries and /readyz tells.
    if (broker) await ingest.whenReady(options.readyTimeoutMs ?? 15_000);

    const historyReader = options.dataDir ? new HistoryReader(join(options.dataDir, 'history')) : undefined;
    if (historyReader) cleanups.push(() => historyReader.close());
    const app: FastifyInstance = await buildHttpServer({
      inventory,
      history: historyReader,
      fleet,
      alerts,
      acknowledgeAlert: (id, acknowledgement) => handler.acknowledgeAlert(id, acknowledgement),
      registry,
      isReady: () => ingest.ready,
      logger,
      version: packageVersion(),
      peers,
      access,
    });
    cleanups.push(() => app.close());
    const httpHost = options.http?.host ?? DEFAULTS.httpHost;
    await app.listen({ port: options.http?.port ?? DEFAULTS.httpPort, host: httpHost });
    const address = app.server.address();
    const httpPort =
      typeof address === 'object' && address ? address.port : (options.http?.port ?? DEFAULTS.httpPort);
    const httpUrl = `http://${ANY_ADDRESS.has(httpHost) ? '127.0.0.1' : httpHost}:${httpPort}`;
    logger.info(
      {
        httpUrl,
        brokerUrl,
        embeddedBroker: !!broker,
        topicPrefix,
        shard: describeShard(shard),
        apiAccess: access ? 'kubernetes' : 'none',
      },
      'aggregator started',
    );
    if (!access && !['127.0.0.1', '::1', 'localhost'].includes(httpHost))
      logger.warn(
        { httpHost },
        'the API is open to anyone who reaches this port (--api-auth none): use --api-auth kubernetes, or listen on loopback only',
      );

    let stopping: Promise<void> | undefined;
    return {
      httpPort,
      httpUrl,
      ...(broker ? { brokerPort: broker.port } : {}),
      inventory,
      fleet,
      alerts,
      registry,
      ready: () => ingest.ready,
      compact,
      stop: () => {
        stopping ??= stopAll().then(() => logger.info('aggregator stopped'));
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
