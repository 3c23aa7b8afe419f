// The alerts the inventory raised (rules.ts) and the fleet's (fleet-watch.ts),
// kept, de-duplicated, bounded and queried; a JSON log line for each (the
// usual road into a SIEM) and counters.
//
// Learning: each sensor node's reports of devices are its baseline for a
// while after the aggregator first hears from it (--alert-learning, 24 h by
// default), and raise nothing: on its first day a node reports every device it
// can see, and a new-device alert for each would bury the ones that matter. A
// new site, a sensor added to a site, or a fresh aggregator all learn first.
// Times are the messages' receipt times, which the write-ahead log keeps, so
// replaying the log after a crash raises exactly what the first pass raised.
//
// The same finding again (a device that keeps flipping between two firmware
// versions) is one alert with a count, not a new one each time.
import { hash } from 'node:crypto';
import type { AttributeName, DeviceRecord, Evidence } from '@hark/contracts/inventory';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RecordListener } from '../inventory/store.js';
import type { Logger } from '../log.js';
import {
  type AlertKind,
  attributeChanges,
  type Finding,
  newDeviceFinding,
  newProtocolFinding,
  type Severity,
} from './rules.js';

export interface Alert {
  /** Stable: the same finding on the same device always has the same id, on every replica. */
  id: string;
  kind: AlertKind;
  severity: Severity;
  site: string;
  zone?: string;
  /** The aggregator's device id (as in /api/v1/devices/:id); absent for a sensor's own alerts. */
  device?: string;
  /** The agents' id of the device within its site. */
  deviceId?: string;
  summary: string;
  attribute?: AttributeName;
  from?: string;
  to?: string;
  evidence?: Evidence[];
  /** A new-protocol alert's protocol. */
  protocol?: string;
  /** The sensor and node whose report raised it (the first time). */
  sensor: string;
  node: string;
  firstAt: string;
  lastAt: string;
  count: number;
  /** Someone took note of it (the API's acknowledge); cleared when it is raised again. */
  acknowledged?: Acknowledgement;
}

export interface Acknowledgement {
  /** When, RFC 3339. */
  at: string;
  /** Who: the Kubernetes user the API's token named ("anonymous" with API authentication off). */
  by: string;
  comment?: string;
}

export interface AlertQuery {
  site?: string;
  zone?: string;
  kind?: AlertKind;
  severity?: Severity;
  device?: string;
  /** Only alerts whose lastAt is after this instant (RFC 3339). */
  since?: string;
  /** Only acknowledged alerts (true), or only open ones (false). */
  acknowledged?: boolean;
  limit?: number;
  offset?: number;
}

/** How far the alert webhook got (alerts/webhook.ts): every alert raised up to `lastAt`, those at it by id. */
export interface DeliveryCursor {
  lastAt: string;
  ids: string[];
}

export interface AlertState {
  alerts: Alert[];
  /** Absent before the webhook first delivered, or in an older aggregator's state: deliver every held alert. */
  delivered?: DeliveryCursor;
  /** Per sensor node ("<site>.<sensor>/<node>"), when the aggregator first heard from it (ms). */
  observers: [string, number][];
  /** The sensor nodes a sensor-down alert was raised for, not yet back (fleet-watch.ts). */
  down?: string[];
}

/** What a rule found, ready to be kept: `key` names the finding, the same each time it recurs. */
interface Raised {
  key: string;
  kind: AlertKind;
  severity: Severity;
  origin: Origin;
  zone?: string | undefined;
  device?: string;
  deviceId?: string;
  summary: () => string;
  attribute?: AttributeName;
  from?: string;
  to?: string;
  evidence?: Evidence[];
  protocol?: string;
  at: number;
}

export interface AlertStoreOptions {
  /** How long a sensor node's reports are its baseline and raise nothing; 0 raises from the first. */
  learningMs: number;
  /** Alerts kept; beyond, the least recently raised are dropped (counted). Default 100,000. */
  maxAlerts?: number;
  logger: Logger;
  registry?: Registry;
}

