// Prometheus metrics for /metrics. Each agent gets its own registry (not the
// global one), so several agents can run in one process (tests) without
// clashing. Counters read the pipeline's own counters at scrape time: the hot
// path never touches prom-client.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { PipelineStats } from '../pipeline.js';
import type { ReportTotals } from './inventory-reports.js';

export interface MetricsSources {
  stats: () => PipelineStats;
  devices: () => number;
  connected: () => boolean;
  published: () => Record<'inventory' | 'heartbeat' | 'status', number>;
  passes: () => number;
  /** Kernel drops (ring or NIC full) and agent drops (written by tcpdump, never parsed). */
  drops: () => { kernel: number; agent: number };
  /** Inventory reporting so far (inventory-reports.ts). */
  reports?: () => ReportTotals;
  /** Live capture only: per-interface state. */
  interfaces?: () => { interface: string; listening: boolean; packets: number; restarts: number }[];
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
  fromStats(
    'hark_agent_repeat_packets_total',
    'Decoded packets that repeated an earlier one from the same sender byte for byte (or, for cyclic polling, with the same repeat key), so were not decoded again.',
    (s) => s.repeats,
  );
  fromStats(
    'hark_agent_replayed_frames_total',
    'Frames the native frame memo recognised as changing nothing but last-seen (a known sender, or a repeat already decoded) and replayed without parsing them.',
    (s) => s.replayed,
  );
  fromStats(
    'hark_agent_reassembled_messages_total',
    'TCP messages (TLS ClientHellos, HTTP device descriptions, OT identity answers) gathered from several segments and decoded whole.',
    (s) => s.reassembled,
  );
  fromStats(
    'hark_agent_reassembly_incomplete_total',
    'TCP messages whose gathering ended before they were whole (a segment lost or not seen, a reset, a bound) and were decoded as far as they went.',
    (s) => s.reassemblyIncomplete,
  );
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
  new Counter({
    name: 'hark_agent_kernel_drops_total',
    help: 'Frames the kernel dropped before the agent read them (capture ring or interface full).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.drops().kernel);
    },
  });
  new Counter({
    name: 'hark_agent_agent_drops_total',
    help: 'Frames captured but never parsed by the agent (lost with a dying tcpdump).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.drops().agent);
    },
  });
  const reports = sources.reports;
  if (reports) {
    const fromReports = (name: string, help: string, read: (t: ReportTotals['delta']) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['mode'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [mode, t] of Object.entries(reports())) this.inc({ mode }, read(t));
        },
      });
    fromReports(
      'hark_agent_reports_total',
      'Inventory reports made, per mode (snapshot, delta).',
      (t) => t.reports,
    );
    fromReports(
      'hark_agent_reported_devices_total',
      'Device records sent in inventory reports, per mode.',
      (t) => t.devices,
    );
    fromReports(
      'hark_agent_report_messages_total',
      'MQTT messages the inventory reports took, per mode.',
      (t) => t.messages,
    );
    fromReports(
      'hark_agent_report_seconds_total',
      'Time spent building and spooling inventory reports, per mode (waits for room in the spool included).',
      (t) => t.seconds,
    );
    fromReports(
      'hark_agent_heap_releases_total',
      'Memory-reducing collections run after large inventory reports, per mode (needs --expose-gc, which the image sets).',
      (t) => t.heapReleases,
    );
    fromReports(
      'hark_agent_heap_release_seconds_total',
      'Time the agent paused for memory-reducing collections after large reports, per mode.',
      (t) => t.heapReleaseSeconds,
    );
    new Gauge({
      name: 'hark_agent_last_report_seconds',
      help: 'How long the last inventory report took, per mode.',
      labelNames: ['mode'],
      registers: [registry],
      collect() {
        for (const [mode, t] of Object.entries(reports())) this.set({ mode }, t.lastSeconds);
      },
    });
  }
  const interfaces = sources.interfaces;
  if (interfaces) {
    new Gauge({
      name: 'hark_agent_capture_up',
      help: '1 while the capture on the interface is running and listening.',
      labelNames: ['interface'],
      registers: [registry],
      collect() {
        this.reset();
        for (const i of interfaces()) this.set({ interface: i.interface }, i.listening ? 1 : 0);
      },
    });
    new Counter({
      name: 'hark_agent_interface_packets_total',
      help: 'Frames read per captured interface.',
      labelNames: ['interface'],
      registers: [registry],
      collect() {
        this.reset();
        for (const i of interfaces()) this.inc({ interface: i.interface }, i.packets);
      },
    });
    new Counter({
      name: 'hark_agent_capture_restarts_total',
      help: 'tcpdump restarts per captured interface.',
      labelNames: ['interface'],
      registers: [registry],
      collect() {
        this.reset();
        for (const i of interfaces()) this.inc({ interface: i.interface }, i.restarts);
      },
    });
  }
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
