// Filtering, text search, sorting and paging of the merged inventory. A linear
// scan: fine for the tens of thousands of devices one aggregator holds in
// memory; an index comes with the persistent store.
import type { MergedView } from './merge.js';

export interface DeviceQuery {
  site?: string;
  zone?: string;
  /** Exact (case-insensitive) matches on the merged attribute values. */
  category?: string;
  type?: string;
  vendor?: string;
  /** Free text: matched against names, vendor/model, addresses and ids. */
  q?: string;
  /** A field from SORT_FIELDS, "-" in front for descending. Default "-lastSeen". */
  sort?: string;
  limit?: number;
  offset?: number;
}

interface Queryable extends MergedView {
  id: string;
  site: string;
  zone?: string;
  deviceId: string;
}

/** What sorting reads: a merged device, or the API's JSON of one (as a peer replica returns it). */
export type Sortable = Pick<Queryable, 'id' | 'site' | 'ipv4' | 'lastSeen' | 'firstSeen' | SortedAttribute>;
type SortedAttribute = 'hostname' | 'vendor' | 'model' | 'type' | 'category';

export const SORT_FIELDS = [
  'lastSeen',
  'firstSeen',
  'site',
  'hostname',
  'vendor',
  'model',
  'type',
  'category',
  'ip',
] as const;
export type SortField = (typeof SORT_FIELDS)[number];
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/**
 * How deep a sharded query may page (offset + limit): each shard returns its
 * first offset + limit matches for the merge, so the cost grows with depth.
 * Elasticsearch bounds the same scatter-gather paging at the same 10,000
 * (index.max_result_window).
 */
export const MAX_RESULT_WINDOW = 10_000;

const lower = (value: string | undefined): string => (value ?? '').toLowerCase();

function sortKey(device: Sortable, field: SortField): string | number {
  switch (field) {
    case 'lastSeen':
    case 'firstSeen':
      return Date.parse(device[field]);
    case 'site':
      return device.site;
    case 'ip':
      return ipv4Key(device.ipv4[0]);
    default:
      return lower(device[field]?.value);
  }
}

/** Sorts IPv4 numerically; devices without one go last. */
function ipv4Key(ip: string | undefined): number {
  if (!ip) return Number.MAX_SAFE_INTEGER;
  const parts = ip.split('.').map(Number);
  return parts.length === 4 && parts.every((p) => p >= 0 && p <= 255)
    ? parts.reduce((acc, p) => acc * 256 + p, 0)
    : Number.MAX_SAFE_INTEGER;
}

function searchText(device: Queryable): string {
  return [
    device.id,
    device.hostname?.value,
    device.vendor?.value,
    device.manufacturer?.value,
    device.model?.value,
    device.os?.value,
    device.type?.value,
    device.category?.value,
    device.serialNumber?.value,
    ...device.macs,
    ...device.ipv4,
    ...device.ipv6,
    ...device.protocols,
  ]
    .filter(Boolean)
    .join('\n')
    .toLowerCase();
}

export function parseSort(sort: string | undefined): { field: SortField; descending: boolean } {
  const raw = sort ?? '-lastSeen';
  const descending = raw.startsWith('-');
  const field = (descending ? raw.slice(1) : raw) as SortField;
  if (!SORT_FIELDS.includes(field))
    throw new RangeError(`cannot sort by "${raw}": use ${SORT_FIELDS.join(', ')}`);
  return { field, descending };
}

/** `maxLimit`: MAX_LIMIT for a page of the API; up to MAX_RESULT_WINDOW for a shard's part of a sharded query. */
export function queryDevices<T extends Queryable>(
  devices: Iterable<T>,
  query: DeviceQuery,
  maxLimit = MAX_LIMIT,
): { items: T[]; total: number } {
  const { field, descending } = parseSort(query.sort);
  const terms = lower(query.q).split(/\s+/).filter(Boolean);
  const matches: T[] = [];
  for (const device of devices) {
    if (query.site && device.site !== query.site) continue;
    if (query.zone && device.zone !== query.zone) continue;
    if (query.category && lower(device.category?.value) !== lower(query.category)) continue;
    if (query.type && lower(device.type?.value) !== lower(query.type)) continue;
    if (query.vendor && lower(device.vendor?.value) !== lower(query.vendor)) continue;
    if (terms.length > 0) {
      const text = searchText(device);
      if (!terms.every((t) => text.includes(t))) continue;
    }
    matches.push(device);
  }
  matches.sort(deviceOrder(field, descending));
  const offset = Math.max(0, query.offset ?? 0);
  const limit = Math.min(maxLimit, Math.max(1, query.limit ?? DEFAULT_LIMIT));
  return { items: matches.slice(offset, offset + limit), total: matches.length };
}

/** The order of a device list: by the field, then by id, so that every replica orders ties alike. */
export function deviceOrder(field: SortField, descending: boolean): (a: Sortable, b: Sortable) => number {
  const direction = descending ? -1 : 1;
  return (a, b) => {
    const ka = sortKey(a, field);
    const kb = sortKey(b, field);
    if (ka < kb) return -direction;
    if (ka > kb) return direction;
    return a.id.localeCompare(b.id);
  };
}