export type Origin = { site: string; sensor: string; node: string };

const DEFAULT_MAX_ALERTS = 100_000;

export class AlertStore {
  /** By id, least recently raised first: a recurrence moves an alert to the end. */
  private readonly alerts = new Map<string, Alert>();
  private readonly since = new Map<string, number>();
  private readonly down = new Set<string>();
  private readonly maxAlerts: number;
  private readonly log: Logger;
  private readonly raisedTotal: Counter<'kind' | 'severity'>;
  private readonly dropped: Counter;
  /** While the write-ahead log is replayed: what is raised again was logged the first time. */
  replaying = false;
  /** What the alert webhook delivered (alerts/webhook.ts), kept in the saved state. */
  delivered: DeliveryCursor | undefined;

  constructor(private readonly options: AlertStoreOptions) {
    this.maxAlerts = options.maxAlerts ?? DEFAULT_MAX_ALERTS;
    this.log = options.logger.child({ module: 'alerts' });
    const registers = options.registry ? [options.registry] : [];
    this.raisedTotal = new Counter({
      name: 'hark_aggregator_alerts_total',
      help: 'Alerts raised, by kind and severity (a recurrence of a held alert counts again)',
      labelNames: ['kind', 'severity'] as const,
      registers,
    });
    this.dropped = new Counter({
      name: 'hark_aggregator_alerts_dropped_total',
      help: 'Alerts dropped, least recently raised first, to keep the held alerts within their bound',
      registers,
    });
    const alerts = this.alerts;
    new Gauge({
      name: 'hark_aggregator_alerts_held',
      help: 'Alerts held (served by /api/v1/alerts)',
      registers,
      collect() {
        this.set(alerts.size);
      },
    });
  }

  get size(): number {
    return this.alerts.size;
  }

  /**
   * The listener for the records of one inventory message from `origin`,
   * received at `receivedAt` (ms); undefined while the node is learning, so
   * that a baseline costs the ingest nothing per record.
   */
  watch(origin: Origin, zone: string | undefined, receivedAt: number): RecordListener | undefined {
    const observer = observerOf(origin);
    let since = this.since.get(observer);
    if (since === undefined) {
      since = receivedAt;
      this.since.set(observer, since);
    }
    if (receivedAt < since + this.options.learningMs) return undefined;
    const findings: Finding[] = [];
    return (device, deviceId, previous, record, created, newProtocols) => {
      if (created) findings.push(newDeviceFinding(record));
      else if (previous) attributeChanges(previous, record, findings);
      if (newProtocols) for (const protocol of newProtocols) findings.push(newProtocolFinding(protocol));
      if (findings.length === 0) return;
      for (const finding of findings)
        this.raise({
          ...finding,
          key: findingKey(device, finding),
          origin,
          zone,
          device,
          deviceId,
          summary: () => summarize(record, deviceId, finding),
          at: receivedAt,
        });
      findings.length = 0;
    };
  }

  /**
   * A sensor node stopped reporting (fleet-watch.ts): raised once per outage,
   * counted again at the next one. False when it was already down.
   */
  nodeDown(origin: Origin, summary: string, at: number): boolean {
    const observer = observerOf(origin);
    if (this.down.has(observer)) return false;
    this.down.add(observer);
    this.raise({
      key: `${observer}|sensor-down`,
      kind: 'sensor-down',
      severity: 'high',
      origin,
      summary: () => summary,
      at,
    });
    return true;
  }

  /** The node reports again: its next outage is raised. */
  nodeUp(origin: Origin): void {
    this.down.delete(observerOf(origin));
  }

  /** A node's certificate nears its expiry: raised once per certificate (`notAfter`). */
  certificateExpiring(origin: Origin, notAfter: string, summary: string, at: number): void {
    const key = `${observerOf(origin)}|certificate-expiring|${notAfter}`;
    if (this.alerts.has(alertId(key))) return;
    this.raise({ key, kind: 'certificate-expiring', severity: 'medium', origin, summary: () => summary, at });
  }

