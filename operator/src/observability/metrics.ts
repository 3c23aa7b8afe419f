import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hark_operator_' });
  return {
    registry,
    reconciles: new Counter({
      name: 'hark_operator_reconcile_total',
      help: 'Reconciles by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: 'hark_operator_reconcile_duration_seconds',
      help: 'Reconcile latency',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'hark_operator_workqueue_depth',
      help: 'Keys waiting in the work queue',
      registers: [registry],
    }),
    certificatesIssued: new Counter({
      name: 'hark_operator_certificates_issued_total',
      help: 'Agent certificates issued',
      labelNames: ['reason'],
      registers: [registry],
    }),
    certificateDaysToExpiry: new Gauge({
      name: 'hark_operator_certificate_days_to_expiry',
      help: 'Days until each Sensor certificate expires',
      labelNames: ['namespace', 'sensor'],
      registers: [registry],
    }),
    writes: new Counter({
      name: 'hark_operator_api_writes_total',
      help: 'Writes to the API server by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
