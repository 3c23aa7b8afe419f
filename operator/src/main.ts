#!/usr/bin/env node
// hark-operator: reconciles hark.dev Sensors. Configuration from flags or
// the environment the Helm chart sets.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { DEFAULT_WORKERS } from './defaults.js';
import { startOperator } from './manager.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    namespace: {
      type: 'string',
      default: process.env.HARK_NAMESPACE ?? process.env.POD_NAMESPACE ?? 'hark-system',
    },
    'ca-secret': { type: 'string', default: process.env.HARK_CA_SECRET ?? 'hark-site-ca' },
    'http-port': { type: 'string', default: process.env.HARK_HTTP_PORT ?? '8081' },
    workers: { type: 'string', default: String(DEFAULT_WORKERS) },
    'no-leader-election': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(`Usage: hark-operator [--kubeconfig FILE] [--namespace NS] [--ca-secret NAME] [--http-port N] [--workers N] [--no-leader-election]

Reconciles hark.dev/v1alpha1 Sensors: issues each one a client certificate
from the site CA (the Secret NAME in NS, generated when absent) and runs the
capture agent as a DaemonSet on the nodes it selects.`);
  process.exit(0);
}

const log = pino({ name: 'hark-operator', level: process.env.LOG_LEVEL ?? 'info' });
try {
  const operator = await startOperator({
    kubeconfig: values.kubeconfig,
    namespace: values.namespace!,
    caSecretName: values['ca-secret'],
    httpPort: Number(values['http-port']),
    workers: Number(values.workers),
    logger: log,
    leaderElection: { enabled: !values['no-leader-election'], identity: process.env.POD_NAME },
    // Losing the lease means another replica may be reconciling: exit, and let
    // the Deployment restart this one as a standby.
    onLeadershipLost: () => process.exit(1),
  });
  log.info({ httpPort: operator.httpPort }, 'hark-operator started');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, async () => {
      log.info({ signal }, 'shutting down');
      await operator.stop();
      process.exit(0);
    });
  }
} catch (error) {
  log.fatal({ err: error instanceof Error ? error.message : String(error) }, 'hark-operator could not start');
  process.exit(1);
}
