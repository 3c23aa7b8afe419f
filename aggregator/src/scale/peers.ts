// The replicas of a sharded aggregator, as one API. Every replica serves the
// whole fleet: it answers for its own sites and asks its peers, over their
// HTTP API with `scope=shard`, for theirs. A peer that does not answer is
// named in the response (`unavailable`) rather than failing it, so a replica
// being rescheduled leaves its sites missing from the view, visibly, and
// nothing else.
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { describeShard, type ShardSpec, SiteOwnership } from './shards.js';

/** A peer's answer to one request, or why there is none. */
export type PeerAnswer<T> = { ok: true; status: number; body: T } | { ok: false; error: string };

export interface UnavailableShard {
  shard: number;
  error: string;
}

const LOG_EVERY_MS = 60_000;

/** The query parameter that asks a replica for its own sites only (what peers send each other). */
export const SHARD_SCOPE = { scope: 'shard' } as const;

export interface ShardPeersOptions {
  shard: ShardSpec;
  /** Every replica's HTTP base URL, by shard index (this replica's own entry is not called). */
  urls: readonly string[];
  /** Per request; default 5 s. */
  timeoutMs?: number;
  /**
   * The Authorization header to send, read per request (a projected
   * ServiceAccount token is rotated on disk): peers whose API checks access
   * (http/access.ts) must let this replica read.
   */
  authorization?: () => string | undefined;
  logger: Logger;
  registry?: Registry;
}

export class ShardPeers {
  readonly ownership: SiteOwnership;
  private readonly urls: readonly string[];
  private readonly timeoutMs: number;
  private readonly failures: Counter<'shard'>;
  private readonly log: Logger;
  private readonly loggedAt = new Map<number, number>();
  private readonly authorization: (() => string | undefined) | undefined;

  constructor(options: ShardPeersOptions) {
    this.authorization = options.authorization;
    this.ownership = new SiteOwnership(options.shard);
    if (options.urls.length !== options.shard.count)
      throw new Error(
        `${options.shard.count} shards need ${options.shard.count} peer URLs (one per shard, this replica's included), got ${options.urls.length}`,
      );
    for (const url of options.urls) {
      const parsed = URL.canParse(url) ? new URL(url) : undefined;
      if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
        throw new Error(`peer URL "${url}" is not an http(s) URL`);
    }
    this.urls = options.urls.map((u) => u.replace(/\/+$/, ''));
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.log = options.logger.child({ module: 'peers' });
    this.failures = new Counter({
      name: 'hark_aggregator_peer_failures_total',
      help: "Requests to another shard's replica that failed (unreachable, timed out, or an error status)",
      labelNames: ['shard'],
      registers: options.registry ? [options.registry] : [],
    });
  }

  get self(): number {
    return this.ownership.shard.index;
  }

  get count(): number {
    return this.ownership.shard.count;
  }

  /** The shard that owns a merged device id ("<site>~…"; a site is a DNS label, so it has no "~"). */
  shardOfDevice(id: string): number {
    const cut = id.indexOf('~');
    return this.ownership.shardOf(cut < 0 ? id : id.slice(0, cut));
  }

  /** GET `path` (with `query` and scope=shard) from shard `shard`'s replica. */
  async get<T>(
    shard: number,
    path: string,
    query: Record<string, string | number | undefined> = {},
  ): Promise<PeerAnswer<T>> {
    const url = new URL(this.urls[shard] + path);
    for (const [name, value] of Object.entries({ ...query, ...SHARD_SCOPE }))
      if (value !== undefined) url.searchParams.set(name, String(value));
    try {
      const authorization = this.authorization?.();
      const response = await fetch(url, {
        headers: { accept: 'application/json', ...(authorization ? { authorization } : {}) },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const body = (await response.json()) as T;
      // A 404 is an answer (no such device there); 5xx and the like are the peer failing, and so is
      // a refusal: this replica's own identity should be let in (the chart binds it to the reader Role).
      if (response.status >= 500 || response.status === 401 || response.status === 403)
        return this.failed(
          shard,
          url,
          `HTTP ${response.status}${(body as { message?: string })?.message ? `: ${(body as { message: string }).message}` : ''}`,
        );
      return { ok: true, status: response.status, body };
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      return this.failed(shard, url, cause?.message ?? (err as Error).message);
    }
  }

  /**
   * POST `body` as JSON to `path` (scope=shard) on shard `shard`'s replica,
   * with the caller's own Authorization: an action is judged by the RBAC of
   * whoever asked for it, on the replica that owns what it acts on.
   */
  async post<T>(
    shard: number,
    path: string,
    body: unknown,
    authorization: string | undefined,
  ): Promise<PeerAnswer<T>> {
    const url = new URL(this.urls[shard] + path);
    url.searchParams.set('scope', SHARD_SCOPE.scope);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          accept: 'application/json',
          'content-type': 'application/json',
          ...(authorization ? { authorization } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const answer = (await response.json()) as T;
      // The caller's refusal (401, 403) is an answer to pass on, not the peer failing.
      if (response.status >= 500) return this.failed(shard, url, `HTTP ${response.status}`);
      return { ok: true, status: response.status, body: answer };
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      return this.failed(shard, url, cause?.message ?? (err as Error).message);
    }
  }

  /** `ask(shard)` of every other shard, concurrently. */
  async others<T>(ask: (shard: number) => Promise<PeerAnswer<T>>): Promise<{
    answers: { shard: number; body: T }[];
    unavailable: UnavailableShard[];
  }> {
    const shards = Array.from({ length: this.count }, (_, i) => i).filter((i) => i !== this.self);
    const results = await Promise.all(shards.map(async (shard) => ({ shard, answer: await ask(shard) })));
    const answers: { shard: number; body: T }[] = [];
    const unavailable: UnavailableShard[] = [];
    for (const { shard, answer } of results) {
      if (answer.ok) answers.push({ shard, body: answer.body });
      else unavailable.push({ shard, error: answer.error });
    }
    return { answers, unavailable };
  }

  private failed(shard: number, url: URL, error: string): { ok: false; error: string } {
    this.failures.inc({ shard: String(shard) });
    // Once a minute per shard: a UI polling a replica whose peer is down would otherwise log on every poll.
    const now = Date.now();
    if (now - (this.loggedAt.get(shard) ?? 0) >= LOG_EVERY_MS) {
      this.loggedAt.set(shard, now);
      this.log.warn(
        { shard, peer: url.origin, error },
        `shard ${describeShard({ index: shard, count: this.count })} did not answer; its sites are missing from answers until it does`,
      );
    }
    return { ok: false, error };
  }
}
