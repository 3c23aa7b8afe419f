// Merging what several capture points report about one device. Each sensor
// node's latest record for the device is kept as an observation; the merged
// device is recomputed from all observations, so a sensor that revises a
// value (lower confidence, new hostname) replaces its own earlier claim
// instead of leaving it stuck in the merge forever.
import {
  ATTRIBUTE_NAMES,
  type Attribute,
  type AttributeName,
  type DeviceRecord,
} from '@hark/contracts/inventory';

export interface Observation {
  sensor: string;
  node: string;
  record: DeviceRecord;
}

/** An attribute as merged: the best evidence and the sensor that supplied it. */
export interface SourcedAttribute extends Attribute {
  sensor: string;
}

export interface Observer {
  sensor: string;
  node: string;
  lastSeen: string;
}

export type MergedAttributes = Partial<Record<AttributeName, SourcedAttribute>>;

export interface MergedView extends MergedAttributes {
  sensors: string[];
  observers: Observer[];
  macs: string[];
  ipv4: string[];
  ipv6: string[];
  protocols: string[];
  firstSeen: string;
  lastSeen: string;
}

/** When the attribute was last supported by evidence; the record's lastSeen if it carries none. */
function newestEvidence(attribute: Attribute, fallback: string): number {
  let newest = Number.NEGATIVE_INFINITY;
  for (const e of attribute.evidence) newest = Math.max(newest, Date.parse(e.seen));
  return Number.isFinite(newest) ? newest : Date.parse(fallback);
}

/** Highest confidence wins; between equals, the most recent evidence. */
export function preferAttribute(
  current: { attribute: Attribute; seen: number } | undefined,
  candidate: { attribute: Attribute; seen: number },
): boolean {
  if (!current) return true;
  if (candidate.attribute.confidence !== current.attribute.confidence) {
    return candidate.attribute.confidence > current.attribute.confidence;
  }
  return candidate.seen > current.seen;
}

const union = (lists: Iterable<string[]>): string[] => {
  const all = new Set<string>();
  for (const list of lists) for (const item of list) all.add(item);
  return [...all].sort();
};

/**
 * What `union([list])` gives, without a set and a sort when the list is
 * already sorted and unique, and then without a copy either: the list is the
 * record's own, and neither records nor views are ever mutated (a view is
 * rebuilt, not edited).
 */
function sortedUnique(list: string[]): string[] {
  for (let i = 1; i < list.length; i++) if (!(list[i - 1]! < list[i]!)) return [...new Set(list)].sort();
  return list;
}

export function mergeObservations(observations: readonly Observation[]): MergedView {
  return mergeInto({}, observations) as MergedView;
}

/**
 * Writes the merged view's fields onto `target` (the store's device object,
 * so the view is built without an intermediate copy). One observation, the
 * common case, takes a path without sets, sorts and repeated date parsing;
 * it gives exactly what the general path gives.
 */
export function mergeInto<T extends object>(target: T, observations: readonly Observation[]): T & MergedView {
  if (observations.length === 0) throw new Error('a device needs at least one observation');
  const view = target as T & MergedView;
  if (observations.length === 1) {
    const o = observations[0]!;
    const r = o.record;
    view.sensors = [o.sensor];
    view.observers = [{ sensor: o.sensor, node: o.node, lastSeen: r.lastSeen }];
    view.macs = sortedUnique(r.macs);
    view.ipv4 = sortedUnique(r.ipv4);
    view.ipv6 = sortedUnique(r.ipv6);
    view.protocols = sortedUnique(r.protocols);
    view.firstSeen = r.firstSeen;
    view.lastSeen = r.lastSeen;
    for (const name of ATTRIBUTE_NAMES) {
      const attribute = r[name];
      if (attribute) view[name] = { ...attribute, sensor: o.sensor };
    }
    return view;
  }

  const records = observations.map((o) => o.record);
  let firstSeen = records[0]!.firstSeen;
  let lastSeen = records[0]!.lastSeen;
  let first = Date.parse(firstSeen);
  let last = Date.parse(lastSeen);
  for (const r of records) {
    const f = Date.parse(r.firstSeen);
    const l = Date.parse(r.lastSeen);
    if (f < first) {
      first = f;
      firstSeen = r.firstSeen;
    }
    if (l > last) {
      last = l;
      lastSeen = r.lastSeen;
    }
  }

  view.sensors = [...new Set(observations.map((o) => o.sensor))].sort();
  view.observers = observations
    .map((o) => ({ sensor: o.sensor, node: o.node, lastSeen: o.record.lastSeen }))
    .sort((a, b) => a.sensor.localeCompare(b.sensor) || a.node.localeCompare(b.node));
  view.macs = union(records.map((r) => r.macs));
  view.ipv4 = union(records.map((r) => r.ipv4));
  view.ipv6 = union(records.map((r) => r.ipv6));
  view.protocols = union(records.map((r) => r.protocols));
  view.firstSeen = firstSeen;
  view.lastSeen = lastSeen;

  for (const name of ATTRIBUTE_NAMES) {
    let best: { attribute: Attribute; seen: number; sensor: string } | undefined;
    for (const o of observations) {
      const attribute = o.record[name];
      if (!attribute) continue;
      const candidate = { attribute, seen: newestEvidence(attribute, o.record.lastSeen), sensor: o.sensor };
      if (preferAttribute(best, candidate)) best = candidate;
    }
    if (best) view[name] = { ...best.attribute, sensor: best.sensor };
  }
  return view;
}
