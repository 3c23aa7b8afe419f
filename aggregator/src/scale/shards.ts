// Which replica owns a site. All of a site's messages must reach one replica:
// a device is identified within its site, and its observations from every
// sensor there, with their (runId, seq) de-duplication, merge in one place.
//
// Sites are assigned by rendezvous (highest-random-weight) hashing: each
// site goes to the shard whose hash of (site, shard) is highest. Unlike
// `hash mod N`, changing the number of shards from N to N+1 moves only the
// ~1/(N+1) of sites the new shard wins; every other site stays where its
// state already is. A replica that gives a site up drops it on its next start
// (see MessageHandler.importState); the new owner builds it from the sensors'
// next full snapshots.
import { createHash } from 'node:crypto';

export interface ShardSpec {
  /** This replica's shard, 0-based (a StatefulSet pod's ordinal). */
  index: number;
  /** How many shards the sites are spread over. */
  count: number;
}

/** "2/3" style, for logs and errors. */
export const describeShard = (shard: ShardSpec): string => `${shard.index}/${shard.count}`;

export function validateShard(shard: ShardSpec): void {
  if (!Number.isInteger(shard.count) || shard.count < 1)
    throw new Error(`the shard count must be a whole number of at least 1, not ${shard.count}`);
  if (!Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count)
    throw new Error(
      `the shard index must be between 0 and ${shard.count - 1} for ${shard.count} shards, not ${shard.index}`,
    );
}

function weight(site: string, shard: number): bigint {
  // SHA-256 rather than a small non-cryptographic hash: the weights of one site's
  // shards must be independent for the spread to be even; the per-site result is cached.
  return createHash('sha256').update(`${site}\u0000${shard}`).digest().readBigUInt64BE(0);
}

/** The shard (0 … count-1) that owns `site`. */
export function shardOfSite(site: string, count: number): number {
  let best = 0;
  let bestWeight = -1n;
  for (let shard = 0; shard < count; shard++) {
    const w = weight(site, shard);
    if (w > bestWeight) {
      best = shard;
      bestWeight = w;
    }
  }
  return best;
}

/** Answers "is this site mine?" for every message, remembering each site's answer. */
export class SiteOwnership {
  private readonly cache = new Map<string, number>();

  constructor(readonly shard: ShardSpec) {
    validateShard(shard);
  }

  shardOf(site: string): number {
    let owner = this.cache.get(site);
    if (owner === undefined) {
      owner = shardOfSite(site, this.shard.count);
      // Site names come from certificate common names, so the set is the fleet's sites; bounded anyway.
      if (this.cache.size >= 100_000) this.cache.clear();
      this.cache.set(site, owner);
    }
    return owner;
  }

  owns(site: string): boolean {
    return this.shard.count === 1 || this.shardOf(site) === this.shard.index;
  }
}
