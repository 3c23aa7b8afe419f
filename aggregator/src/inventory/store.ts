// The merged device inventory, in memory. One device seen by several sensors
// of a site becomes one record (see merge.ts); sites and zones never mix
// (see device-id.ts). This is the live view the API serves; the journal
// (durability/) makes it durable.
import type { AttributeName, DeviceRecord } from '@hark/contracts/inventory';
import type { InventoryMessage } from '@hark/contracts/mqtt';
import { deviceKey, deviceKeyPrefix, deviceKeyWithin } from './device-id.js';
import { later, type MergedView, mergeInto, type Observation } from './merge.js';
import { type DeviceQuery, queryDevices } from './query.js';

/**
 * Hears of each record applied: the aggregator's id of its device, the
 * agents' id, the same sensor node's previous record, whether the device is
 * new, and the protocols a control device was never heard speaking before.
 */
export type RecordListener = (
  device: string,
  deviceId: string,
  previous: DeviceRecord | undefined,
  record: DeviceRecord,
  created: boolean,
  newProtocols: readonly string[] | undefined,
) => void;

/** Categories whose devices' protocols are remembered (see Entry.protocolsSeen). */
const CONTROL_CATEGORIES = new Set(['ot', 'bms']);

export interface Device extends MergedView {
  /** The aggregator's id: site (+ zone) + the agent's device id. */
  id: string;
  site: string;
  zone?: string;
  /** The id the agents use within the site, e.g. "mac:00:11:22:33:44:55". */
  deviceId: string;
}

export interface StoredDevice {
  site: string;
  zone?: string;
  deviceId: string;
  observations: Observation[];
  protocolsSeen?: string[];
}

interface Entry {
  id: string;
  site: string;
  zone: string | undefined;
  deviceId: string;
  /** Latest record per capture point, keyed "<sensor>/<node>". */
  observations: Map<string, Observation>;
  /**
   * For a control device (OT, BMS): every protocol any sensor ever heard it
   * speak. A record lists what its agent heard since the agent started, so
   * after an agent restart its protocols come back one by one; only this
   * union tells a protocol that comes back from one never heard before.
   */
  protocolsSeen: string[] | undefined;
  /**
   * The merged device, built when first read after a change: a device is
   * updated far more often than it is read (every delta of every sensor, vs
   * an API call), and merging on every update was a third of the ingest
   * thread's time in the mqtt-throughput bench.
   */
  view: Device | undefined;
}

export interface ApplyResult {
  created: number;
  updated: number;
  /** Records older than what the same capture point already reported (redelivered or reordered messages). */
  ignored: number;
}

export class InventoryStore {
  private readonly devices = new Map<string, Entry>();

  get size(): number {
    return this.devices.size;
  }

  /**
   * Folds one inventory message from `<site>.<sensor>/<node>` into the
   * inventory; `listener` hears of every record applied (the alerts).
   */
  apply(
    origin: { site: string; sensor: string; node: string },
    message: InventoryMessage,
    listener?: RecordListener,
  ): ApplyResult {
    const result: ApplyResult = { created: 0, updated: 0, ignored: 0 };
    const observer = `${origin.sensor}/${origin.node}`;
    const prefix = deviceKeyPrefix(origin.site, message.zone);
    for (const record of message.devices) {
      const outcome = this.upsert(origin, observer, message.zone, prefix, record, listener);
      result[outcome] += 1;
    }
    // Snapshot and delta both upsert. A device missing from a snapshot is not
    // deleted: it ages by lastSeen, and retention is a policy for later.
    return result;
  }

  private upsert(
    origin: { site: string; sensor: string; node: string },
    observer: string,
    zone: string | undefined,
    keyPrefix: string,
    record: DeviceRecord,
    listener: RecordListener | undefined,
  ): keyof ApplyResult {
    const id = deviceKeyWithin(keyPrefix, record.id);
    let entry = this.devices.get(id);
    const created = !entry;
    if (!entry) {
      entry = {
        id,
        site: origin.site,
        zone,
        deviceId: record.id,
        observations: new Map(),
        protocolsSeen: undefined,
        view: undefined,
      };
      this.devices.set(id, entry);
    }
    const previous = entry.observations.get(observer);
    // QoS 1 redelivers and reconnects reorder: never let an older record replace a newer one.
    if (previous && later(previous.record.lastSeen, record.lastSeen)) return 'ignored';
    entry.observations.set(observer, { sensor: origin.sensor, node: origin.node, record });
    entry.view = undefined;
    const newProtocols = rememberProtocols(entry, record);
    listener?.(id, record.id, previous?.record, record, created, newProtocols);
    return created ? 'created' : 'updated';
  }

