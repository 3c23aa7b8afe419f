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

/**
 * `a` is a later instant than `b`. Timestamps are validated RFC 3339; two in
 * UTC ("Z") of the same length have the same shape, so they compare as text,
 * which spares parsing both on every merge and every update.
 */
export function later(a: string, b: string): boolean {
  if (a.length === b.length && a.endsWith('Z') && b.endsWith('Z')) return a > b;
  return Date.parse(a) > Date.parse(b);
}

/** When the attribute was last supported by evidence; the record's lastSeen if it carries none. */
function newestEvidence(attribute: Attribute, fallback: string): string {
  const evidence = attribute.evidence;
  if (evidence.length === 0) return fallback;
  let newest = evidence[0]!.seen;
  for (let i = 1; i < evidence.length; i++) if (later(evidence[i]!.seen, newest)) newest = evidence[i]!.seen;
  return newest;
}

/** Highest confidence wins; between equals, the most recent evidence. */
export function preferAttribute(
  current: { attribute: Attribute; seen: string } | undefined,
  candidate: { attribute: Attribute; seen: string },
): boolean {
  if (!current) return true;
  if (candidate.attribute.confidence !== current.attribute.confidence) {
    return candidate.attribute.confidence > current.attribute.confidence;
  }
  return later(candidate.seen, current.seen);
}

/** The sorted union of the lists; when they are all one sorted, unique list (the common case), that list. */
const union = (lists: string[][]): string[] => {
  const first = sortedUnique(lists[0]!);
  if (lists.every((list) => sameItems(list, first))) return first;
  const all = new Set<string>();
  for (const list of lists) for (const item of list) all.add(item);
  return [...all].sort();
};

function sameItems(a: string[], b: string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

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
  for (const r of records) {
    if (later(firstSeen, r.firstSeen)) firstSeen = r.firstSeen;
    if (later(r.lastSeen, lastSeen)) lastSeen = r.lastSeen;
  }

  view.sensors = [...new Set(observations.map((o) => o.sensor))].sort();
  view.observers = observations
    .map((o) => ({ sensor: o.sensor, node: o.node, lastSeen: o.record.lastSeen }))
    .sort((a, b) => byText(a.sensor, b.sensor) || byText(a.node, b.node));
  view.macs = union(records.map((r) => r.macs));
  view.ipv4 = union(records.map((r) => r.ipv4));
  view.ipv6 = union(records.map((r) => r.ipv6));
  view.protocols = union(records.map((r) => r.protocols));
  view.firstSeen = firstSeen;
  view.lastSeen = lastSeen;

  for (const name of ATTRIBUTE_NAMES) {
    let best: { attribute: Attribute; seen: string; sensor: string } | undefined;
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
