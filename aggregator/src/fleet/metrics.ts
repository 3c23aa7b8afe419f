// The fleet as Prometheus sees it, read from the registry at scrape time: how
// many sensor nodes each site has in each health, and the packets each
// sensor's capture lost. An Alertmanager pages on these (the chart's
// PrometheusRule) where a security team reads hark's own alerts.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FleetRegistry, Health } from './registry.js';

const HEALTHS: readonly Health[] = ['online', 'stale', 'offline', 'unknown'];

export function registerFleetMetrics(fleet: FleetRegistry, registry: Registry): void {
  new Gauge({
    name: 'hark_aggregator_sensor_nodes',
    help: 'Sensor nodes known to this aggregator, by site and health (online, stale: no heartbeat within --stale-after, offline: its last will, unknown: no word yet)',
    labelNames: ['site', 'health'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, Record<Health, number>>();
      for (const sensor of fleet.list()) {
        let site = counts.get(sensor.site);
        if (!site) {
          site = { online: 0, stale: 0, offline: 0, unknown: 0 };
          counts.set(sensor.site, site);
        }
        for (const node of sensor.nodes) site[node.health]++;
      }
      for (const [site, byHealth] of counts)
        for (const health of HEALTHS) this.set({ site, health }, byHealth[health]);
    },
  });
  // The agents' own counters, as their latest heartbeats carry them (summed over a sensor's nodes):
  // a counter that restarts with an agent, which rate() and increase() allow for.
  new Counter({
    name: 'hark_aggregator_sensor_dropped_packets_total',
    help: "Packets a sensor's capture lost, from its nodes' heartbeats: where=kernel (the capture buffer was full), where=agent (captured, never parsed)",
    labelNames: ['site', 'sensor', 'where'],
    registers: [registry],
    collect() {
      this.reset();
      for (const sensor of fleet.list()) {
        this.inc({ site: sensor.site, sensor: sensor.sensor, where: 'kernel' }, sensor.capture.kernelDrops);
        this.inc({ site: sensor.site, sensor: sensor.sensor, where: 'agent' }, sensor.capture.agentDrops);
      }
    },
  });
}