  private raise(raised: Raised): void {
    const { key, kind, severity, origin, zone, at } = raised;
    const id = alertId(key);
    const when = new Date(at).toISOString();
    this.raisedTotal.inc({ kind, severity });
    const held = this.alerts.get(id);
    if (held) {
      held.lastAt = when;
      held.count += 1;
      if (raised.evidence) held.evidence = raised.evidence;
      this.alerts.delete(id);
      this.alerts.set(id, held);
      // What was taken note of has happened again: it is open again, and said once more.
      if (held.acknowledged) {
        delete held.acknowledged;
        if (!this.replaying) this.log.info({ alert: held }, 'alert reopened');
      }
      return;
    }
    const alert: Alert = {
      id,
      kind,
      severity,
      site: origin.site,
      ...(zone !== undefined ? { zone } : {}),
      ...(raised.device !== undefined ? { device: raised.device, deviceId: raised.deviceId! } : {}),
      summary: raised.summary(),
      ...(raised.attribute ? { attribute: raised.attribute, from: raised.from!, to: raised.to! } : {}),
      ...(raised.evidence ? { evidence: raised.evidence } : {}),
      ...(raised.protocol ? { protocol: raised.protocol } : {}),
      sensor: origin.sensor,
      node: origin.node,
      firstAt: when,
      lastAt: when,
      count: 1,
    };
    this.alerts.set(id, alert);
    if (this.alerts.size > this.maxAlerts) {
      this.alerts.delete(this.alerts.keys().next().value!);
      this.dropped.inc();
    }
    if (!this.replaying) this.log.info({ alert }, 'alert');
  }

  /** The alert with this id, if held. */
  get(id: string): Alert | undefined {
    return this.alerts.get(id);
  }

  /**
   * Marks an alert as taken note of; undefined when no such alert is held.
   * Acknowledging again replaces who and why. Its next recurrence reopens it.
   */
  acknowledge(id: string, acknowledgement: Acknowledgement): Alert | undefined {
    const alert = this.alerts.get(id);
    if (!alert) return undefined;
    alert.acknowledged = { ...acknowledgement };
    if (!this.replaying)
      this.log.info(
        { alert: { id, kind: alert.kind, site: alert.site }, acknowledgement },
        'alert acknowledged',
      );
    return alert;
  }

  /** Alerts raised (first, or again) after `cursor`, oldest first: what a forwarder has not delivered. */
  raisedAfter(cursor: DeliveryCursor | undefined): Alert[] {
    const after = [...this.alerts.values()].filter(isAfter(cursor));
    return after.sort((a, b) => -alertOrder(a, b));
  }

  /** How many alerts raisedAfter(cursor) gives. */
  countRaisedAfter(cursor: DeliveryCursor | undefined): number {
    let n = 0;
    const after = isAfter(cursor);
    for (const a of this.alerts.values()) if (after(a)) n++;
    return n;
  }

  /** Matching alerts in alertOrder: most recently raised first. */
  query(query: AlertQuery, maxLimit = 1000): { items: Alert[]; total: number } {
    const offset = query.offset ?? 0;
    const limit = Math.min(query.limit ?? 100, maxLimit);
    const matches: Alert[] = [];
    const since = query.since === undefined ? undefined : new Date(query.since).toISOString();
    // Newest last in the map: walked backwards, the matches are already nearly in order, which
    // the sort (TimSort) finishes in about one pass; it settles alerts raised in the same millisecond.
    const all = [...this.alerts.values()];
    for (let i = all.length - 1; i >= 0; i--) {
      const a = all[i]!;
      if (query.site !== undefined && a.site !== query.site) continue;
      if (query.zone !== undefined && a.zone !== query.zone) continue;
      if (query.kind !== undefined && a.kind !== query.kind) continue;
      if (query.severity !== undefined && a.severity !== query.severity) continue;
      if (query.device !== undefined && a.device !== query.device) continue;
      if (since !== undefined && !(a.lastAt > since)) continue;
      if (query.acknowledged !== undefined && (a.acknowledged !== undefined) !== query.acknowledged) continue;
      matches.push(a);
    }
    matches.sort(alertOrder);
    return { items: matches.slice(offset, offset + limit), total: matches.length };
  }

