// Prometheus metrics for /metrics. Each agent gets its own registry (not the
// global one), so several agents can run in one process (tests) without
// clashing. Counters read the pipeline's own counters at scrape time: the hot
// path never touches prom-client.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { PipelineStats } from '../pipeline.js';

export interface MetricsSources {
  stats: () => PipelineStats;
  devices: () => number;
  connected: () => boolean;
  published: () => Record<'inventory' | 'heartbeat' | 'status', number>;
  passes: () => number;
}

export function createMetrics(sources: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hark_agent_' });
  const fromStats = (name: string, help: string, read: (s: PipelineStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(sources.stats()));
      },
    });
  fromStats('hark_agent_packets_total', 'Frames read from the capture source.', (s) => s.packets);
  fromStats('hark_agent_bytes_total', 'Bytes on the wire of the frames read.', (s) => s.bytes);
  fromStats('hark_agent_malformed_total', 'Frames or payloads that failed to parse.', (s) => s.malformed);
  new Counter({
    name: 'hark_agent_decoded_total',
    help: 'Packets decoded, per protocol.',
    labelNames: ['protocol'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [protocol, n] of Object.entries(sources.stats().decoded)) this.inc({ protocol }, n);
    },
  });
  new Counter({
    name: 'hark_agent_published_total',
    help: 'MQTT messages acknowledged by the broker, per kind.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(sources.published())) this.inc({ kind }, n);
    },
  });
  new Gauge({
    name: 'hark_agent_devices',
    help: 'Devices in the inventory.',
    registers: [registry],
    collect() {
      this.set(sources.devices());
    },
  });
  new Gauge({
    name: 'hark_agent_broker_connected',
    help: '1 while connected to the MQTT broker.',
    registers: [registry],
    collect() {
      this.set(sources.connected() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'hark_agent_replay_passes',
    help: 'Completed passes over the replayed capture.',
    registers: [registry],
    collect() {
      this.set(sources.passes());
    },
  });
  return registry;
}
