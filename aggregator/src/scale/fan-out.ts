// The sharded forms of the API's reads: a device or alert list merged from
// every shard's first matches, lists concatenated, one device asked of its owner.
import {
  DEFAULT_LIMIT,
  type DeviceQuery,
  deviceOrder,
  MAX_LIMIT,
  MAX_RESULT_WINDOW,
  parseSort,
  type Sortable,
} from '../inventory/query.js';
import type { PeerAnswer, ShardPeers, UnavailableShard } from './peers.js';

/** Thrown for a query a sharded aggregator will not answer; the route turns it into a 400. */
export class ShardedQueryError extends Error {}

export interface ShardedList<T> {
  items: T[];
  total: number;
  /** Shards whose replica did not answer: their sites are missing from `items` and `total`. */
  unavailable?: UnavailableShard[];
}

/**
 * One page of the devices matching `query` across every shard: each shard's
 * first offset + limit matches in the same order, merged, then the page cut
 * from the merge, as Elasticsearch pages a query across its shards.
 */
export async function shardedDevices<T extends Sortable>(
  peers: ShardPeers,
  query: DeviceQuery,
  local: (query: DeviceQuery, maxLimit: number) => { items: T[]; total: number },
): Promise<ShardedList<T>> {
  const { field, descending } = parseSort(query.sort);
  return shardedPage(peers, '/api/v1/devices', query, local, deviceOrder(field, descending));
}

/**
 * One page of a paged list every shard holds part of (devices, alerts), by
 * the same scatter-gather: `order` must be the order each shard pages in.
 */
export async function shardedPage<T, Q extends { offset?: number; limit?: number }>(
  peers: ShardPeers,
  path: string,
  query: Q,
  local: (query: Q, maxLimit: number) => { items: T[]; total: number },
  order: (a: T, b: T) => number,
): Promise<ShardedList<T>> {
  const offset = query.offset ?? 0;
  const limit = Math.min(MAX_LIMIT, query.limit ?? DEFAULT_LIMIT);
  const window = offset + limit;
  if (window > MAX_RESULT_WINDOW)
    throw new ShardedQueryError(
      `offset + limit is ${window}: a sharded aggregator pages through the first ${MAX_RESULT_WINDOW} matches only; narrow the query with filters or text`,
    );
  const mine = local({ ...query, offset: 0, limit: window }, MAX_RESULT_WINDOW);
  const { answers, unavailable } = await peers.others((shard) =>
    firstMatches<T>(peers, shard, path, query, window),
  );
  const merged = [mine, ...answers.map((a) => a.body)];
  const items = merged.flatMap((part) => part.items).sort(order);
  return {
    items: items.slice(offset, window),
    total: merged.reduce((sum, part) => sum + part.total, 0),
    ...(unavailable.length > 0 ? { unavailable } : {}),
  };
}

/** A shard's first `window` matches, asked a page (at most MAX_LIMIT) at a time. */
async function firstMatches<T>(
  peers: ShardPeers,
  shard: number,
  path: string,
  query: object,
  window: number,
): Promise<PeerAnswer<{ items: T[]; total: number }>> {
  const items: T[] = [];
  let total = 0;
  for (let at = 0; at < window; ) {
    const page = Math.min(MAX_LIMIT, window - at);
    const answer = await peers.get<{ items: T[]; total: number }>(shard, path, {
      ...(query as Record<string, string | number | undefined>),
      offset: at,
      limit: page,
    });
    const page200 = only200(answer);
    if (!page200.ok) return page200;
    items.push(...page200.body.items);
    total = page200.body.total;
    at += page;
    if (page200.body.items.length < page || at >= total) break;
  }
  return { ok: true, status: 200, body: { items, total } };
}

/** A list every shard holds part of (sensors, sites): the parts concatenated and sorted by `key`. */
export async function shardedList<T>(
  peers: ShardPeers,
  path: string,
  query: Record<string, string | undefined>,
  mine: T[],
  key: (item: T) => string,
): Promise<{ items: T[]; unavailable?: UnavailableShard[] }> {
  const { answers, unavailable } = await peers.others(async (shard) =>
    only200(await peers.get<{ items: T[] }>(shard, path, query)),
  );
  const items = [...mine, ...answers.flatMap((a) => a.body.items)];
  items.sort((a, b) => key(a).localeCompare(key(b)));
  return { items, ...(unavailable.length > 0 ? { unavailable } : {}) };
}

/** A list request answered with anything but 200 is a failure of that shard (the peers run the same API). */
function only200<T>(answer: PeerAnswer<T>): PeerAnswer<T> {
  return answer.ok && answer.status !== 200 ? { ok: false, error: `HTTP ${answer.status}` } : answer;
}