  exportState(): AlertState {
    return {
      alerts: [...this.alerts.values()],
      observers: [...this.since],
      down: [...this.down],
      ...(this.delivered ? { delivered: this.delivered } : {}),
    };
  }

  /** Restores what exportState returned, keeping only the sites `owns` (every site without it). */
  importState(state: Partial<AlertState> | undefined, owns?: (site: string) => boolean): void {
    for (const alert of state?.alerts ?? []) if (!owns || owns(alert.site)) this.alerts.set(alert.id, alert);
    const mine = (observer: string) => !owns || owns(observer.slice(0, observer.indexOf('.')));
    for (const [observer, since] of state?.observers ?? [])
      if (mine(observer)) this.since.set(observer, since);
    for (const observer of state?.down ?? []) if (mine(observer)) this.down.add(observer);
    if (state?.delivered) this.delivered = state.delivered;
  }
}

/** Whether an alert was raised after the cursor: a later lastAt, or the cursor's lastAt under another id. */
function isAfter(cursor: DeliveryCursor | undefined): (a: Alert) => boolean {
  if (!cursor) return () => true;
  const at = new Set(cursor.ids);
  return (a) => a.lastAt > cursor.lastAt || (a.lastAt === cursor.lastAt && !at.has(a.id));
}

/** What names a device's finding: the same again is the same alert, recurring. */
function findingKey(device: string, finding: Finding): string {
  switch (finding.kind) {
    case 'attribute-changed':
      return `${device}|${finding.kind}|${finding.attribute}|${finding.from!.toLowerCase()}|${finding.to!.toLowerCase()}`;
    case 'new-protocol':
      return `${device}|${finding.kind}|${finding.protocol}`;
    default:
      return `${device}|${finding.kind}`;
  }
}

const observerOf = (origin: Origin): string => `${origin.site}.${origin.sensor}/${origin.node}`;

// crypto.hash, one call: a third of createHash().update().digest()'s time for a key this short.
const alertId = (key: string): string => hash('sha256', key, 'base64url').slice(0, 22);

/** The API's order of alerts, on one replica and across shards: last raised first, then by id. */
export function alertOrder(a: Pick<Alert, 'lastAt' | 'id'>, b: Pick<Alert, 'lastAt' | 'id'>): number {
  if (a.lastAt !== b.lastAt) return a.lastAt > b.lastAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const ATTRIBUTE_LABELS: Record<AttributeName, string> = {
  hostname: 'Host name',
  vendor: 'NIC vendor',
  manufacturer: 'Manufacturer',
  model: 'Model',
  firmwareVersion: 'Firmware version',
  serialNumber: 'Serial number',
  os: 'OS',
  category: 'Category',
  type: 'Type',
};

/** One line a person reads in a list: what happened, to which device (a sensor's alerts bring their own). */
function summarize(record: DeviceRecord, deviceId: string, finding: Finding): string {
  const address = record.ipv4[0] ?? record.ipv6[0] ?? deviceId;
  const name = finding.attribute === 'hostname' ? address : (record.hostname?.value ?? address);
  const model = record.model?.value;
  const device = model && finding.attribute !== 'model' ? `${name} (${model})` : name;
  if (finding.kind === 'new-device') return `New device ${device}`;
  if (finding.kind === 'new-protocol')
    return `${device} speaks ${finding.protocol}, a protocol no sensor heard from it before`;
  return `${ATTRIBUTE_LABELS[finding.attribute!]} of ${device} changed from ${finding.from} to ${finding.to}`;
}
