#!/usr/bin/env node
// hark-aggregator: the CLI. Every option has an environment variable, the
// usual way to configure a container; key material is given as file paths.
import { Command, Option } from 'commander';
import { startAggregator } from './aggregator.js';
import { DEFAULTS } from './config.js';
import { HISTORY_DEFAULTS } from './ingest/core.js';
import { createLogger } from './log.js';

const int = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${value}`);
  return n;
};

const program = new Command()
  .name('hark-aggregator')
  .description('hark aggregator: merged device inventory, fleet health, HTTP API and web UI');

program
  .command('serve')
  .description('run the aggregator (embedded MQTT broker unless --broker-url is given)')
  .addOption(
    new Option('--http-port <port>', 'HTTP port')
      .env('HARK_HTTP_PORT')
      .argParser(int)
      .default(DEFAULTS.httpPort),
  )
  .addOption(
    new Option('--http-host <host>', 'HTTP listen address').env('HARK_HTTP_HOST').default(DEFAULTS.httpHost),
  )
  .addOption(
    new Option('--broker-url <url>', 'external broker, e.g. mqtts://mosquitto:8883').env('HARK_BROKER_URL'),
  )
  .addOption(
    new Option('--broker-port <port>', 'embedded broker port')
      .env('HARK_BROKER_PORT')
      .argParser(int)
      .default(DEFAULTS.brokerPort),
  )
  .addOption(
    new Option('--broker-host <host>', 'embedded broker listen address')
      .env('HARK_BROKER_HOST')
      .default(DEFAULTS.brokerHost),
  )
  .addOption(
    new Option('--topic-prefix <prefix>', 'MQTT topic prefix')
      .env('HARK_TOPIC_PREFIX')
      .default(DEFAULTS.topicPrefix),
  )
  .addOption(
    new Option('--ca <file>', 'site CA trust bundle (PEM)').env('HARK_CA_FILE').makeOptionMandatory(),
  )
  .addOption(
    new Option('--server-cert <file>', 'embedded broker certificate (PEM)').env('HARK_SERVER_CERT_FILE'),
  )
  .addOption(new Option('--server-key <file>', 'embedded broker key (PEM)').env('HARK_SERVER_KEY_FILE'))
  .addOption(
    new Option(
      '--crl <file>',
      "embedded broker: the site CAs' CRLs to enforce (PEM, re-read every 30 s); an external broker enforces its own",
    )
      .env('HARK_CRL_FILE')
      .conflicts('brokerUrl'),
  )
  .addOption(
    new Option('--client-cert <file>', 'aggregator client certificate (PEM)')
      .env('HARK_CLIENT_CERT_FILE')
      .makeOptionMandatory(),
  )
  .addOption(
    new Option('--client-key <file>', 'aggregator client key (PEM)')
      .env('HARK_CLIENT_KEY_FILE')
      .makeOptionMandatory(),
  )
  .addOption(
    new Option('--client-id <id>', 'MQTT client id (persistent session)')
      .env('HARK_CLIENT_ID')
      .default(DEFAULTS.clientId),
  )
  .addOption(
    new Option('--stale-after <seconds>', 'a sensor without heartbeat for this long is stale')
      .env('HARK_STALE_AFTER_SECONDS')
      .argParser(int)
      .default(DEFAULTS.staleAfterMs / 1000),
  )
  .addOption(
    new Option(
      '--alert-learning <seconds>',
      "how long a sensor node's reports are its baseline, raising no alerts, after it is first heard (0: alert from the first)",
    )
      .env('HARK_ALERT_LEARNING_SECONDS')
      .argParser(int)
      .default(DEFAULTS.alertLearningMs / 1000),
  )
  .addOption(
    new Option(
      '--certificate-warning <seconds>',
      "a sensor node's certificate this close to expiry raises an alert; keep it below the Sensors' spec.certificate.renewBefore",
    )
      .env('HARK_CERTIFICATE_WARNING_SECONDS')
      .argParser(int)
      .default(DEFAULTS.certificateWarningMs / 1000),
  )
  .addOption(
    new Option('--data-dir <dir>', 'write-ahead log, compacted state and Parquet history').env(
      'HARK_DATA_DIR',
    ),
  )
  .addOption(
    new Option('--compact-interval <seconds>', 'compact the journal and write history this often')
      .env('HARK_COMPACT_INTERVAL_SECONDS')
      .argParser(int)
      .default(60),
  )
  .addOption(
    new Option(
      '--history-backlog-mib <mib>',
      'how far the Parquet history may fall behind before reading from the broker pauses',
    )
      .env('HARK_HISTORY_BACKLOG_MIB')
      .argParser(int)
      .default(64),
  )
  .addOption(
    new Option(
      '--history-retention-days <days>',
      'days of Parquet history kept (observations and inventory snapshots, by date partition); 0 keeps everything',
    )
      .env('HARK_HISTORY_RETENTION_DAYS')
      .argParser(int)
      .default(HISTORY_DEFAULTS.retentionDays),
  )
  .addOption(
    new Option(
      '--inventory-snapshot-interval <seconds>',
      'write a Parquet snapshot of the whole inventory at most this often (and at every clean stop)',
    )
      .env('HARK_INVENTORY_SNAPSHOT_SECONDS')
      .argParser(int)
      .default(HISTORY_DEFAULTS.snapshotIntervalMs / 1000),
  )
  .addOption(
    new Option(
      '--shards <count>',
      'scale-out: the number of replicas the sites are spread over (needs --broker-url, --shard-index and --peers)',
    )
      .env('HARK_SHARDS')
      .argParser(int)
      .default(1),
  )
  .addOption(
    new Option('--shard-index <index>', "this replica's shard, 0 to shards-1 (a StatefulSet pod's ordinal)")
      .env('HARK_SHARD_INDEX')
      .argParser(int)
      .default(0),
  )
  .addOption(
    new Option(
      '--peers <urls>',
      "every shard's HTTP URL in shard order, comma-separated, this one's included",
    )
      .env('HARK_PEERS')
      .argParser((v: string) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      ),
  )
  .addOption(
    new Option(
      '--api-auth <mode>',
      'who may read /api/v1: kubernetes (a bearer token the API server accepts, for a user granted get on inventory.hark.dev in --namespace) or none (anyone who reaches the port)',
    )
      .env('HARK_API_AUTH')
      .choices(['kubernetes', 'none'])
      .default('kubernetes'),
  )
  .addOption(
    new Option(
      '--namespace <namespace>',
      'with --api-auth kubernetes: the namespace access is granted in',
    ).env('HARK_NAMESPACE'),
  )
  .addOption(
    new Option(
      '--kubeconfig <file>',
      "with --api-auth kubernetes: how to reach the API server; default in-cluster (the pod's ServiceAccount), else ~/.kube/config",
    ).env('HARK_KUBECONFIG'),
  )
  .addOption(
    new Option(
      '--peer-token-file <file>',
      'with --api-auth kubernetes and --shards: the token sent to the other shards',
    )
      .env('HARK_PEER_TOKEN_FILE')
      .default('/var/run/secrets/kubernetes.io/serviceaccount/token'),
  )
  .addOption(
    new Option(
      '--alert-webhook <url>',
      'POST every alert raise to this URL as {"source":"hark","alerts":[...]}, at least once (resumes after a restart)',
    ).env('HARK_ALERT_WEBHOOK_URL'),
  )
  .addOption(
    new Option(
      '--alert-webhook-token-file <file>',
      'with --alert-webhook: a file holding the bearer token to send (re-read for each delivery); a custom CA goes in NODE_EXTRA_CA_CERTS',
    ).env('HARK_ALERT_WEBHOOK_TOKEN_FILE'),
  )
  .addOption(new Option('--log-level <level>', 'log level').env('HARK_LOG_LEVEL').default('info'))
  .action(async (opts) => {
    const logger = createLogger(opts.logLevel);
    if (opts.apiAuth === 'kubernetes' && !opts.namespace)
      throw new Error(
        '--api-auth kubernetes needs --namespace (HARK_NAMESPACE), where reading is granted; or choose --api-auth none for an API anyone who reaches the port may read',
      );
    const aggregator = await startAggregator({
      topicPrefix: opts.topicPrefix,
      http: { port: opts.httpPort, host: opts.httpHost },
      ...(opts.brokerUrl
        ? { brokerUrl: opts.brokerUrl }
        : {
            embeddedBroker: {
              port: opts.brokerPort,
              host: opts.brokerHost,
              ...(opts.crl ? { crlFile: opts.crl } : {}),
            },
          }),
      tls: {
        ca: { path: opts.ca },
        ...(opts.serverCert ? { serverCert: { path: opts.serverCert } } : {}),
        ...(opts.serverKey ? { serverKey: { path: opts.serverKey } } : {}),
        clientCert: { path: opts.clientCert },
        clientKey: { path: opts.clientKey },
      },
      clientId: opts.clientId,
      shard: { index: opts.shardIndex, count: opts.shards },
      ...(opts.peers ? { peers: opts.peers } : {}),
      ...(opts.apiAuth === 'kubernetes'
        ? {
            apiAccess: {
              kubernetes: {
                namespace: opts.namespace,
                ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
                ...(opts.shards > 1 ? { peerTokenFile: opts.peerTokenFile } : {}),
              },
            },
          }
        : {}),
      staleAfterMs: opts.staleAfter * 1000,
      alertLearningMs: opts.alertLearning * 1000,
      certificateWarningMs: opts.certificateWarning * 1000,
      ...(opts.alertWebhook
        ? {
            alertWebhook: {
              url: opts.alertWebhook,
              ...(opts.alertWebhookTokenFile ? { tokenFile: opts.alertWebhookTokenFile } : {}),
            },
          }
        : {}),
      ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      compaction: { intervalMs: Math.max(1, opts.compactInterval) * 1000 },
      historyBacklogBytes: Math.max(1, opts.historyBacklogMib) * 1024 * 1024,
      history: {
        retentionDays: Math.max(0, opts.historyRetentionDays),
        snapshotIntervalMs: Math.max(1, opts.inventorySnapshotInterval) * 1000,
      },
      logger,
    });

    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      // Bounded: a stuck connection must not keep a terminating pod alive.
      const force = setTimeout(() => {
        logger.error('shutdown timed out');
        process.exit(1);
      }, 10_000);
      force.unref();
      aggregator.stop().then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });

program.parseAsync().catch((err: Error) => {
  // Start-up errors name files and causes, never key material.
  process.stderr.write(`hark-aggregator: ${err.message}\n`);
  process.exit(1);
});
