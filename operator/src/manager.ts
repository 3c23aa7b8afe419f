// Wires the operator together: informers feed a work queue, workers run the
// Sensor reconciler, and an HTTP server answers health probes and metrics.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { Sensor } from '@hark/contracts/sensor';
import { API_VERSION, PLURAL } from '@hark/contracts/sensor';
import pino, { type Logger } from 'pino';
import { refreshCrlIfDue } from './certs/revocation.js';
import { loadOrCreateSiteCa, reloadSiteCa, type SiteCa } from './certs/site-ca.js';
import { type DaemonSetObject, SensorController } from './controller/sensor-controller.js';
import { WorkQueue } from './controller/workqueue.js';
import { DEFAULT_WORKERS } from './defaults.js';
import { KubeClient, type KubeObject, resourcePath } from './kube/client.js';
import { loadCredentials } from './kube/credentials.js';
import { Informer, keyOf } from './kube/informer.js';
import { LeaderElector } from './kube/leader-election.js';
import { EventRecorder } from './observability/events.js';
import { createMetrics } from './observability/metrics.js';
import { MANAGED_BY } from './render/labels.js';

export interface OperatorOptions {
  /** Path to a kubeconfig; in-cluster or $KUBECONFIG when absent. */
  kubeconfig?: string;
  /** Namespace of the site CA Secret (the operator's own namespace). */
  namespace: string;
  caSecretName?: string;
  /** Port for /healthz, /readyz and /metrics; 0 picks a free one; -1 disables. */
  httpPort?: number;
  /** Sensors reconciled in parallel; default DEFAULT_WORKERS. */
  workers?: number;
  logger?: Logger;
  /** The clock certificates are judged by (tests move it forward). */
  now?: () => Date;
  /** Elect a leader on a Lease in `namespace`, so replicas never reconcile at once. Default on. */
  leaderElection?: {
    enabled?: boolean;
    leaseName?: string;
    identity?: string;
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
  };
  /** How often the site CA Secret is re-read for a rotation. Default 30 s. */
  caReloadIntervalMs?: number;
  /** How long agent certificates from a rotated-out CA stay in use after the trust bundle is published. Default 10 min. */
  caRotationGraceMs?: number;
  /** Called when leadership is lost after being held; the process should exit and restart. */
  onLeadershipLost?: () => void;
}

export interface OperatorHandle {
  httpPort: number | undefined;
  /** Resolves once this replica leads and its caches are synced. */
  leading: Promise<void>;
  isLeader(): boolean;
  metrics: ReturnType<typeof createMetrics>;
  stop(): Promise<void>;
}

