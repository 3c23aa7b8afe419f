// Alerts about the sensors themselves: a node that stopped reporting is a blind
// spot (its connection dropped, announced by the broker's last will, or its
// heartbeats stopped), and a certificate about to expire will cut a node off
// the broker unless the operator renews it first. Judged from the fleet
// registry on a timer.
//
// A restarted aggregator has heard no heartbeat yet, and its saved fleet
// dates from before the restart: silence is not judged until one stale period
// after start-up, so a restart does not raise an outage for every sensor. The
// nodes already alerted as down are in the saved state, so an outage raised
// before a restart is not raised again after it.
import type { FleetRegistry } from '../fleet/registry.js';
import type { AlertStore } from './store.js';

export interface FleetWatchOptions {
  /** The fleet registry's: a node silent this long is stale. */
  staleAfterMs: number;
  /** A certificate this close to its expiry raises an alert. */
  expiryWarningMs: number;
  now?: () => number;
}

export class FleetWatch {
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly expiryWarningMs: number;

  constructor(
    private readonly fleet: FleetRegistry,
    private readonly alerts: AlertStore,
    private readonly options: FleetWatchOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.expiryWarningMs = options.expiryWarningMs;
  }

  /** How often check() should run: a few times per stale period, at least every 15 s. */
  get intervalMs(): number {
    return Math.max(250, Math.min(15_000, Math.floor(this.options.staleAfterMs / 3)));
  }

  check(): void {
    const now = this.now();
    const judgingSilence = now - this.startedAt >= this.options.staleAfterMs;
    for (const sensor of this.fleet.list())
      for (const node of sensor.nodes) {
        const origin = { site: sensor.site, sensor: sensor.sensor, node: node.node };
        const who = `Sensor ${sensor.sensor} on ${node.node} (${sensor.site})`;
        if (node.health === 'online') this.alerts.nodeUp(origin);
        else if (node.health === 'offline')
          this.alerts.nodeDown(
            origin,
            `${who} went offline: its connection to the broker dropped (the broker published its last will). Its network is not watched until it is back; check the agent's pod on ${node.node}.`,
            now,
          );
        else if (node.health === 'stale' && judgingSilence)
          this.alerts.nodeDown(
            origin,
            `${who} stopped reporting: no heartbeat since ${node.lastHeartbeat}. Its network is not watched until it is back; check the agent's pod and its connection to the broker.`,
            now,
          );
        const notAfter = node.certificateNotAfter;
        if (notAfter && Date.parse(notAfter) - now < this.expiryWarningMs)
          this.alerts.certificateExpiring(
            origin,
            notAfter,
            `${who}: its client certificate expires at ${notAfter}, and the broker will refuse it after. The operator renews certificates well before expiry: check the operator's logs and the Sensor's status.`,
            now,
          );
      }
  }
}