  /** Everything the store knows, as plain data (the aggregator's compacted state). */
  exportState(): StoredDevice[] {
    return [...this.devices.values()].map((e) => ({
      site: e.site,
      ...(e.zone !== undefined ? { zone: e.zone } : {}),
      deviceId: e.deviceId,
      observations: [...e.observations.values()],
      // Copied: it grows in place, while the records are replaced, never changed (see ingest/state-text.ts).
      ...(e.protocolsSeen ? { protocolsSeen: [...e.protocolsSeen] } : {}),
    }));
  }

  /** Restores what exportState returned (replacing any device of the same id). */
  importState(devices: StoredDevice[]): void {
    for (const d of devices) {
      if (d.observations.length === 0) continue;
      const id = deviceKey(d.site, d.zone, d.deviceId);
      const observations = new Map(d.observations.map((o) => [`${o.sensor}/${o.node}`, o]));
      this.devices.set(id, {
        id,
        site: d.site,
        zone: d.zone,
        deviceId: d.deviceId,
        observations,
        protocolsSeen: d.protocolsSeen,
        view: undefined,
      });
    }
  }

  get(id: string): Device | undefined {
    const entry = this.devices.get(id);
    return entry && viewOf(entry);
  }

  all(): IterableIterator<Device> {
    return (function* (entries) {
      for (const entry of entries) yield viewOf(entry);
    })(this.devices.values());
  }

  query(query: DeviceQuery, maxLimit?: number): { items: Device[]; total: number } {
    return queryDevices(this.all(), query, maxLimit);
  }

  /** Device counts per site (and per zone within it). */
  siteSummaries(): Map<string, { devices: number; zones: Map<string, number> }> {
    const sites = new Map<string, { devices: number; zones: Map<string, number> }>();
    for (const entry of this.devices.values()) {
      let site = sites.get(entry.site);
      if (!site) {
        site = { devices: 0, zones: new Map() };
        sites.set(entry.site, site);
      }
      site.devices += 1;
      if (entry.zone !== undefined) site.zones.set(entry.zone, (site.zones.get(entry.zone) ?? 0) + 1);
    }
    return sites;
  }
}

/**
 * Adds the record's protocols to a control device's remembered ones; returns
 * those it adds, undefined when none (or the device is not a control one). A
 * device first known as a control one starts from what all its sensors report
 * now: that is its baseline, not news.
 */
function rememberProtocols(entry: Entry, record: DeviceRecord): string[] | undefined {
  const seen = entry.protocolsSeen;
  if (!seen) {
    const category = record.category?.value;
    if (category === undefined || !CONTROL_CATEGORIES.has(category)) return undefined;
    const all = new Set<string>();
    for (const o of entry.observations.values()) for (const p of o.record.protocols) all.add(p);
    entry.protocolsSeen = [...all];
    return undefined;
  }
  let added: string[] | undefined;
  for (const p of record.protocols)
    if (!seen.includes(p)) {
      seen.push(p);
      added ??= [];
      added.push(p);
    }
  return added;
}

/** The merged device (its identity, then the merge of its observations), built on first read. */
function viewOf(entry: Entry): Device {
  if (entry.view) return entry.view;
  const { id, site, zone, deviceId, observations } = entry;
  const head: Pick<Device, 'id' | 'site' | 'zone' | 'deviceId'> =
    zone !== undefined ? { id, site, zone, deviceId } : { id, site, deviceId };
  const list = observations.size === 1 ? [observations.values().next().value!] : [...observations.values()];
  entry.view = mergeInto(head, list);
  return entry.view;
}

export type { AttributeName };