export async function startOperator(options: OperatorOptions): Promise<OperatorHandle> {
  const log = options.logger ?? pino({ name: 'hark-operator' });
  const now = options.now ?? (() => new Date());
  const client = new KubeClient(await loadCredentials(options.kubeconfig));
  const metrics = createMetrics();
  const queue = new WorkQueue();

  let siteCa: SiteCa | undefined;
  const sensors = new Informer<Sensor & KubeObject>(client, { path: resourcePath(API_VERSION, PLURAL) }, log);
  const daemonSets = new Informer<DaemonSetObject>(
    client,
    {
      path: resourcePath('apps/v1', 'daemonsets'),
      labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}`,
    },
    log,
  );
  const controller = new SensorController({
    client,
    sensors,
    daemonSets,
    siteCa: () => siteCa!,
    events: new EventRecorder(client, log),
    metrics,
    log,
    now,
    caRotationGraceMs: options.caRotationGraceMs ?? 10 * 60_000,
    caSecret: { namespace: options.namespace, name: options.caSecretName ?? 'hark-site-ca' },
  });

  sensors.on((_event, s) => queue.add(keyOf(s.metadata.namespace, s.metadata.name)));
  daemonSets.on((_event, ds) => {
    const owner = ds.metadata.ownerReferences?.find((o) => o.controller && o.kind === 'Sensor');
    if (owner) queue.add(keyOf(ds.metadata.namespace, owner.name));
  });

  let ready = false;
  let stopping = false;
  let standby = true;
  // A standby replica is healthy and ready (it is doing its job: waiting);
  // the leader is ready once its caches are synced.
  const server =
    options.httpPort === -1
      ? undefined
      : await serve(options.httpPort ?? 8081, () => standby || ready, metrics.registry);

  const election =
    options.leaderElection?.enabled === false
      ? undefined
      : new LeaderElector(
          client,
          {
            ...options.leaderElection,
            namespace: options.namespace,
            name: options.leaderElection?.leaseName ?? 'hark-operator',
            identity: options.leaderElection?.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`,
          },
          log,
        );

  let workers: Promise<void>[] = [];
  let caReload: NodeJS.Timeout | undefined;
  const stopControllers = async () => {
    stopping = true;
    ready = false;
    clearInterval(caReload);
    queue.shutDown();
    await Promise.all([sensors.stop(), daemonSets.stop()]);
    await Promise.all(workers);
  };

  const startControllers = async () => {
    siteCa = await loadOrCreateSiteCa(
      client,
      options.namespace,
      options.caSecretName ?? 'hark-site-ca',
      log,
      now,
    );
    log.info(
      { caSource: siteCa.source, secret: `${options.namespace}/${options.caSecretName ?? 'hark-site-ca'}` },
      `site CA ${siteCa.source === 'Generated' ? 'generated by the operator' : 'provided by the user'}`,
    );
    const caSecretRef = { namespace: options.namespace, name: options.caSecretName ?? 'hark-site-ca' };
    // Brokers that enforce CRLs refuse every client of a CA without one: publish it before any Sensor is served.
    await refreshCrlIfDue(client, caSecretRef, siteCa, now(), log);
    // A rotated CA re-announces every Sensor: their Secrets get the new trust
    // bundle now, and new certificates when the grace period ends.
    caReload = setInterval(async () => {
      try {
        const rotated = await reloadSiteCa(
          client,
          options.namespace,
          options.caSecretName ?? 'hark-site-ca',
          siteCa!,
          log,
          now(),
        );
        if (rotated) siteCa = rotated;
        // Before any agent gets a certificate from a new CA, the brokers need that CA's CRL.
        await refreshCrlIfDue(client, caSecretRef, siteCa!, now(), log);
        if (rotated) {
          for (const s of sensors.list()) queue.add(keyOf(s.metadata.namespace, s.metadata.name));
        }
      } catch (error) {
        log.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'could not re-read the site CA Secret',
        );
      }
    }, options.caReloadIntervalMs ?? 30_000);
    caReload.unref();

    sensors.start();
    daemonSets.start();
    await Promise.all([sensors.waitForSync(), daemonSets.waitForSync()]);
    ready = true;
    log.info({ server: client.serverUrl }, 'caches synced; reconciling Sensors');

    const worker = async () => {
      for (;;) {
        const key = await queue.get();
        if (key === undefined) return;
        metrics.queueDepth.set(queue.depth);
        const [namespace, name] = key.split('/') as [string, string];
        const end = metrics.reconcileSeconds.startTimer();
        try {
          const result = await controller.reconcile(namespace, name);
          queue.forget(key);
          metrics.reconciles.labels('success').inc();
          if (result.requeueAfterMs !== undefined)
            queue.addAfter(key, Math.min(result.requeueAfterMs, 2 ** 31 - 1));
        } catch (error) {
          metrics.reconciles.labels('error').inc();
          const retryInMs = queue.addRateLimited(key);
          log.warn(
            { sensor: key, err: error instanceof Error ? error.message : String(error), retryInMs },
            'reconcile failed; will retry',
          );
        } finally {
          end();
          queue.done(key);
        }
        if (stopping) return;
      }
    };
    workers = Array.from({ length: options.workers ?? DEFAULT_WORKERS }, () => worker());
  };

  const lead = async () => {
    if (election) {
      await election.run(() => {
        void stopControllers().then(() => (options.onLeadershipLost ?? (() => {}))());
      });
    }
    if (stopping) return;
    standby = false;
    await startControllers();
  };

  const leading = lead();
  // Without election the caller expects a running operator when this returns.
  if (!election) await leading;
  leading.catch((error) => {
    if (!stopping) log.error({ err: String(error) }, 'operator failed to start leading');
  });

  return {
    httpPort: server ? (server.address() as { port: number }).port : undefined,
    leading,
    isLeader: () => !standby && !stopping,
    metrics,
    async stop() {
      await election?.stop();
      await stopControllers();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    },
  };
}

function serve(
  port: number,
  isReady: () => boolean,
  registry: ReturnType<typeof createMetrics>['registry'],
): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
    } else if (req.url === '/readyz') {
      res.writeHead(isReady() ? 200 : 503).end(isReady() ? 'ok' : 'caches not synced');
    } else if (req.url === '/metrics') {
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
